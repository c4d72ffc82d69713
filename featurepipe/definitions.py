"""The one place featurepipe's Dagster definitions are assembled."""

import os

import dagster as dg

from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.checks import asset_checks, raw_freshness_sensor
from featurepipe.defs.io_managers import ParquetIOManager, RawFileIOManager
from featurepipe.defs.jobs import featurepipe_job
from featurepipe.defs.resources import storage_from_env
from featurepipe.defs.schedules import daily_schedule
from featurepipe.defs.sensors import raw_file_sensor

storage = storage_from_env()
# The old pipeline's features_YYYYMMDD.csv, for consumers not yet moved to Parquet.
LEGACY_CSV = os.environ.get("FEATUREPIPE_LEGACY_CSV", "false").lower() in ("1", "true", "yes")


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


defs = dg.Definitions(
    assets=[build_daily_events(LEGACY_CSV, backfill_days_per_run=_days_per_run())],
    asset_checks=asset_checks,
    jobs=[featurepipe_job],
    schedules=[daily_schedule],
    sensors=[raw_file_sensor, raw_freshness_sensor],
    resources={
        "storage": storage,
        "io_manager": ParquetIOManager(storage=storage),
        "raw_io_manager": RawFileIOManager(storage=storage),
    },
)
