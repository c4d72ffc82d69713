"""The three daily assets: a thin shell around featurepipe.core."""

import math
import os
import tempfile
import time
from pathlib import Path

import dagster as dg
import pandas as pd

from featurepipe.core.features import EMPTY_FEATURES, INPUT_COLUMNS, build_features
from featurepipe.core.schemas import EventFeatures, RejectedEvents, ValidatedEvents
from featurepipe.core.validation import (
    EMPTY_EVENTS,
    EMPTY_REJECTED,
    DaySummary,
    EventValidation,
)
from featurepipe.defs.io_managers import AS_BATCHES, RawFile, by_partition, one_or_many
from featurepipe.defs.metadata import (
    PREVIEW_ROWS,
    quarantine_reasons,
    stored_table,
    table_metadata,
)
from featurepipe.defs.partitions import daily_partitions
from featurepipe.defs.resources import StorageResource
from featurepipe.storage.keys import raw_key
from featurepipe.storage.tables import StagedTable, TableWriter

GROUP = "user_events"


def _ratio_env(name: str, default: float) -> float:
    value = os.environ.get(name, str(default))
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None


class QuarantinePolicy(dg.Config):
    """How many quarantined rows a day may have: above `warn_ratio` the quarantine check
    warns; above `error_ratio` it fails and blocks the day's features. Defaults come from
    FEATUREPIPE_QUARANTINE_WARN_RATIO / _ERROR_RATIO; a run may override them in its config."""

    warn_ratio: float = _ratio_env("FEATUREPIPE_QUARANTINE_WARN_RATIO", 0.01)
    error_ratio: float = _ratio_env("FEATUREPIPE_QUARANTINE_ERROR_RATIO", 0.05)


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
    check_specs=[
        dg.AssetCheckSpec(
            "quarantine_ratio",
            asset="validated_events",
            blocking=True,
            description="Share of a day's rows that were quarantined: warns above the policy's "
            "warn_ratio, fails above error_ratio and then blocks event_features.",
        )
    ],
    **COMMON,
)
def validate_raw_events(
    context: dg.AssetExecutionContext,
    config: QuarantinePolicy,
    storage: StorageResource,
    raw_events,
):
    """Validate each raw file once, block by block, into validated and rejected rows.

    Batches go straight to staged Parquet files, so a day's memory is bounded by the block
    size; the IO manager commits the files when the outputs are yielded.
    """
    events, rejected, summaries = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="featurepipe-") as staging:
        for partition_key, raw in by_partition(context, raw_events).items():
            day_dir = Path(staging) / partition_key
            day_dir.mkdir()
            events[partition_key], rejected[partition_key], summaries[partition_key] = _validate(
                context, storage, partition_key, raw, day_dir
            )
        keys = context.partition_keys
        yield dg.Output(one_or_many(keys, events), "validated_events")
        yield dg.Output(one_or_many(keys, rejected), "rejected_events")
    yield quarantine_check(config, summaries)


def quarantine_check(
    policy: QuarantinePolicy, summaries: dict[str, DaySummary]
) -> dg.AssetCheckResult:
    """One result for the run's days, judged by the worst of them."""
    ratios = {k: round(s.quarantine_ratio, 6) for k, s in summaries.items()}
    worst = max(ratios, key=ratios.get)
    ratio = ratios[worst]
    if ratio > policy.error_ratio:
        passed, severity = False, dg.AssetCheckSeverity.ERROR
    elif ratio > policy.warn_ratio:
        passed, severity = False, dg.AssetCheckSeverity.WARN
    else:
        passed, severity = True, dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckResult(
        passed=passed,
        severity=severity,
        asset_key="validated_events",
        check_name="quarantine_ratio",
        description=f"{worst}: {ratio:.2%} of rows quarantined "
        f"(warn above {policy.warn_ratio:.2%}, fail above {policy.error_ratio:.2%})",
        metadata={
            "worst_partition": worst,
            "quarantine_ratio": ratio,
            "ratios": dg.MetadataValue.json(ratios),
            "reasons": dg.MetadataValue.json(summaries[worst].reasons),
            "warn_ratio": policy.warn_ratio,
            "error_ratio": policy.error_ratio,
        },
    )


def _validate(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    partition_key: str,
    raw: RawFile,
    staging: Path,
) -> tuple[StagedTable, StagedTable, DaySummary]:
    info = raw.info
    context.log.info(
        f"step=validate_raw_events action=get_object bucket={info.bucket} key={info.key}"
        f" size={info.size}"
    )
    started = time.perf_counter()
    events = TableWriter(staging / "validated.parquet", EMPTY_EVENTS)
    rejected = TableWriter(staging / "rejected.parquet", EMPTY_REJECTED)
    events_head, rejected_head = EMPTY_EVENTS, EMPTY_REJECTED
    with raw.open() as stream:
        validation = EventValidation(stream, source=info.uri)
        for valid, quarantined in validation.batches():
            events.write(valid)
            rejected.write(quarantined)
            events_head = _head(events_head, valid)
            rejected_head = _head(rejected_head, quarantined)
    s = validation.summary()
    seconds = time.perf_counter() - started
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
        "quarantine_reasons": quarantine_reasons(s.reasons),
        "columns_absent": dg.MetadataValue.json(s.absent_columns),
        "columns_extra": dg.MetadataValue.json(s.extra_columns),
        "bytes_read": dg.MetadataValue.int(s.bytes_read),
        "duration_seconds": dg.MetadataValue.float(round(seconds, 3)),
    }
    context.add_asset_metadata(
        {
            **counts,
            **table_metadata(events_head, s.valid, ValidatedEvents),
            "stored_table": stored_table(storage, "validated_events", partition_key),
        },
        asset_key="validated_events",
        partition_key=partition_key,
    )
    context.add_asset_metadata(
        {
            "source": counts["source"],
            "quarantine_reasons": counts["quarantine_reasons"],
            **table_metadata(rejected_head, s.quarantined, RejectedEvents),
            "stored_table": stored_table(storage, "rejected_events", partition_key),
        },
        asset_key="rejected_events",
        partition_key=partition_key,
    )
    return events.close(), rejected.close(), s


def _head(head: pd.DataFrame, batch: pd.DataFrame) -> pd.DataFrame:
    """The first rows seen so far, for the preview."""
    return head if len(head) >= PREVIEW_ROWS or batch.empty else batch.head(PREVIEW_ROWS)


@dg.asset(
    kinds={"pandas", "pandera", "parquet"},
    description="Features of record, one row per valid event in input order: the event key "
    "and `row_sum`, the sum of user_id, is_premium, event_value, amount and "
    "session_length_sec (a null counts 0.0).",
    check_specs=[
        dg.AssetCheckSpec(
            "row_sum_not_null", asset="event_features", description="No row has a null row_sum."
        ),
        dg.AssetCheckSpec(
            "one_row_per_valid_event",
            asset="event_features",
            description="Row count equals the valid rows that validated_events recorded.",
        ),
    ],
    ins={"validated_events": dg.AssetIn(metadata=AS_BATCHES)},
    **COMMON,
)
def event_features(context: dg.AssetExecutionContext, storage: StorageResource, validated_events):
    features, nulls, counts = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="featurepipe-") as staging:
        for partition_key, source in by_partition(context, validated_events).items():
            writer = TableWriter(Path(staging) / f"{partition_key}.parquet", EMPTY_FEATURES)
            head, stats = EMPTY_FEATURES, RowSumStats()
            for events in source.frames(INPUT_COLUMNS):
                frame = build_features(events)
                writer.write(frame)
                stats.add(frame["row_sum"])
                head = _head(head, frame)
            features[partition_key] = writer.close()
            nulls[partition_key] = stats.nulls
            counts[partition_key] = {
                "features": writer.rows,
                "valid_recorded": _recorded_valid(context, partition_key),
            }
            context.add_asset_metadata(
                {
                    **table_metadata(head, writer.rows, EventFeatures),
                    "stored_table": stored_table(storage, "event_features", partition_key),
                    **stats.metadata(),
                },
                partition_key=partition_key,
            )
        yield dg.Output(one_or_many(context.partition_keys, features))
    yield dg.AssetCheckResult(
        check_name="row_sum_not_null",
        passed=not any(nulls.values()),
        metadata={"null_row_sums": dg.MetadataValue.json(nulls)},
    )
    mismatched = {k: c for k, c in counts.items() if c["features"] != c["valid_recorded"]}
    yield dg.AssetCheckResult(
        check_name="one_row_per_valid_event",
        passed=not mismatched,
        metadata={"counts": dg.MetadataValue.json(counts)},
        description=f"mismatched partitions: {sorted(mismatched)}" if mismatched else None,
    )


class RowSumStats:
    """Count, mean, min, max and nulls of row_sum, gathered batch by batch."""

    def __init__(self):
        self.count, self.total, self.nulls = 0, 0.0, 0
        self.low, self.high = math.inf, -math.inf

    def add(self, row_sum: pd.Series) -> None:
        self.nulls += int(row_sum.isna().sum())
        values = row_sum.dropna()
        if not values.empty:
            self.count += len(values)
            self.total += float(values.sum())
            self.low, self.high = min(self.low, values.min()), max(self.high, values.max())

    def metadata(self) -> dict[str, dg.MetadataValue]:
        if not self.count:
            return {}
        return {
            "row_sum_mean": dg.MetadataValue.float(self.total / self.count),
            "row_sum_min": dg.MetadataValue.float(float(self.low)),
            "row_sum_max": dg.MetadataValue.float(float(self.high)),
        }


def _recorded_valid(context: dg.AssetExecutionContext, partition_key: str) -> int | None:
    """The `valid` count of the validated_events materialization this run reads."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("validated_events"), asset_partitions=[partition_key]
        ),
        limit=1,
    ).records
    if not records:
        return None
    value = records[0].asset_materialization.metadata.get("valid")
    return value.value if value is not None else None
