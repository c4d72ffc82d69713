import dagster as dg

from featurepipe.defs.partitions import daily_partitions

featurepipe_job = dg.define_asset_job(
    "featurepipe_daily",
    selection=dg.AssetSelection.groups("user_events"),
    partitions_def=daily_partitions,
    description="Validate one day of raw events and build its features.",
)
