import dagster as dg

from featurepipe.defs.assets import GROUP
from featurepipe.defs.checks import raw_freshness_checks
from featurepipe.defs.partitions import daily_partitions

featurepipe_job = dg.define_asset_job(
    "featurepipe_daily",
    # The freshness check is about the newest day, not the one a run is for: its own sensor
    # evaluates it.
    selection=dg.AssetSelection.groups(GROUP) - dg.AssetSelection.checks(*raw_freshness_checks),
    partitions_def=daily_partitions,
    description="Validate one day of raw events and build its features.",
)
