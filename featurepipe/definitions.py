"""The one place featurepipe's Dagster definitions are assembled."""

import os

import dagster as dg

from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.freshness import with_raw_file_due
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


def _days_per_run() -> int | None:
    """FEATUREPIPE_BACKFILL_DAYS_PER_RUN: unset, one run per backfill; K, runs of K days."""
    value = os.environ.get("FEATUREPIPE_BACKFILL_DAYS_PER_RUN", "")
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"FEATUREPIPE_BACKFILL_DAYS_PER_RUN must be a whole number >= 1: {value!r}"
        )
    return int(value)


def build(executor: dg.ExecutorDefinition) -> dg.Definitions:
    """Every asset, job, schedule and sensor, with `executor` for every job."""
    storage = storage_from_env()
    # The old pipeline's features_YYYYMMDD.csv, for consumers not yet moved to Parquet.
    legacy_csv = os.environ.get("FEATUREPIPE_LEGACY_CSV", "false").lower() in ("1", "true", "yes")
    pipeline = build_daily_events(legacy_csv, backfill_days_per_run=_days_per_run())
    return dg.Definitions(
        assets=[with_raw_file_due(pipeline)],
        jobs=[featurepipe_job],
        schedules=[daily_schedule],
        sensors=[raw_file_sensor],
        resources={
            "storage": storage,
            "io_manager": ParquetIOManager(storage=storage),
            "raw_io_manager": RawFileIOManager(storage=storage),
        },
        executor=executor,
    )


defs = build(IN_PROCESS_BY_DEFAULT)
