import dagster as dg

from featurepipe.defs.names import GROUP

# The pipeline and every asset downstream of it: a user's own daily assets run in the same run.
featurepipe_job = dg.define_asset_job(
    "featurepipe_daily",
    selection=dg.AssetSelection.groups(GROUP).downstream(),
    description="Validate one day of raw events, build its features, then whatever is built "
    "from them.",
)
