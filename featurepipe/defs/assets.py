"""The three daily assets: a thin shell around featurepipe.core."""

import time

import dagster as dg

from featurepipe.core.features import build_features
from featurepipe.core.validation import ValidatedDay, validate_events
from featurepipe.defs.io_managers import RawFile, by_partition, one_or_many
from featurepipe.defs.metadata import table_metadata
from featurepipe.defs.partitions import daily_partitions
from featurepipe.defs.resources import StorageResource
from featurepipe.storage.keys import raw_key

GROUP = "user_events"
COMMON = dict(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
)


@dg.asset(
    io_manager_key="raw_io_manager",
    kinds={"s3", "csv"},
    description="The day's raw event file `user_events_YYYYMMDD.csv`, as it landed in the raw "
    "bucket. Materializing checks that it exists and records its size, ETag and time.",
    **COMMON,
)
def raw_events(context: dg.AssetExecutionContext, storage: StorageResource):
    store, bucket = storage.store, storage.raw_bucket
    found = {}
    for partition_key in context.partition_keys:
        key = raw_key(partition_key)
        context.log.info(f"step=raw_events action=head_object bucket={bucket} key={key}")
        info = store.require(bucket, key)
        found[partition_key] = info
        context.add_asset_metadata(
            {
                "source": dg.MetadataValue.text(info.uri),
                "size_bytes": dg.MetadataValue.int(info.size),
                "etag": dg.MetadataValue.text(info.etag),
                "last_modified": dg.MetadataValue.timestamp(info.last_modified),
            },
            partition_key=partition_key,
        )
    return one_or_many(context.partition_keys, found)


@dg.multi_asset(
    outs={
        "validated_events": dg.AssetOut(
            kinds={"pandas", "pandera", "parquet"},
            description="Rows that pass the row contract, typed and checked by the pandera "
            "schema ValidatedEvents; `line` is where each row starts in the raw file.",
        ),
        "rejected_events": dg.AssetOut(
            kinds={"pandas", "parquet"},
            description="Quarantined rows, kept: line number, the first rule the row broke, "
            "the original record and its fields as text.",
        ),
    },
    ins={"raw_events": dg.AssetIn()},
    **COMMON,
)
def validate_raw_events(context: dg.AssetExecutionContext, raw_events):
    """Validate each raw file once, splitting it into validated and rejected rows."""
    days: dict[str, ValidatedDay] = {}
    for partition_key, raw in by_partition(context, raw_events).items():
        days[partition_key] = _validate(context, partition_key, raw)
    keys = context.partition_keys
    yield dg.Output(one_or_many(keys, {k: d.events for k, d in days.items()}), "validated_events")
    yield dg.Output(one_or_many(keys, {k: d.rejected for k, d in days.items()}), "rejected_events")


def _validate(context: dg.AssetExecutionContext, partition_key: str, raw: RawFile) -> ValidatedDay:
    info = raw.info
    context.log.info(
        f"step=validate_raw_events action=get_object bucket={info.bucket} key={info.key}"
        f" size={info.size}"
    )
    started = time.perf_counter()
    with raw.open() as stream:
        day = validate_events(stream, source=info.uri)
    seconds = time.perf_counter() - started
    s = day.summary
    context.log.info(
        f"step=validate_raw_events partition={partition_key} rows_in={s.data_lines} valid={s.valid}"
        f" quarantined={s.quarantined} blank={s.blank_lines} seconds={seconds:.3f}"
    )
    counts = {
        "source": dg.MetadataValue.text(info.uri),
        "source_etag": dg.MetadataValue.text(info.etag),
        "rows_in": dg.MetadataValue.int(s.data_lines),
        "valid": dg.MetadataValue.int(s.valid),
        "quarantined": dg.MetadataValue.int(s.quarantined),
        "blank_lines": dg.MetadataValue.int(s.blank_lines),
        "quarantine_ratio": dg.MetadataValue.float(s.quarantine_ratio),
        "quarantine_reasons": dg.MetadataValue.json(s.reasons),
        "columns_absent": dg.MetadataValue.json(s.absent_columns),
        "columns_extra": dg.MetadataValue.json(s.extra_columns),
        "bytes_read": dg.MetadataValue.int(s.bytes_read),
        "duration_seconds": dg.MetadataValue.float(round(seconds, 3)),
    }
    context.add_asset_metadata(
        {**counts, **table_metadata(day.events)},
        asset_key="validated_events",
        partition_key=partition_key,
    )
    context.add_asset_metadata(
        {
            "source": counts["source"],
            "quarantine_reasons": counts["quarantine_reasons"],
            **table_metadata(day.rejected),
        },
        asset_key="rejected_events",
        partition_key=partition_key,
    )
    return day


@dg.asset(
    kinds={"pandas", "pandera", "parquet"},
    description="Features of record, one row per valid event in input order: the event key "
    "and `row_sum`, the sum of user_id, is_premium, event_value, amount and "
    "session_length_sec (a null counts 0.0).",
    **COMMON,
)
def event_features(context: dg.AssetExecutionContext, validated_events):
    features = {}
    for partition_key, events in by_partition(context, validated_events).items():
        frame = build_features(events)
        features[partition_key] = frame
        row_sum = frame["row_sum"]
        context.add_asset_metadata(
            {
                **table_metadata(frame),
                "row_sum_mean": dg.MetadataValue.float(
                    float(row_sum.mean()) if len(frame) else 0.0
                ),
                "row_sum_min": dg.MetadataValue.float(float(row_sum.min()) if len(frame) else 0.0),
                "row_sum_max": dg.MetadataValue.float(float(row_sum.max()) if len(frame) else 0.0),
            },
            partition_key=partition_key,
        )
    return one_or_many(context.partition_keys, features)
