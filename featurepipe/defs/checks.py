"""Asset checks on stored data, beside the checks each asset records while it runs."""

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from featurepipe.core.schemas import CHECK, EventFeatures, ValidatedEvents
from featurepipe.defs.assets import event_features, validate_raw_events
from featurepipe.defs.io_managers import ParquetBatches, stored_batches
from featurepipe.defs.partitions import daily_partitions
from featurepipe.defs.resources import StorageResource

FAILURE_CASES_SHOWN = 20


def pandera_result(schema: type[pa.DataFrameModel], stored: dict[str, ParquetBatches]):
    """Validate each stored day, batch by batch; failing cases go to metadata."""
    failures = {}
    for partition_key, source in stored.items():
        cases = []
        for frame in source.frames():
            try:
                schema.validate(frame, **CHECK)
            except pa.errors.SchemaErrors as err:
                cases.append(err.failure_cases)
        if cases:
            failures[partition_key] = pd.concat(cases, ignore_index=True)
    metadata = {
        "schema": schema.__name__,
        "partitions_checked": dg.MetadataValue.json(sorted(stored)),
        "failure_cases": sum(len(c) for c in failures.values()),
    }
    for partition_key, cases in failures.items():
        shown = cases.head(FAILURE_CASES_SHOWN).astype(str)
        metadata[f"failures {partition_key}"] = dg.MetadataValue.md(shown.to_markdown(index=False))
    return dg.AssetCheckResult(passed=not failures, metadata=metadata)


def stored(context: dg.AssetCheckExecutionContext, storage: StorageResource, asset: str):
    return {k: stored_batches(storage, asset, k) for k in context.partition_keys}


@dg.asset_check(
    asset="validated_events",
    name="pandera_schema",
    partitions_def=daily_partitions,
    description="The stored table matches the pandera schema ValidatedEvents.",
)
def validated_events_schema(context: dg.AssetCheckExecutionContext, storage: StorageResource):
    return pandera_result(ValidatedEvents, stored(context, storage, "validated_events"))


@dg.asset_check(
    asset=event_features,
    name="pandera_schema",
    partitions_def=daily_partitions,
    description="The stored table matches the pandera schema EventFeatures.",
)
def event_features_schema(context: dg.AssetCheckExecutionContext, storage: StorageResource):
    return pandera_result(EventFeatures, stored(context, storage, "event_features"))


schema_change_checks = dg.build_column_schema_change_checks(
    assets=[validate_raw_events, event_features]
)

asset_checks = [
    validated_events_schema,
    event_features_schema,
    *schema_change_checks,
]
