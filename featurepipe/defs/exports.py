"""The old pipeline's output, for consumers not yet moved to Parquet: features_YYYYMMDD.csv."""

import os

import dagster as dg

from featurepipe.core.features import legacy_csv
from featurepipe.defs.assets import COMMON, event_features
from featurepipe.defs.io_managers import by_partition
from featurepipe.defs.resources import StorageResource
from featurepipe.storage.keys import legacy_features_key

ENABLED = os.environ.get("FEATUREPIPE_LEGACY_CSV", "false").lower() in ("1", "true", "yes")


@dg.asset(
    ins={"event_features": dg.AssetIn(key=event_features.key)},
    kinds={"csv", "s3"},
    description="event_features as the old DAG wrote them: `features_YYYYMMDD.csv` in the "
    "feature bucket, row_sum first, then the event key. On when FEATUREPIPE_LEGACY_CSV=true.",
    **COMMON,
)
def legacy_features_csv(
    context: dg.AssetExecutionContext, event_features, storage: StorageResource
) -> dg.MaterializeResult:
    store, bucket = storage.store, storage.feature_bucket
    for partition_key, frame in by_partition(context, event_features).items():
        key = legacy_features_key(partition_key)
        with store.staged(bucket, key) as path:
            legacy_csv(frame, path)
            size = path.stat().st_size
        context.log.info(f"step=legacy_features_csv action=put_object bucket={bucket} key={key}")
        context.add_asset_metadata(
            {
                "uri": store.uri(bucket, key),
                "bytes_written": size,
                "dagster/row_count": len(frame),
            },
            partition_key=partition_key,
        )
    return dg.MaterializeResult()
