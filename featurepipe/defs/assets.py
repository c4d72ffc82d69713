"""The daily pipeline: raw_events -> validated_events + rejected_events -> event_features.

One multi-asset step takes every day of its run through the assets on its own. A Dagster
Output records every partition of a run as materialized, so with one step per asset a range
run where one day fails would either lose every day or record the failed day as stored
(dagster-io/dagster#17836). Here each day is committed and recorded alone (an
AssetMaterialization for its partition, with its provenance), its checks are evaluated for that
day, and the step fails at the end naming every day that failed; the other days stay stored and
recorded. When every day succeeded, the step yields its outputs without events of their own, so
assets downstream of the pipeline (a user's own) run in the same run.
"""

import traceback
from collections import Counter
from contextlib import closing

import dagster as dg
import pandera.pandas as pa

from featurepipe.core.contract import ContractError
from featurepipe.core.schemas import RejectedEvents, ValidatedEvents
from featurepipe.defs.config import quarantine_policy
from featurepipe.defs.dagster_internals import output_without_events
from featurepipe.defs.day_run import (
    DayBlocked,
    DayOutcome,
    DayRun,
    History,
    Interrupted,
    NotMaterialized,
    SchemaFailed,
    Selection,
    staged_ahead,
)
from featurepipe.defs.derived import DERIVED, DerivedTable
from featurepipe.defs.metadata import definition_metadata
from featurepipe.defs.names import (
    FEATURES,
    GROUP,
    LEGACY,
    QUARANTINE_RATIO,
    RAW,
    REJECTED,
    STEP,
    VALIDATED,
    VALIDATED_SCHEMA,
)
from featurepipe.defs.partitions import daily_partitions
from featurepipe.defs.provenance import CODE_VERSION
from featurepipe.defs.resources import StorageResource
from featurepipe.settings import Settings
from featurepipe.storage import staging
from featurepipe.storage.objects import StorageError


def _spec(
    key: dg.AssetKey,
    deps: list[dg.AssetKey],
    kinds: set[str],
    description: str,
    schema: type[pa.DataFrameModel] | None = None,
):
    # skippable: a day that fails records nothing, while the other days of the run do.
    return dg.AssetSpec(
        key,
        deps=deps,
        kinds=kinds,
        description=description,
        group_name=GROUP,
        skippable=True,
        code_version=CODE_VERSION,
        metadata=definition_metadata(schema) if schema else None,
    )


def raw_spec(bucket_kind: str) -> dg.AssetSpec:
    return _spec(
        RAW,
        [],
        {bucket_kind, "csv"},
        "The day's raw event file `user_events_YYYYMMDD.csv`, as it landed in the raw bucket. "
        "Materializing checks that it exists and records its size, ETag and time; its data "
        "version is the object's ETag.",
    ).with_io_manager_key("raw_io_manager")


TABLE_SPECS = [
    _spec(
        VALIDATED,
        [RAW],
        {"pandas", "pandera", "parquet"},
        "Rows that pass the row contract, typed and checked by the pandera schema "
        "ValidatedEvents; `line` is where each row starts in the raw file.",
        ValidatedEvents,
    ),
    _spec(
        REJECTED,
        [RAW],
        {"pandas", "parquet"},
        "Quarantined rows, kept: line number, the first rule the row broke, the original "
        "record and its fields as text.",
        RejectedEvents,
    ),
]


def legacy_spec(bucket_kind: str) -> dg.AssetSpec:
    return _spec(
        LEGACY,
        [FEATURES],
        {"csv", bucket_kind},
        "event_features as the old DAG wrote them: `features_YYYYMMDD.csv` in the feature "
        "bucket, row_sum first, then the event key. Defined when FEATUREPIPE_LEGACY_CSV=true.",
    )


BASE_CHECKS = {
    QUARANTINE_RATIO: "Share of the day's rows that were quarantined: warns above the policy's "
    "warn_ratio, fails above error_ratio and then blocks that day's derived tables.",
    VALIDATED_SCHEMA: "The day's table matches the pandera schema ValidatedEvents.",
}


def asset_specs(
    derived: list[DerivedTable], legacy_csv: bool, backend: str = "local"
) -> list[dg.AssetSpec]:
    """The pipeline's assets; the badge of the files it reads and writes whole names where they
    are (`s3`, or `file` for local buckets)."""
    bucket_kind = "s3" if backend == "s3" else "file"
    tables = [_spec(t.key, [VALIDATED], set(t.kinds), t.description, t.schema) for t in derived]
    legacy = [legacy_spec(bucket_kind)] if legacy_csv else []
    return [raw_spec(bucket_kind), *TABLE_SPECS, *tables, *legacy]


def check_specs(
    partitions: dg.PartitionsDefinition, derived: list[DerivedTable]
) -> list[dg.AssetCheckSpec]:
    checks = {**BASE_CHECKS, **{k: text for t in derived for k, text in t.check_keys.items()}}
    return [
        dg.AssetCheckSpec(
            key.name,
            asset=key.asset_key,
            description=description,
            blocking=key == QUARANTINE_RATIO,
            partitions_def=partitions,
        )
        for key, description in checks.items()
    ]


# A day's own outcome, not a fault of featurepipe's: logged in one line, without a traceback.
DAY_ERRORS = (
    DayBlocked,
    NotMaterialized,
    Interrupted,
    ContractError,
    StorageError,
    SchemaFailed,
)


TABLES_LAYOUT = "<asset>/date=YYYY-MM-DD/part.parquet"  # storage/keys.asset_key_path's


def describe(err: Exception) -> str:
    return f"{type(err).__name__}: {err}"


def next_step(day: str) -> str:
    return f"dg launch --assets '*' --partition {day}"


def run_summary(outcomes: list[DayOutcome], tables: str) -> str:
    """The last lines of a run, for a person: what each day came to and what to do next."""
    counts = Counter(o.status for o in outcomes)
    valid = sum(o.valid or 0 for o in outcomes)
    quarantined = sum(o.quarantined or 0 for o in outcomes)
    lines = [
        f"summary: {len(outcomes)} day(s): "
        + ", ".join(f"{counts[s]} {s}" for s in ("stored", "skipped", "blocked", "failed"))
        + f"; rows valid={valid} quarantined={quarantined}; tables in {tables}"
    ]
    for o in outcomes:
        if o.status == "blocked":
            lines.append(
                f"  {o.day} blocked: {o.reason}; see why: featurepipe rejects {o.day}; "
                f"once the raw file is fixed: {next_step(o.day)}"
            )
        elif o.status == "failed":
            lines.append(f"  {o.day} failed: {o.reason}; once mended: {next_step(o.day)}")
        elif o.status == "skipped":
            lines.append(f"  {o.day} skipped: {o.reason}")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def days_failed(outcomes: list[DayOutcome]) -> dg.Failure:
    """The step's failure: its description names each day that failed and why."""
    failed = [o for o in outcomes if o.status in ("blocked", "failed")]
    listed = "; ".join(f"{o.day}: {o.reason}" for o in failed)
    rows = [f"| {o.day} | {o.status} | {_cell(o.reason)} | `{next_step(o.day)}` |" for o in failed]
    table = "\n".join(["| day | outcome | reason | then |", "|---|---|---|---|", *rows])
    counted = "" if len(outcomes) == 1 else f"{len(failed)} of {len(outcomes)} days failed: "
    return dg.Failure(
        description=counted + listed,
        metadata={"failed_days": dg.MetadataValue.md(table)},
    )


DEFAULTS = Settings()


def build_daily_events(
    settings: Settings = DEFAULTS, derived: list[DerivedTable] = DERIVED
) -> dg.AssetsDefinition:
    """The pipeline's multi-asset, as the settings describe it: its partitions, the quarantine
    thresholds' defaults, the legacy CSV export when it is switched on.

    A backfill is one run for its whole range, unless `backfill_days_per_run` splits it into
    runs of that many days, which the run queue then runs side by side. Within a run, the next
    `days_staged_ahead` days are staged while each day is committed (`staged_ahead`).
    """
    partitions = daily_partitions(settings.start_date, settings.end_date)
    QuarantinePolicy = quarantine_policy(
        settings.quarantine_warn_ratio, settings.quarantine_error_ratio
    )
    backfill_days_per_run = settings.backfill_days_per_run
    days_ahead = settings.days_staged_ahead
    policy = (
        dg.BackfillPolicy.multi_run(max_partitions_per_run=backfill_days_per_run)
        if backfill_days_per_run
        else dg.BackfillPolicy.single_run()
    )

    @dg.multi_asset(
        name=STEP,
        specs=asset_specs(derived, settings.legacy_csv, settings.storage_values()["backend"]),
        check_specs=check_specs(partitions, derived),
        can_subset=True,
        partitions_def=partitions,
        backfill_policy=policy,
        description="Takes each day of the run through the selected assets on its own.",
    )
    def daily_events(
        context: dg.AssetExecutionContext, config: QuarantinePolicy, storage: StorageResource
    ):
        staging.reclaim_orphans(storage.staging_dir)
        days = context.partition_keys
        selection = Selection.of(context)
        history = History.of(context, days, selection)
        outcomes: list[DayOutcome] = []
        runs = [DayRun(context, config, storage, selection, derived, history, day) for day in days]
        with closing(staged_ahead(runs, days_ahead)) as staged_days:
            for number, (run, staged) in enumerate(staged_days, 1):
                try:
                    yield from run.commit(staged)
                    outcome = _done(run)
                    context.log.info(run.line(number, len(days), outcome.status))
                except Exception as err:
                    outcome = _failed(context, run, err, number, len(days))
                outcomes.append(outcome)
        tables = storage.store.uri(storage.feature_bucket, TABLES_LAYOUT)
        context.log.info(run_summary(outcomes, tables))
        if any(o.status in ("blocked", "failed") for o in outcomes):
            raise days_failed(outcomes)
        # Every day was recorded as it was committed: these let the steps downstream run.
        for name in _outputs_read(context):
            yield output_without_events(name)

    return daily_events


def _outputs_read(context: dg.AssetExecutionContext) -> list[str]:
    """The selected outputs a step of this run reads, and every check's output (Dagster logs
    that the step did not yield one it lacks). An output no step reads is left out: each is an
    event the run records, and a run of featurepipe's assets alone has no step after this one."""
    op = context.op_execution_context
    downstream = op.job_def.dependency_structure.output_to_downstream_inputs_for_node(
        op.node_handle.name
    )
    read = {output.output_name for output, inputs in downstream.items() if inputs}
    read |= set(context.assets_def.check_specs_by_output_name)
    return [n for n in op.op_def.output_dict if n in op.selected_output_names and n in read]


def _done(run: DayRun) -> DayOutcome:
    summary = run.summary
    if run.skipped:
        return DayOutcome(run.day, "skipped", reason=run.skipped)
    return DayOutcome(
        run.day,
        "stored",
        summary.valid if summary else None,
        summary.quarantined if summary else None,
    )


def _failed(
    context: dg.AssetExecutionContext, run: DayRun, err: Exception, number: int, days: int
) -> DayOutcome:
    summary = run.summary
    status = "blocked" if isinstance(err, DayBlocked) else "failed"
    reason = describe(err)
    line = f"{run.line(number, days, status)} error={reason}"
    if not isinstance(err, DAY_ERRORS):  # a bug, not the day's own outcome
        line += "\n" + "".join(traceback.format_exception(err))
    context.log.error(line)
    return DayOutcome(
        run.day,
        status,
        summary.valid if summary else None,
        summary.quarantined if summary else None,
        reason,
    )
