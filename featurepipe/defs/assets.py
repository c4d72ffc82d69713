"""The daily pipeline: raw_events -> validated_events + rejected_events -> event_features.

One multi-asset step takes every day of its run through the assets on its own. A Dagster
Output records every partition of a run as materialized, so with one step per asset a range
run where one day fails would either lose every day or record the failed day as stored
(dagster-io/dagster#17836). Here each day is committed and recorded alone (an
AssetMaterialization for its partition), its checks are evaluated for that day, and the step
fails at the end naming every day that failed; the other days stay stored and recorded.
"""

import traceback
from contextlib import closing

import dagster as dg
import pandera.pandas as pa

from featurepipe.core.schemas import RejectedEvents, ValidatedEvents
from featurepipe.defs.config import quarantine_policy
from featurepipe.defs.day_run import DayRun, Selection, staged_ahead
from featurepipe.defs.derived import DERIVED, DerivedTable
from featurepipe.defs.metadata import definition_metadata
from featurepipe.defs.names import (
    FEATURES,
    GROUP,
    LEGACY,
    QUARANTINE_RATIO,
    RAW,
    REJECTED,
    VALIDATED,
    VALIDATED_SCHEMA,
)
from featurepipe.defs.partitions import daily_partitions
from featurepipe.defs.resources import StorageResource
from featurepipe.settings import Settings
from featurepipe.storage import staging


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
        metadata=definition_metadata(schema) if schema else None,
    )


BASE_SPECS = [
    _spec(
        RAW,
        [],
        {"s3", "csv"},
        "The day's raw event file `user_events_YYYYMMDD.csv`, as it landed in the raw bucket. "
        "Materializing checks that it exists and records its size, ETag and time.",
    ).with_io_manager_key("raw_io_manager"),
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
LEGACY_SPEC = _spec(
    LEGACY,
    [FEATURES],
    {"csv", "s3"},
    "event_features as the old DAG wrote them: `features_YYYYMMDD.csv` in the feature bucket, "
    "row_sum first, then the event key. Defined when FEATUREPIPE_LEGACY_CSV=true.",
)


BASE_CHECKS = {
    QUARANTINE_RATIO: "Share of the day's rows that were quarantined: warns above the policy's "
    "warn_ratio, fails above error_ratio and then blocks that day's derived tables.",
    VALIDATED_SCHEMA: "The day's table matches the pandera schema ValidatedEvents.",
}


def asset_specs(derived: list[DerivedTable], legacy_csv: bool) -> list[dg.AssetSpec]:
    tables = [_spec(t.key, [VALIDATED], set(t.kinds), t.description, t.schema) for t in derived]
    return [*BASE_SPECS, *tables, *([LEGACY_SPEC] if legacy_csv else [])]


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


class DaysFailed(Exception):
    """Some days of a run failed or were blocked; every other day was stored and recorded."""

    def __init__(self, failures: dict[str, str], days: int):
        self.failures = failures
        listed = "; ".join(f"{day}: {error}" for day, error in failures.items())
        super().__init__(f"{len(failures)} of {days} days failed: {listed}")


def describe(err: Exception) -> str:
    return f"{type(err).__name__}: {err}"


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
    partitions = daily_partitions(settings.start_date)
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
        name="daily_events",
        specs=asset_specs(derived, settings.legacy_csv),
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
        errors: dict[str, Exception] = {}
        runs = [DayRun(context, config, storage, selection, derived, day) for day in days]
        with closing(staged_ahead(runs, days_ahead)) as staged_days:
            for run, staged in staged_days:
                try:
                    yield from run.commit(staged)
                except Exception as err:
                    day = run.day
                    errors[day] = err
                    trace = "".join(traceback.format_exception(err))
                    context.log.error(f"partition={day} failed: {describe(err)}\n{trace}")
        if len(days) == 1 and errors:
            raise errors[days[0]]  # a one-day run fails with the day's own error, as it was
        if errors:
            raise DaysFailed({day: describe(err) for day, err in errors.items()}, len(days))

    return daily_events
