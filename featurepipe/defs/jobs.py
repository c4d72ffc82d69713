import dagster as dg

from featurepipe.defs.names import GROUP

featurepipe_job = dg.define_asset_job(
    "featurepipe_daily",
    selection=dg.AssetSelection.groups(GROUP),
    description="Validate one day of raw events and build its features.",
)
