"""The one place featurepipe's Dagster definitions are assembled, from the settings."""

import dagster as dg

from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.freshness import with_raw_file_due
from featurepipe.defs.io_managers import ParquetIOManager, RawFileIOManager
from featurepipe.defs.jobs import featurepipe_job
from featurepipe.defs.partitions import daily_partitions
from featurepipe.defs.resources import storage_resource
from featurepipe.defs.schedules import daily_schedule
from featurepipe.defs.sensors import raw_file_sensor
from featurepipe.settings import Settings

# Dagster's default executor, in-process unless a run's config asks for `multiprocess`: a
# process per step would import Dagster, pandas, pandera and pyarrow again for every step
# (about 2 s each here), which is most of a day's run. Each run is still a process of its own.
IN_PROCESS_BY_DEFAULT = dg.multi_or_in_process_executor.configured(
    lambda config: config,
    config_schema=dg.Field(
        dg.multi_or_in_process_executor.config_schema.as_field().config_type,
        default_value={"in_process": {}},
    ),
)


def build(settings: Settings, executor: dg.ExecutorDefinition) -> dg.Definitions:
    """Every asset, job, schedule and sensor, as `settings` describe them, with `executor`
    for every job."""
    storage = storage_resource(settings)
    partitions = daily_partitions(settings.start_date, settings.end_date)
    pipeline = build_daily_events(settings)
    return dg.Definitions(
        assets=[with_raw_file_due(pipeline, settings.raw_deadline_hour)],
        jobs=[featurepipe_job],
        schedules=[daily_schedule(partitions, settings.schedule_cron, settings.schedule_timezone)],
        sensors=[raw_file_sensor(partitions, settings.backfill_days_per_run)],
        resources={
            "storage": storage,
            "io_manager": ParquetIOManager(storage=storage),
            "raw_io_manager": RawFileIOManager(storage=storage),
        },
        executor=executor,
    )


SETTINGS = Settings.from_env()
defs = build(SETTINGS, IN_PROCESS_BY_DEFAULT)
# The pipeline's daily partitions: a user's own assets downstream of it share them.
partitions = daily_partitions(SETTINGS.start_date, SETTINGS.end_date)
