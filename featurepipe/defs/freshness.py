"""When a day's raw file is due: a FreshnessPolicy on raw_events.

The Dagster daemon's freshness daemon evaluates it (`dagster dev` runs one; the instance must
not set `freshness: enabled: false`), so it is never part of a run: a run of one day evaluates
nothing about another. The policy is about the asset, not a partition: it fails when raw_events
has not been materialized at all between the end of a day (00:00 UTC) and the deadline.
Since its "Passing" does not say which day arrived, raw_events carries what it means, and where
the late day shows, as metadata next to it in the UI.
"""

import datetime as dt

import dagster as dg

from featurepipe.defs.names import RAW


def raw_file_due(deadline_hour: int) -> dg.FreshnessPolicy:
    """The raw file of a day is due by `deadline_hour` (UTC) of the next day."""
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"0 {deadline_hour} * * *",
        # A day's file can only be materialized once the day has ended: the window opens at 00:00.
        lower_bound_delta=dt.timedelta(hours=deadline_hour),
        timezone="UTC",
    )


def freshness_metadata(deadline_hour: int) -> dict[str, str]:
    """What the policy's state says, in the words a person reads on raw_events' page."""
    deadline = f"{deadline_hour:02d}:00 UTC"
    return {
        "raw_file_due": f"by {deadline} the day after (the freshness policy)",
        "freshness_failing": f"no day of raw_events was materialized from 00:00 UTC to the last "
        f"{deadline} deadline, nor since: the newest day's raw file is late",
        "freshness_passing": "some day of raw_events was materialized since 00:00 UTC of the "
        "last deadline, not necessarily the newest: a run of an older day counts too (Dagster "
        "1.13 judges the asset, not each day)",
        "late_day": "the partitions bar shows it missing, or failed when a run found no file",
    }


def with_raw_file_due(pipeline: dg.AssetsDefinition, deadline_hour: int) -> dg.AssetsDefinition:
    """The pipeline's assets, raw_events with its freshness policy and what it means."""
    policy, metadata = raw_file_due(deadline_hour), freshness_metadata(deadline_hour)
    return pipeline.map_asset_specs(
        lambda spec: (
            spec.replace_attributes(freshness_policy=policy).merge_attributes(metadata=metadata)
            if spec.key == RAW
            else spec
        )
    )
