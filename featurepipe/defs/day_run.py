"""One day of a run through the selected assets: what the pipeline step does for each day."""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from contextlib import nullcontext as _local
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import pandera.pandas as pa
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,  # not exported; AssetCheckResult builds it
)

from featurepipe.core.features import legacy_csv
from featurepipe.core.quality import QuarantineJudgement, Verdict, judge_quarantine
from featurepipe.core.schemas import RejectedEvents, ValidatedEvents
from featurepipe.core.validation import EMPTY_EVENTS, EMPTY_REJECTED, DaySummary, EventValidation
from featurepipe.defs.derived import DerivedTable, Profile
from featurepipe.defs.metadata import (
    PREVIEW_ROWS,
    quarantine_reasons,
    raw_metadata,
    stored_table,
    table_metadata,
    validated_metadata,
)
from featurepipe.defs.names import (
    FEATURES,
    LEGACY,
    QUARANTINE_RATIO,
    RAW,
    REJECTED,
    VALIDATED,
    VALIDATED_SCHEMA,
)
from featurepipe.defs.schema_checks import schema_failure, schema_pass, validate_stored
from featurepipe.storage import staging
from featurepipe.storage.keys import asset_key_path, legacy_features_key, raw_key
from featurepipe.storage.objects import ObjectInfo
from featurepipe.storage.tables import (
    StagedTable,
    TableWriter,
    iter_frames,
    parquet_rows,
)
from featurepipe.storage.verified import parquet_copy


class DayBlocked(Exception):
    """The day's quarantine check failed: its features are not built."""


class NotMaterialized(LookupError):
    """A check launched on its own for a day whose asset was never materialized."""


class Interrupted(Exception):
    """The run stopped while this day was being staged ahead."""


@dataclass(frozen=True)
class Selection:
    """What the run asked of the step."""

    assets: frozenset[dg.AssetKey]
    checks: frozenset[dg.AssetCheckKey]

    @classmethod
    def of(cls, context: dg.AssetExecutionContext) -> "Selection":
        assets = frozenset(context.selected_asset_keys)
        if (VALIDATED in assets) != (REJECTED in assets):
            raise dg.DagsterInvariantViolationError(
                "validated_events and rejected_events come from one pass over the raw file: "
                "select both or neither"
            )
        return cls(assets, frozenset(context.selected_asset_check_keys))


@dataclass
class StagedValidation:
    info: ObjectInfo
    summary: DaySummary
    events: StagedTable
    rejected: StagedTable
    events_head: pd.DataFrame
    rejected_head: pd.DataFrame
    seconds: float


@dataclass
class StagedDerived:
    table: DerivedTable
    staged: StagedTable
    head: pd.DataFrame
    profile: Profile
    valid_read: int  # rows of the validated events it was built from


@dataclass
class Staged:
    """What staging a day found: its tables in a staging directory (removed on close), the
    failed checks to record, and the error that ends the day, if any."""

    files: ExitStack = field(default_factory=ExitStack)
    work: Path | None = None
    info: ObjectInfo | None = None
    validation: StagedValidation | None = None
    judgement: QuarantineJudgement | None = None
    blocked: str | None = None
    derived: list[StagedDerived] = field(default_factory=list)
    legacy: StagedTable | None = None
    failed_checks: list[tuple[dg.AssetCheckKey, dict]] = field(default_factory=list)
    error: Exception | None = None

    def close(self) -> None:
        self.files.close()


def staged_ahead(runs: list["DayRun"], ahead: int) -> Iterator[tuple["DayRun", Future[Staged]]]:
    """Each day's run with its staging, which runs on threads of their own up to `ahead` days
    ahead: the next days' raw files are read, validated and built while this day is committed
    and recorded. A run that stops removes what it staged."""
    stop = threading.Event()
    started: list[Future[Staged]] = []
    with ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="day-ahead") as pool:
        try:
            for i, run in enumerate(runs):
                while len(started) < min(i + 1 + ahead, len(runs)):
                    started.append(pool.submit(runs[len(started)].stage, stop))
                yield run, started[i]
        finally:
            stop.set()
            for future in started:
                if not future.cancel():
                    future.result().close()  # stage() keeps its errors in what it returns


class DayRun:
    """One day through the selected assets, in two parts. `stage()` reads the raw file and
    builds the day's tables in a staging directory: it writes to no bucket and records nothing,
    so it can run ahead on another thread. `commit()` then stores the tables in order and
    records each once it is stored; a day that fails before its commits stores nothing, and
    the old tables stay as they were."""

    def __init__(self, context, config, storage, selection: Selection, derived, day: str):
        self.context, self.config, self.selection, self.day = context, config, selection, day
        self.derived: list[DerivedTable] = derived
        self.storage, self.store = storage, storage.store
        self.raw_bucket, self.bucket = storage.raw_bucket, storage.feature_bucket
        self._targets: dict[dg.AssetKey, AssetCheckEvaluationTargetMaterializationData | None] = {}
        self._stop = threading.Event()
        self._read: str | None = None  # the log line of the raw file's read, made by stage()
        self._puts: list[str] = []  # key:bytes of each table committed, logged once a day
        self._deleted: list[str] = []

    def stage(self, stop: threading.Event) -> Staged:
        """The day's tables, built in a staging directory; never raises for the day's own
        errors, which commit() records and raises."""
        self._stop = stop
        staged = Staged()
        try:
            staged.work = staged.files.enter_context(staging.staging_dir(self.storage.staging_dir))
            self._stage(staged)
        except Exception as err:
            staged.error = err
        return staged

    def _stage(self, staged: Staged) -> None:
        assets, work = self.selection.assets, staged.work
        if RAW in assets or VALIDATED in assets:
            staged.info = self.store.require(self.raw_bucket, raw_key(self.day))
            self._read = (
                f"action=head_object bucket={staged.info.bucket} key={staged.info.key} "
                f"size={staged.info.size} etag={staged.info.etag}"
            )
        validation = None
        if VALIDATED in assets:
            validation = staged.validation = self._validate(staged, work)
            staged.judgement = self._judge(validation.summary.quarantine_ratio)
            if staged.judgement.verdict == Verdict.BLOCK:
                staged.blocked = f"quarantine_ratio: {staged.judgement.summary}"
        wanted = [t for t in self.derived if t.key in assets]
        if wanted and not staged.blocked:
            source = _local(validation.events.path) if validation else self._stored(VALIDATED)
            with source as path:
                for table in wanted:
                    staged.derived.append(self._derive(staged, table, path, work))
        if LEGACY in assets and not staged.blocked:
            staged.legacy = self._stage_legacy(staged, work)

    def commit(self, staging: Future[Staged]) -> Iterator:
        """Store the staged tables and record them, the day's checks with them."""
        staged = staging.result()
        try:
            yield from self._commit_day(staged)
        finally:
            staged.close()
            if self._puts or self._deleted:
                # One log line per action and day: every line is an event the run records.
                deleted = f" deleted={','.join(self._deleted)}" if self._deleted else ""
                self._log(
                    f"action=put_object bucket={self.bucket} keys={','.join(self._puts)}{deleted}"
                )

    def _commit_day(self, staged: Staged) -> Iterator:
        assets, checks = self.selection.assets, self.selection.checks
        if self._read:
            self._log(self._read)
        if RAW in assets and staged.info:
            yield self._materialization(RAW, raw_metadata(staged.info))
        for key, fields in staged.failed_checks:
            yield from self._evaluate(key, **fields)
        if staged.error:
            raise staged.error
        if staged.validation:
            yield from self._commit_validation(staged.validation, staged.judgement)
        for built in staged.derived:
            yield from self._commit_derived(built)
        if staged.blocked:
            raise DayBlocked(staged.blocked)
        if staged.legacy:
            yield from self._commit_legacy(staged.legacy)
        if not assets and checks:
            yield from self._audit()

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise Interrupted(f"{self.day}: the run stopped before this day was staged")

    def _validate(self, staged: Staged, work: Path) -> StagedValidation:
        info = staged.info
        started = time.perf_counter()
        events = TableWriter(work / "validated.parquet", EMPTY_EVENTS)
        rejected = TableWriter(work / "rejected.parquet", EMPTY_REJECTED)
        events_head, rejected_head = EMPTY_EVENTS, EMPTY_REJECTED
        try:
            with self.store.open(info.bucket, info.key, expected=info) as stream:
                validation = EventValidation(stream, source=info.uri)
                for valid, quarantined in validation.batches():
                    self._check_stop()
                    events.write(valid)
                    rejected.write(quarantined)
                    events_head = _head(events_head, valid)
                    rejected_head = _head(rejected_head, quarantined)
        except pa.errors.SchemaErrors as err:
            staged.failed_checks.append((VALIDATED_SCHEMA, schema_failure(ValidatedEvents, err)))
            raise
        summary = validation.summary()
        seconds = time.perf_counter() - started
        self._read = (
            f"action=get_object bucket={info.bucket} key={info.key} size={info.size} "
            f"etag={info.etag} rows_in={summary.data_lines} valid={summary.valid} "
            f"quarantined={summary.quarantined} quarantined_lines={summary.quarantined_lines} "
            f"blank={summary.blank_lines} seconds={seconds:.3f}"
        )
        return StagedValidation(
            info,
            summary,
            events.close(),
            rejected.close(),
            events_head,
            rejected_head,
            seconds,
        )

    def _commit_validation(self, v: StagedValidation, judgement: QuarantineJudgement):
        # Tables derived from the old validated events must not outlive them.
        downstream = [asset_key_path(t.key.path[-1], self.day) for t in self.derived]
        for key in [*downstream, legacy_features_key(self.day)]:
            if self.store.delete(self.bucket, key):
                self._deleted.append(key)
        counts = validated_metadata(v.info, v.summary, v.seconds)
        yield self._materialization(
            VALIDATED,
            {
                **counts,
                **table_metadata(v.events_head, v.summary.valid, ValidatedEvents),
                **self._commit(VALIDATED, v.events.path),
            },
        )
        yield self._materialization(
            REJECTED,
            {
                "source": counts["source"],
                "quarantine_reasons": counts["quarantine_reasons"],
                **table_metadata(v.rejected_head, v.summary.quarantined, RejectedEvents),
                **self._commit(REJECTED, v.rejected.path),
            },
        )
        yield from self._evaluate(VALIDATED_SCHEMA, **schema_pass(ValidatedEvents, v.summary.valid))
        yield from self._quarantine_evaluation(judgement, quarantine_reasons(v.summary.reasons))

    def _judge(self, ratio: float) -> QuarantineJudgement:
        return judge_quarantine(ratio, self.config.warn_ratio, self.config.error_ratio)

    def _quarantine_evaluation(self, judgement: QuarantineJudgement, reasons: dg.MetadataValue):
        severity = (
            dg.AssetCheckSeverity.WARN
            if judgement.verdict == Verdict.WARN
            else dg.AssetCheckSeverity.ERROR
        )
        yield from self._evaluate(
            QUARANTINE_RATIO,
            passed=judgement.verdict == Verdict.PASS,
            severity=severity,
            description=judgement.summary,
            metadata={
                "quarantine_ratio": judgement.ratio,
                "reasons": reasons,
                "warn_ratio": judgement.warn_ratio,
                "error_ratio": judgement.error_ratio,
            },
        )

    def _derive(self, staged: Staged, table: DerivedTable, validated: Path, work: Path):
        writer = TableWriter(work / f"{table.key.path[-1]}.parquet", table.empty)
        head, profile = table.empty, table.profile()
        try:
            for events in iter_frames(validated, table.reads):
                self._check_stop()
                frame = table.build(events)
                writer.write(frame)
                profile.add(frame)
                head = _head(head, frame)
        except pa.errors.SchemaErrors as err:
            schema_check = dg.AssetCheckKey(table.key, "pandera_schema")
            staged.failed_checks.append((schema_check, schema_failure(table.schema, err)))
            raise
        return StagedDerived(table, writer.close(), head, profile, parquet_rows(validated))

    def _commit_derived(self, d: StagedDerived):
        key = d.table.key
        yield self._materialization(
            key,
            {
                **table_metadata(d.head, d.staged.rows, d.table.schema),
                **d.profile.metadata(),
                **self._commit(key, d.staged.path),
            },
        )
        schema_check = dg.AssetCheckKey(key, "pandera_schema")
        yield from self._evaluate(schema_check, **schema_pass(d.table.schema, d.staged.rows))
        for name, fields in d.profile.evaluations(d.staged.rows, d.valid_read).items():
            yield from self._evaluate(dg.AssetCheckKey(key, name), **fields)

    def _stage_legacy(self, staged: Staged, work: Path) -> StagedTable:
        """The old DAG's CSV of the day's features: those built in this run, else the stored
        ones, written frame by frame."""
        built = [d.staged.path for d in staged.derived if d.table.key == FEATURES]
        path = work / legacy_features_key(self.day)
        with _local(built[0]) if built else self._stored(FEATURES) as features:
            rows = legacy_csv(iter_frames(features), path)
        return StagedTable(path, rows)

    def _commit_legacy(self, legacy: StagedTable):
        key = legacy_features_key(self.day)
        size = self.store.put_file(self.bucket, key, legacy.path)
        self._puts.append(f"{key}:{size}")
        yield self._materialization(
            LEGACY,
            {
                "uri": self.store.uri(self.bucket, key),
                "bytes_written": size,
                "dagster/row_count": legacy.rows,
            },
        )

    def _audit(self):
        """Checks launched on their own: read the stored tables back, which is their point
        (someone may have replaced a table since it was written)."""
        checks = self.selection.checks
        if VALIDATED_SCHEMA in checks:
            with self._stored(VALIDATED) as path:
                yield from self._evaluate(
                    VALIDATED_SCHEMA, **validate_stored(ValidatedEvents, path)
                )
        for table in self.derived:
            if any(key.asset_key == table.key for key in checks):
                yield from self._audit_derived(table)
        if QUARANTINE_RATIO in checks:
            yield from self._rejudge_quarantine()

    def _audit_derived(self, table: DerivedTable):
        with self._stored(VALIDATED) as path:
            valid_read = parquet_rows(path)
        with self._stored(table.key) as path:
            schema_check = dg.AssetCheckKey(table.key, "pandera_schema")
            if schema_check in self.selection.checks:
                yield from self._evaluate(schema_check, **validate_stored(table.schema, path))
            profile, rows = table.profile(), 0
            for frame in iter_frames(path):
                profile.add(frame)
                rows += len(frame)
        for name, fields in profile.evaluations(rows, valid_read).items():
            yield from self._evaluate(dg.AssetCheckKey(table.key, name), **fields)

    def _rejudge_quarantine(self):
        """The ratio recorded with the day's validated_events, judged by this run's policy (a
        person tightening or loosening the thresholds)."""
        records = self.context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=VALIDATED, asset_partitions=[self.day]), limit=1
        ).records
        if not records:
            raise NotMaterialized(
                f"quarantine_ratio: validated_events has no materialization for {self.day} to "
                "judge; materialize the day first"
            )
        recorded = records[0].asset_materialization.metadata
        judgement = self._judge(recorded["quarantine_ratio"].value)
        yield from self._quarantine_evaluation(judgement, recorded["quarantine_reasons"])

    def _stored(self, asset: dg.AssetKey):
        return parquet_copy(self.store, self.bucket, asset_key_path(asset.path[-1], self.day))

    def _commit(self, asset: dg.AssetKey, path: Path) -> dict:
        key = asset_key_path(asset.path[-1], self.day)
        written = self.store.put_file(self.bucket, key, path)
        self._puts.append(f"{key}:{written}")
        return {
            "stored_table": stored_table(self.storage, asset.path[-1], self.day),
            "bytes_written": dg.MetadataValue.int(written),
        }

    def _materialization(self, asset: dg.AssetKey, metadata: dict) -> dg.AssetMaterialization:
        self._targets.pop(asset, None)
        return dg.AssetMaterialization(asset_key=asset, partition=self.day, metadata=metadata)

    def _evaluate(self, key: dg.AssetCheckKey, **fields) -> Iterator[dg.AssetCheckEvaluation]:
        """The check's result for this day, when the run selected the check."""
        if key in self.selection.checks:
            yield dg.AssetCheckEvaluation(
                asset_key=key.asset_key,
                check_name=key.name,
                partition=self.day,
                # It blocks the day's features while the day is built; judged again on its
                # own, it reports and gates nothing.
                blocking=key == QUARANTINE_RATIO and VALIDATED in self.selection.assets,
                target_materialization_data=self._latest(key.asset_key),
                **fields,
            )

    def _latest(self, asset: dg.AssetKey) -> AssetCheckEvaluationTargetMaterializationData | None:
        """The day's latest materialization: what the UI shows this result against. Events
        are stored as they are yielded, so it is the one this run just recorded, if any."""
        if asset not in self._targets:
            records = self.context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[self.day]), limit=1
            ).records
            self._targets[asset] = (
                AssetCheckEvaluationTargetMaterializationData(
                    storage_id=records[0].storage_id,
                    run_id=records[0].run_id,
                    timestamp=records[0].timestamp,
                )
                if records
                else None
            )
        return self._targets[asset]

    def _log(self, message: str) -> None:
        self.context.log.info(f"step=daily_events partition={self.day} {message}")


def _head(head, frame):
    """The first rows seen so far, for the preview."""
    return head if len(head) >= PREVIEW_ROWS or frame.empty else frame.head(PREVIEW_ROWS)
