"""The one place featurepipe's Dagster definitions are assembled."""

import dagster as dg

from featurepipe.defs import exports
from featurepipe.defs.assets import event_features, raw_events, validate_raw_events
from featurepipe.defs.checks import asset_checks
from featurepipe.defs.freshness import with_raw_file_due
from featurepipe.defs.io_managers import ParquetIOManager, RawFileIOManager
from featurepipe.defs.jobs import featurepipe_job
from featurepipe.defs.resources import storage_from_env
from featurepipe.defs.schedules import daily_schedule
from featurepipe.defs.sensors import raw_file_sensor

storage = storage_from_env()

assets = [with_raw_file_due(raw_events), validate_raw_events, event_features]
if exports.ENABLED:
    assets.append(exports.legacy_features_csv)

defs = dg.Definitions(
    assets=assets,
    asset_checks=asset_checks,
    jobs=[featurepipe_job],
    schedules=[daily_schedule],
    sensors=[raw_file_sensor],
    resources={
        "storage": storage,
        "io_manager": ParquetIOManager(storage=storage),
        "raw_io_manager": RawFileIOManager(storage=storage),
    },
)
