"""When a day's raw file is due: a FreshnessPolicy on raw_events.

The Dagster daemon's freshness daemon evaluates it (`dagster dev` runs one; the instance must
not set `freshness: enabled: false`), so it is never part of a run: a run of one day evaluates
nothing about another. The policy is about the asset, not a partition: it fails when raw_events
has not been materialized at all between the end of a day (00:00 UTC) and the deadline.
"""

import datetime as dt
import os

import dagster as dg


def deadline_hour() -> int:
    value = os.environ.get("FEATUREPIPE_RAW_DEADLINE_HOUR", "6")
    hour = int(value) if value.isdigit() else -1
    if not 1 <= hour <= 23:
        raise ValueError(
            f"FEATUREPIPE_RAW_DEADLINE_HOUR must be an hour from 1 to 23, got {value!r}"
        )
    return hour


# The raw file of a day is due by this hour (UTC) of the next day.
RAW_DEADLINE_HOUR = deadline_hour()

RAW_FILE_DUE = dg.FreshnessPolicy.cron(
    deadline_cron=f"0 {RAW_DEADLINE_HOUR} * * *",
    # A day's file can only be materialized once the day has ended: the window opens at 00:00.
    lower_bound_delta=dt.timedelta(hours=RAW_DEADLINE_HOUR),
    timezone="UTC",
)


def with_raw_file_due(pipeline: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """The pipeline's assets, raw_events with its freshness policy attached."""
    return pipeline.map_asset_specs(
        lambda spec: (
            spec.replace_attributes(freshness_policy=RAW_FILE_DUE)
            if spec.key == dg.AssetKey("raw_events")
            else spec
        )
    )
