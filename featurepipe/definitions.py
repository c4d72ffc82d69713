"""The one place featurepipe's Dagster definitions are assembled."""

import dagster as dg

from featurepipe.defs import exports
from featurepipe.defs.assets import event_features, raw_events, validate_raw_events
from featurepipe.defs.checks import asset_checks, raw_freshness_sensor
from featurepipe.defs.io_managers import ParquetIOManager, RawFileIOManager
from featurepipe.defs.jobs import featurepipe_job
from featurepipe.defs.resources import storage_from_env
from featurepipe.defs.schedules import daily_schedule
from featurepipe.defs.sensors import raw_file_sensor

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


def build(executor: dg.ExecutorDefinition) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor, with `executor` for every job."""
    storage = storage_from_env()
    assets = [raw_events, validate_raw_events, event_features]
    if exports.ENABLED:
        assets.append(exports.legacy_features_csv)
    return dg.Definitions(
        assets=assets,
        asset_checks=asset_checks,
        jobs=[featurepipe_job],
        schedules=[daily_schedule],
        sensors=[raw_file_sensor, raw_freshness_sensor],
        resources={
            "storage": storage,
            "io_manager": ParquetIOManager(storage=storage),
            "raw_io_manager": RawFileIOManager(storage=storage),
        },
        executor=executor,
    )


defs = build(IN_PROCESS_BY_DEFAULT)
