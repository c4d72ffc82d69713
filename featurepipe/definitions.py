"""The one place featurepipe's Dagster definitions are assembled."""

import dagster as dg

from featurepipe.defs.assets import event_features, raw_events, validate_raw_events
from featurepipe.defs.io_managers import ParquetIOManager, RawFileIOManager
from featurepipe.defs.partitions import daily_partitions
from featurepipe.defs.resources import storage_from_env

storage = storage_from_env()

featurepipe_job = dg.define_asset_job(
    "featurepipe_daily",
    selection=dg.AssetSelection.assets(raw_events, validate_raw_events, event_features),
    partitions_def=daily_partitions,
    description="Validate one day of raw events and build its features.",
)

defs = dg.Definitions(
    assets=[raw_events, validate_raw_events, event_features],
    jobs=[featurepipe_job],
    resources={
        "storage": storage,
        "io_manager": ParquetIOManager(storage=storage),
        "raw_io_manager": RawFileIOManager(storage=storage),
    },
)
