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

from featurepipe.core.features import legacy_csv
from featurepipe.core.quality import QuarantineJudgement, Verdict, judge_quarantine
from featurepipe.core.schemas import RejectedEvents, ValidatedEvents
from featurepipe.core.validation import EMPTY_EVENTS, EMPTY_REJECTED, DaySummary, EventValidation
from featurepipe.defs.dagster_internals import check_target
from featurepipe.defs.derived import DerivedTable, Profile
from featurepipe.defs.metadata import (
    PREVIEW_ROWS,
    RATIO,
    REJECTS_SHOWN,
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
    STEP,
    VALIDATED,
    VALIDATED_SCHEMA,
)
from featurepipe.defs.provenance import (
    CODE_VERSION,
    CODE_VERSION_TAG,
    DATA_VERSION,
    INPUT_POINTER,
    INPUT_VERSION,
    Input,
    derived_version,
    tags,
)
from featurepipe.defs.records import PARENT_RUN_TAG, ROOT_RUN_TAG, latest_materializations
from featurepipe.defs.schema_checks import (
    CheckOutcome,
    schema_check,
    schema_failure,
    schema_pass,
    validate_stored,
)
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
    """A table, or a check launched on its own, needs a day's asset that was never materialized."""


class SchemaFailed(Exception):
    """A table the step built broke its pandera schema: a bug, or a rule the contract missed."""


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


@dataclass(frozen=True)
class History:
    """What the instance had recorded for the run's days before the run began, read once on the
    step's own thread, of the assets the run consults (`consulted`): each one's latest
    materialization per day, and, for a re-execution or a retry, the runs of its family."""

    latest: dict[tuple[dg.AssetKey, str], dg.EventLogRecord]
    family: frozenset[str]

    @classmethod
    def of(cls, context: dg.AssetExecutionContext, days: list[str], selection: Selection):
        family: frozenset[str] = frozenset()
        tags = context.op_execution_context.run_tags
        if PARENT_RUN_TAG in tags:
            root = tags.get(ROOT_RUN_TAG) or tags[PARENT_RUN_TAG]
            related = context.instance.get_run_ids(dg.RunsFilter(tags={ROOT_RUN_TAG: root}))
            family = frozenset({root, *related})
        latest = {
            (asset, day): record
            for asset in consulted(selection, bool(family))
            for day, record in latest_materializations(context.instance, asset, days).items()
        }
        return cls(latest, family)

    def record(self, asset: dg.AssetKey, day: str) -> dg.EventLogRecord | None:
        return self.latest.get((asset, day))


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


class Deriving:
    """One derived table being built from validated events, frame by frame, into a staged
    Parquet file, with its preview and profile."""

    def __init__(self, table: DerivedTable, work: Path, staged: "Staged", source: str):
        self.table, self.staged, self.source = table, staged, source
        self.writer = TableWriter(work / f"{table.key.path[-1]}.parquet", table.empty)
        self.head, self.profile, self.read = table.empty, table.profile(), 0

    def add(self, events: pd.DataFrame) -> None:
        try:
            frame = self.table.build(events[self.table.reads])
        except pa.errors.SchemaErrors as err:
            failure = schema_failure(self.table.schema, err)
            self.staged.failed_checks.append((schema_check(self.table.key), failure))
            raise _schema_failed(self.source, self.table.schema, err) from err
        self.writer.write(frame)
        self.profile.add(frame)
        self.head = _head(self.head, frame)
        self.read += len(events)

    def close(self) -> StagedDerived:
        return StagedDerived(self.table, self.writer.close(), self.head, self.profile, self.read)


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
    failed_checks: list[tuple[dg.AssetCheckKey, CheckOutcome]] = field(default_factory=list)
    error: Exception | None = None
    skipped: str | None = None  # why a re-execution left the day as a failed attempt stored it

    def close(self) -> None:
        self.files.close()


@dataclass(frozen=True)
class DayOutcome:
    """How a day ended, for the run's summary."""

    day: str
    status: str  # stored, skipped, blocked or failed
    valid: int | None = None
    quarantined: int | None = None
    reason: str = ""


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
    records each once it is stored, with its provenance; a day that fails before its commits
    stores and records nothing, and the old tables stay as they were."""

    def __init__(self, context, config, storage, selection: Selection, derived, history, day):
        self.context, self.config, self.selection, self.day = context, config, selection, day
        self.derived: list[DerivedTable] = derived
        self.history: History = history
        self.storage, self.store = storage, storage.store
        self.raw_bucket, self.bucket = storage.raw_bucket, storage.feature_bucket
        self._records: dict[dg.AssetKey, dg.EventLogRecord | None] = {}
        self._versions: dict[dg.AssetKey, str] = {}  # data versions recorded by this run
        self._stop = threading.Event()
        self._read: str | None = None  # what stage() read of the raw file, for the day's line
        self._etag: str | None = None  # the raw object's, as HEAD saw it
        self._puts: list[str] = []  # key:bytes of each table committed
        self._deleted: list[str] = []
        self.summary: DaySummary | None = None  # the raw file's accounting, once read
        self.skipped: str | None = None

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
            self._etag = staged.info.etag
            self._read = f"head={staged.info.uri} size={staged.info.size} etag={staged.info.etag}"
        staged.skipped = self._stored_by_family(staged.info)
        if staged.skipped:
            return
        wanted = [t for t in self.derived if t.key in assets]
        if VALIDATED in assets:
            # The derived tables are built from each frame of events as it is validated: one
            # pass over the day, and nothing read back.
            validation, derived = self._validate(staged, work, wanted)
            staged.validation = validation
            staged.judgement = self._judge(validation.summary.quarantine_ratio)
            if staged.judgement.verdict == Verdict.BLOCK:
                staged.blocked = f"quarantine_ratio: {staged.judgement.summary}"
            else:
                staged.derived = derived
        elif wanted:
            self._require_unblocked()
            staged.derived = self._derive_stored(staged, wanted, work)
        if LEGACY in assets and not staged.blocked:
            staged.legacy = self._stage_legacy(staged, work)

    def _stored_by_family(self, info: ObjectInfo | None) -> str | None:
        """Why this day need not be built again: in a re-execution or retry, every selected
        asset was already committed for the day by a run of the same family, from the raw
        object HEAD sees now and with this code version."""
        assets = self.selection.assets
        if not self.history.family or not assets:
            return None
        for asset in assets:
            record = self.history.record(asset, self.day)
            if record is None or record.run_id not in self.history.family:
                return None
            recorded = record.asset_materialization.tags or {}
            if recorded.get(CODE_VERSION_TAG) != CODE_VERSION:
                return None
            etag = recorded.get(
                DATA_VERSION if asset == RAW else INPUT_VERSION.format(RAW.to_user_string())
            )
            if asset in (RAW, VALIDATED, REJECTED) and (info is None or etag != info.etag):
                return None
            # Built from its inputs' latest records: not from validated events a later attempt
            # of the family replaced (and perhaps blocked).
            for parent in parents(asset):
                latest = self.history.record(parent, self.day)
                pointer = recorded.get(INPUT_POINTER.format(parent.to_user_string()))
                if latest is None or pointer != str(latest.storage_id):
                    return None
        run_id = self.history.record(next(iter(assets)), self.day).run_id
        return f"already stored by run {run_id} from the same raw object and code version"

    def _require_unblocked(self) -> None:
        """Derived tables built from stored validated events: only from events that passed the
        quarantine check by this run's policy (a blocking check blocks in every later run)."""
        record = self.history.record(VALIDATED, self.day)
        if record is None:
            raise NotMaterialized(
                f"validated_events has no materialization for {self.day} to build from: "
                f"materialize the day first (dg launch --assets '*' --partition {self.day})"
            )
        ratio = record.asset_materialization.metadata[RATIO].value
        judgement = self._judge(ratio)
        if judgement.verdict == Verdict.BLOCK:
            raise DayBlocked(
                f"quarantine_ratio: the stored validated_events of {self.day} failed it "
                f"({judgement.summary}); fix the raw file, then rebuild the day from it: "
                f"dg launch --assets '*' --partition {self.day}"
            )

    def commit(self, staging: Future[Staged]) -> Iterator:
        """Store the staged tables and record them, the day's checks with them."""
        staged = staging.result()
        try:
            yield from self._commit_day(staged)
        finally:
            staged.close()
            stored = {put.rpartition(":")[0] for put in self._puts}
            for key in self._deleted:
                if key not in stored:  # else the day's line shows it stored anew
                    self._log(
                        f"action=delete_object bucket={self.bucket} key={key} "
                        "reason=validated_events_replaced"
                    )

    def _commit_day(self, staged: Staged) -> Iterator:
        assets, checks = self.selection.assets, self.selection.checks
        for key, outcome in staged.failed_checks:
            yield from self._evaluate(key, outcome)
        if staged.error:
            raise staged.error
        if staged.skipped:
            self.skipped = staged.skipped
            return
        if RAW in assets and staged.info:
            yield self._materialization(RAW, raw_metadata(staged.info), staged.info.etag)
        if staged.validation:
            yield from self._commit_validation(staged.validation, staged.judgement)
        for built in staged.derived:
            yield from self._commit_derived(built)
        if staged.blocked:
            raise DayBlocked(f"{staged.info.uri}: {staged.blocked}")
        if staged.legacy:
            yield from self._commit_legacy(staged.legacy)
        if not assets and checks:
            yield from self._audit()

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise Interrupted(f"{self.day}: the run stopped before this day was staged")

    def _validate(
        self, staged: Staged, work: Path, wanted: list[DerivedTable]
    ) -> tuple[StagedValidation, list[StagedDerived]]:
        info = staged.info
        started = time.perf_counter()
        events = TableWriter(work / "validated.parquet", EMPTY_EVENTS)
        rejected = TableWriter(work / "rejected.parquet", EMPTY_REJECTED)
        derived = [Deriving(table, work, staged, info.uri) for table in wanted]
        events_head, rejected_head = EMPTY_EVENTS, EMPTY_REJECTED
        try:
            with self.store.open(info.bucket, info.key, expected=info) as stream:
                validation = EventValidation(stream, source=info.uri)
                for valid, quarantined in validation.batches():
                    self._check_stop()
                    events.write(valid)
                    rejected.write(quarantined)
                    events_head = _head(events_head, valid)
                    rejected_head = _head(rejected_head, quarantined, REJECTS_SHOWN)
                    for table in derived:
                        table.add(valid)
        except pa.errors.SchemaErrors as err:
            staged.failed_checks.append((VALIDATED_SCHEMA, schema_failure(ValidatedEvents, err)))
            raise _schema_failed(info.uri, ValidatedEvents, err) from err
        summary = self.summary = validation.summary()
        seconds = time.perf_counter() - started
        self._read = (
            f"read={info.uri} size={info.size} etag={info.etag} rows_in={summary.data_lines} "
            f"valid={summary.valid} quarantined={summary.quarantined} "
            f"quarantined_lines={summary.quarantined_lines} blank={summary.blank_lines} "
            f"seconds={seconds:.3f}"
        )
        staged_validation = StagedValidation(
            info,
            summary,
            events.close(),
            rejected.close(),
            events_head,
            rejected_head,
            seconds,
        )
        return staged_validation, [table.close() for table in derived]

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
                "all_rejects": dg.MetadataValue.text(f"featurepipe rejects {self.day}"),
            },
        )
        yield from self._evaluate(VALIDATED_SCHEMA, schema_pass(ValidatedEvents, v.summary.valid))
        yield from self._quarantine_evaluation(judgement, quarantine_reasons(v.summary.reasons))

    def _judge(self, ratio: float) -> QuarantineJudgement:
        return judge_quarantine(ratio, self.config.warn_ratio, self.config.error_ratio)

    def _quarantine_evaluation(self, judgement: QuarantineJudgement, reasons: dg.MetadataValue):
        severity = (
            dg.AssetCheckSeverity.WARN
            if judgement.verdict == Verdict.WARN
            else dg.AssetCheckSeverity.ERROR
        )
        outcome = CheckOutcome(
            passed=judgement.verdict == Verdict.PASS,
            severity=severity,
            description=judgement.summary,
            metadata={
                RATIO: judgement.ratio,
                "reasons": reasons,
                "warn_ratio": judgement.warn_ratio,
                "error_ratio": judgement.error_ratio,
            },
        )
        yield from self._evaluate(QUARANTINE_RATIO, outcome)

    def _derive_stored(
        self, staged: Staged, wanted: list[DerivedTable], work: Path
    ) -> list[StagedDerived]:
        """The derived tables built from the day's stored validated events, read once."""
        source = self.store.uri(self.bucket, asset_key_path(VALIDATED.path[-1], self.day))
        derived = [Deriving(table, work, staged, source) for table in wanted]
        reads = list(dict.fromkeys(column for table in wanted for column in table.reads))
        with self._stored(VALIDATED) as path:
            for events in iter_frames(path, reads):
                self._check_stop()
                for table in derived:
                    table.add(events)
        return [table.close() for table in derived]

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
        yield from self._evaluate(schema_check(key), schema_pass(d.table.schema, d.staged.rows))
        for name, outcome in d.profile.evaluations(d.staged.rows, d.valid_read).items():
            yield from self._evaluate(dg.AssetCheckKey(key, name), outcome)

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
                yield from self._evaluate(VALIDATED_SCHEMA, validate_stored(ValidatedEvents, path))
        for table in self.derived:
            if any(key.asset_key == table.key for key in checks):
                yield from self._audit_derived(table)
        if QUARANTINE_RATIO in checks:
            yield from self._rejudge_quarantine()

    def _audit_derived(self, table: DerivedTable):
        with self._stored(VALIDATED) as path:
            valid_read = parquet_rows(path)
        with self._stored(table.key) as path:
            if schema_check(table.key) in self.selection.checks:
                yield from self._evaluate(
                    schema_check(table.key), validate_stored(table.schema, path)
                )
            profile, rows = table.profile(), 0
            for frame in iter_frames(path):
                profile.add(frame)
                rows += len(frame)
        for name, outcome in profile.evaluations(rows, valid_read).items():
            yield from self._evaluate(dg.AssetCheckKey(table.key, name), outcome)

    def _rejudge_quarantine(self):
        """The ratio recorded with the day's validated_events, judged by this run's policy (a
        person tightening or loosening the thresholds)."""
        record = self.history.record(VALIDATED, self.day)
        if record is None:
            raise NotMaterialized(
                f"quarantine_ratio: validated_events has no materialization for {self.day} to "
                "judge; materialize the day first"
            )
        recorded = record.asset_materialization.metadata
        judgement = self._judge(recorded[RATIO].value)
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

    def _materialization(
        self, asset: dg.AssetKey, metadata: dict, etag: str | None = None
    ) -> dg.AssetMaterialization:
        """The day's materialization of `asset`, with its provenance: the raw object's ETag for
        raw_events, else a version derived from the code and the inputs it was built from."""
        inputs = {parent: self._input(parent) for parent in parents(asset)}
        version = etag or derived_version(inputs)
        self._versions[asset] = version
        self._records.pop(asset, None)
        return dg.AssetMaterialization(
            asset_key=asset,
            partition=self.day,
            metadata=metadata,
            tags=tags(version, inputs, user_provided=etag is not None),
        )

    def _input(self, asset: dg.AssetKey) -> Input:
        """An input as this day's table was built from it: recorded in this run, else the
        latest recorded before it; raw_events as the raw object HEAD saw."""
        record = self._latest(asset)
        if asset in self._versions:
            return Input(self._versions[asset], record.storage_id if record else None)
        if asset == RAW and self._etag:
            return Input(self._etag, record.storage_id if record else None)
        return Input.of(record) if record else Input("", None)

    def _evaluate(self, key: dg.AssetCheckKey, outcome: CheckOutcome):
        """The check's result for this day, when the run selected the check."""
        if key in self.selection.checks:
            target = self._latest(key.asset_key)
            yield dg.AssetCheckEvaluation(
                asset_key=key.asset_key,
                check_name=key.name,
                partition=self.day,
                # It blocks the day's features while the day is built; judged again on its
                # own, it reports and gates nothing.
                blocking=key == QUARANTINE_RATIO and VALIDATED in self.selection.assets,
                target_materialization_data=check_target(target) if target else None,
                passed=outcome.passed,
                metadata=outcome.metadata,
                severity=outcome.severity,
                description=outcome.description,
            )

    def _latest(self, asset: dg.AssetKey) -> dg.EventLogRecord | None:
        """The day's latest materialization of `asset`. Events are stored as they are yielded,
        so it is the one this run just recorded, if any."""
        if asset not in self._records:
            if asset in self._versions:
                records = self.context.instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[self.day]), limit=1
                ).records
                self._records[asset] = records[0] if records else None
            elif asset in self.selection.assets:
                # Selected and not recorded: a check that failed before its table was stored
                # has no materialization of its own to point at, not an older one.
                self._records[asset] = None
            else:
                self._records[asset] = self.history.record(asset, self.day)
        return self._records[asset]

    def line(self, number: int, days: int, outcome: str) -> str:
        """The day's one log line: its place in the run, its outcome, what was read of the raw
        file and what was stored, and why a skipped day was skipped (an error goes after it).
        One line, not one per action: each is an event the run records, and the
        materializations hold the same figures."""
        parts = [f"step={STEP} partition={self.day} day={number}/{days} outcome={outcome}"]
        if self._read:
            parts.append(self._read)
        if self._puts:
            parts.append(f"bucket={self.bucket} stored={','.join(self._puts)}")
        if self.skipped:  # free text, last
            parts.append(f"reason={self.skipped}")
        return " ".join(parts)

    def _log(self, message: str) -> None:
        self.context.log.info(f"step={STEP} partition={self.day} {message}")


# What each table is built from, for its provenance; a derived table, from validated_events.
INPUTS: dict[dg.AssetKey, tuple[dg.AssetKey, ...]] = {
    VALIDATED: (RAW,),
    REJECTED: (RAW,),
    LEGACY: (FEATURES,),
}


def parents(asset: dg.AssetKey) -> tuple[dg.AssetKey, ...]:
    """What a table is built from, for its provenance: raw_events from nothing (its version is
    the raw object's ETag), a derived table from validated_events."""
    return () if asset == RAW else INPUTS.get(asset, (VALIDATED,))


def consulted(selection: Selection, retry: bool) -> set[dg.AssetKey]:
    """The assets whose earlier records a run of `selection` reads: the inputs it does not
    rebuild (their versions and pointers go into the provenance of what it builds; stored
    validated_events' quarantine ratio, for the tables built from them), the assets of the
    checks it runs without them; in a retry, the selected assets too, to skip the days already
    stored. A run of every asset reads none: it records each input before what is built from
    it."""
    assets = selection.assets
    found = {parent for asset in assets for parent in parents(asset)}
    found |= {key.asset_key for key in selection.checks}
    found -= assets
    if retry:
        found |= assets | {parent for asset in assets for parent in parents(asset)}
    return found


def _schema_failed(source: str, schema, err: pa.errors.SchemaErrors) -> SchemaFailed:
    cases = err.failure_cases
    checks = ", ".join(sorted({str(c) for c in cases["check"].head(100)}))
    return SchemaFailed(f"{source}: {len(cases)} failure cases of {schema.__name__}: {checks}")


def _head(head: pd.DataFrame, frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> pd.DataFrame:
    """The first `rows` rows seen so far, for the preview."""
    if len(head) >= rows or frame.empty:
        return head
    more = frame.head(rows - len(head))
    return more if head.empty else pd.concat([head, more], ignore_index=True)
