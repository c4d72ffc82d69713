"""When a day's raw file is due: a FreshnessPolicy on raw_events.

The Dagster daemon's freshness daemon evaluates it (`dagster dev` runs one; the instance must
not set `freshness: enabled: false`), so it is never part of a run: a run of one day evaluates
nothing about another. The policy is about the asset, not a partition: it fails when raw_events
has not been materialized at all between the end of a day (00:00 UTC) and the deadline.
"""

import datetime as dt

import dagster as dg


def raw_file_due(deadline_hour: int) -> dg.FreshnessPolicy:
    """The raw file of a day is due by `deadline_hour` (UTC) of the next day."""
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"0 {deadline_hour} * * *",
        # A day's file can only be materialized once the day has ended: the window opens at 00:00.
        lower_bound_delta=dt.timedelta(hours=deadline_hour),
        timezone="UTC",
    )


def with_raw_file_due(pipeline: dg.AssetsDefinition, deadline_hour: int) -> dg.AssetsDefinition:
    """The pipeline's assets, raw_events with its freshness policy attached."""
    policy = raw_file_due(deadline_hour)
    return pipeline.map_asset_specs(
        lambda spec: (
            spec.replace_attributes(freshness_policy=policy)
            if spec.key == dg.AssetKey("raw_events")
            else spec
        )
    )
