"""A user's own project on top of featurepipe, written as README's "Adding your own assets" says:
its own daily asset downstream of event_features, merged with featurepipe's definitions."""

import dagster as dg

import featurepipe.definitions as featurepipe


@dg.asset(partitions_def=featurepipe.partitions, backfill_policy=dg.BackfillPolicy.single_run())
def features_per_day(context: dg.AssetExecutionContext, event_features) -> None:
    """How many feature rows each day has. A one-day run hands the day's DataFrame; a range
    run, a DataFrame per day."""
    frames = (
        event_features
        if isinstance(event_features, dict)
        else {context.partition_key: event_features}
    )
    for day, frame in frames.items():
        context.add_asset_metadata({"rows": len(frame)}, partition_key=day)


defs = dg.Definitions.merge(featurepipe.defs, dg.Definitions(assets=[features_per_day]))
