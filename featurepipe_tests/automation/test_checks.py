"""Asset checks through Dagster itself, evaluated per day: the blocking quarantine check, the
pandera checks (in the run, and read back from storage when launched alone), the feature
checks, and the legacy CSV export."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurepipe.core.sample import generate_day
from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.jobs import featurepipe_job
from featurepipe.defs.names import FEATURES_SCHEMA, LEGACY, QUARANTINE_RATIO, VALIDATED_SCHEMA
from featurepipe.settings import Settings
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET, csv_bytes
from featurepipe_tests.defs.support import failed_day, failure_text, reasons, resources

ASSETS = [build_daily_events()]
DAY = "2025-11-19"
GOOD = "2025-11-19T{:02d}:00:00Z,{},s{},click,ios,US,1,2.5,,10"
BAD = "2025-11-19T{:02d}:00:00Z,,s{},click,ios,US,1,2.5,,10"  # user_id_missing
POLICY = {"warn_ratio": 0.05, "error_ratio": 0.2}
REPO = Path(__file__).resolve().parents[2]


def policy(**ratios) -> dict:
    return {"ops": {"daily_events": {"config": {**POLICY, **ratios}}}}


def put_raw(storage, day: str, data: bytes) -> None:
    with storage.store.staged(RAW_BUCKET, f"user_events_{day.replace('-', '')}.csv") as path:
        path.write_bytes(data)


def day_file(rows: int, bad: int) -> bytes:
    """`rows` data rows of which the last `bad` lack a user_id."""
    lines = [GOOD.format(n, n + 1, n) for n in range(rows - bad)]
    lines += [BAD.format(n, n) for n in range(rows - bad, rows)]
    return csv_bytes(*lines)


def stored(storage, asset: str, day: str = DAY) -> str:
    return f"{asset}/date={day}/part.parquet"


def load(storage, asset: str, day: str = DAY) -> pd.DataFrame:
    """A stored table, read back from its bucket."""
    with storage.store.local_copy(FEATURE_BUCKET, stored(storage, asset, day)) as path:
        return pq.read_table(path).to_pandas()


def feature_keys(storage) -> set[str]:
    return {info.key for info in storage.store.list(FEATURE_BUCKET)}


def evaluations(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e
        for e in result.get_asset_check_evaluations()
    }


# --- quarantine_ratio: evaluated per day while validated_events is built, blocking ------------


def test_quarantine_ratio_passes_on_clean_data(storage):
    put_raw(storage, DAY, day_file(rows=10, bad=0))
    result = dg.materialize(ASSETS, partition_key=DAY, resources=resources(storage))
    assert result.success
    check = evaluations(result)["validated_events:quarantine_ratio"]
    assert check.passed
    assert check.metadata["quarantine_ratio"].value == 0.0
    assert check.partition == DAY
    assert stored(storage, "event_features") in feature_keys(storage)


def test_quarantine_ratio_warns_between_the_ratios_and_does_not_block(storage):
    put_raw(storage, DAY, day_file(rows=10, bad=1))
    result = dg.materialize(
        ASSETS, partition_key=DAY, resources=resources(storage), run_config=policy()
    )
    assert result.success
    check = evaluations(result)["validated_events:quarantine_ratio"]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["quarantine_ratio"].value == pytest.approx(0.1)
    assert reasons(check.metadata, "reasons") == {"user_id_missing": 1}
    assert check.metadata["warn_ratio"].value == 0.05
    assert check.metadata["error_ratio"].value == 0.2
    assert "10.00% of rows quarantined" in check.description
    assert len(load(storage, "event_features")) == 9
    assert stored(storage, "event_features") in feature_keys(storage)


def test_quarantine_ratio_fails_above_error_ratio_and_blocks_features(storage):
    put_raw(storage, DAY, day_file(rows=10, bad=3))
    result = failed_day(storage, DAY, ASSETS, run_config=policy())
    check = evaluations(result)["validated_events:quarantine_ratio"]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["quarantine_ratio"].value == pytest.approx(0.3)
    # What the step wrote is kept: the rows and the quarantine, for someone to look at.
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"raw_events", "validated_events", "rejected_events"}
    assert feature_keys(storage) == {
        stored(storage, "validated_events"),
        stored(storage, "rejected_events"),
    }
    # ... but the features were never built, and the run says why.
    assert "quarantine_ratio: 30.00% of rows quarantined" in failure_text(result)


def test_the_default_policy_blocks_above_five_percent(storage):
    put_raw(storage, DAY, day_file(rows=10, bad=1))
    check = evaluations(failed_day(storage, DAY, ASSETS))["validated_events:quarantine_ratio"]
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert stored(storage, "event_features") not in feature_keys(storage)


def test_in_a_range_each_day_is_judged_and_blocked_alone(local_storage):
    days = {"2025-11-17": 0, "2025-11-18": 1, "2025-11-19": 3}  # bad rows of 10
    for day, bad in days.items():
        put_raw(local_storage, day, day_file(rows=10, bad=bad).replace(b"2025-11-19", day.encode()))
    tags = {
        "dagster/asset_partition_range_start": "2025-11-17",
        "dagster/asset_partition_range_end": "2025-11-19",
    }
    result = dg.materialize(
        ASSETS,
        tags=tags,
        resources=resources(local_storage),
        run_config=policy(),
        raise_on_error=False,
    )
    assert not result.success
    checks = {
        e.partition: e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "quarantine_ratio"
    }
    assert sorted(checks) == sorted(days)
    assert [(c.passed, c.severity) for _, c in sorted(checks.items())] == [
        (True, dg.AssetCheckSeverity.ERROR),
        (False, dg.AssetCheckSeverity.WARN),
        (False, dg.AssetCheckSeverity.ERROR),
    ]
    assert {d: c.metadata["quarantine_ratio"].value for d, c in checks.items()} == {
        "2025-11-17": 0.0,
        "2025-11-18": 0.1,
        "2025-11-19": 0.3,
    }
    # The blocked day keeps its validated and rejected rows; only its features are missing.
    keys = feature_keys(local_storage)
    for day in days:
        assert stored(local_storage, "validated_events", day) in keys
        assert stored(local_storage, "rejected_events", day) in keys
    assert stored(local_storage, "event_features", "2025-11-17") in keys
    assert stored(local_storage, "event_features", "2025-11-18") in keys
    assert stored(local_storage, "event_features", "2025-11-19") not in keys
    text = failure_text(result)
    raw = local_storage.store.uri(RAW_BUCKET, "user_events_20251119.csv")
    assert f"1 of 3 days failed: 2025-11-19: DayBlocked: {raw}: quarantine_ratio: 30.00%" in text


# --- the feature checks yielded by event_features ---------------------------------------------


def test_event_features_checks_pass(storage):
    put_raw(storage, DAY, b"".join(generate_day(dt.date(2025, 11, 19), 300, malformed=0.01)))
    result = dg.materialize(
        ASSETS, partition_key=DAY, resources=resources(storage), run_config=policy()
    )
    assert result.success
    checks = evaluations(result)
    valid = len(load(storage, "validated_events"))
    assert checks["event_features:row_sum_not_null"].passed
    assert checks["event_features:row_sum_not_null"].metadata["null_row_sums"].value == 0
    one_row = checks["event_features:one_row_per_valid_event"]
    assert one_row.passed
    assert one_row.metadata["features"].value == valid
    assert one_row.metadata["valid_events_read"].value == valid
    assert {c.partition for c in checks.values()} == {DAY}


# --- pandera_schema: launched on its own, it reads the stored table back ----------------------


def check_only_job(storage):
    defs = dg.Definitions(
        assets=ASSETS,
        jobs=[
            featurepipe_job,
            dg.define_asset_job(
                "stored_schemas",
                selection=dg.AssetSelection.checks(VALIDATED_SCHEMA, FEATURES_SCHEMA),
            ),
        ],
        resources=resources(storage),
    )
    return defs


def run_schema_checks(defs, instance) -> dict[str, dg.AssetCheckEvaluation]:
    # A job of checks alone has no asset to take the partitions from: name the day by tag,
    # as the UI does when it launches a check for a partition.
    result = defs.resolve_job_def("stored_schemas").execute_in_process(
        instance=instance, tags={"dagster/partition": DAY}
    )
    assert result.success  # a failed check is a result, not a failed run
    return evaluations(result)


def test_pandera_checks_pass_on_stored_data_and_fail_on_a_bad_table(storage):
    put_raw(storage, DAY, day_file(rows=10, bad=0))
    defs = check_only_job(storage)
    with dg.instance_for_test() as instance:
        daily = defs.resolve_job_def("featurepipe_daily")
        first = daily.execute_in_process(partition_key=DAY, instance=instance)
        checks = evaluations(first)
        assert checks["validated_events:pandera_schema"].passed
        assert checks["event_features:pandera_schema"].passed

        checks = run_schema_checks(defs, instance)
        assert set(checks) == {"validated_events:pandera_schema", "event_features:pandera_schema"}
        assert all(c.passed for c in checks.values())
        assert checks["validated_events:pandera_schema"].metadata["failure_cases"].value == 0

        # Someone replaces the stored table with one that breaks the schema.
        key = stored(storage, "validated_events")
        with storage.store.local_copy(FEATURE_BUCKET, key) as path:
            table = pq.read_table(path)
        session = table.column("session_id").to_pylist()
        session[3] = None
        column = table.schema.get_field_index("session_id")
        table = table.set_column(column, "session_id", pa.array(session, pa.string()))
        with storage.store.staged(FEATURE_BUCKET, key) as path:
            pq.write_table(table, path)

        checks = run_schema_checks(defs, instance)
        bad = checks["validated_events:pandera_schema"]
        assert not bad.passed
        assert bad.severity == dg.AssetCheckSeverity.ERROR
        assert bad.metadata["failure_cases"].value >= 1
        assert bad.partition == DAY
        cases = bad.metadata["failures"].value
        assert "session_id" in cases
        assert "not_nullable" in cases
        assert checks["event_features:pandera_schema"].passed

        # The result is recorded for the partition, where the UI reads it.
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("validated_events"), "pandera_schema")]
        )
        (record,) = latest.values()
        assert record.event.dagster_event.event_specific_data.passed is False


def test_pandera_check_reports_a_wrong_column_type(local_storage):
    put_raw(local_storage, DAY, day_file(rows=5, bad=0))
    defs = check_only_job(local_storage)
    with dg.instance_for_test() as instance:
        defs.resolve_job_def("featurepipe_daily").execute_in_process(
            partition_key=DAY, instance=instance
        )
        key = stored(local_storage, "event_features")
        with local_storage.store.local_copy(FEATURE_BUCKET, key) as path:
            frame = pq.read_table(path).to_pandas()
        frame["row_sum"] = frame["row_sum"].astype(str)
        with local_storage.store.staged(FEATURE_BUCKET, key) as path:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        checks = run_schema_checks(defs, instance)
    bad = checks["event_features:pandera_schema"]
    assert not bad.passed
    assert "row_sum" in bad.metadata["failures"].value
    assert checks["validated_events:pandera_schema"].passed


def quarantine_only(storage) -> dg.JobDefinition:
    """A job of the quarantine_ratio check alone, as the UI's "Execute" on the check."""
    defs = dg.Definitions(
        assets=ASSETS,
        jobs=[
            dg.define_asset_job(
                "quarantine_only", selection=dg.AssetSelection.checks(QUARANTINE_RATIO)
            )
        ],
        resources=resources(storage),
    )
    return defs.resolve_job_def("quarantine_only")


def test_quarantine_ratio_launched_alone_rejudges_the_recorded_ratio(local_storage):
    put_raw(local_storage, DAY, day_file(rows=10, bad=1))
    with dg.instance_for_test() as instance:
        first = dg.materialize(
            ASSETS,
            partition_key=DAY,
            resources=resources(local_storage),
            run_config=policy(),
            instance=instance,
        )
        assert evaluations(first)["validated_events:quarantine_ratio"].severity == (
            dg.AssetCheckSeverity.WARN
        )
        stricter = quarantine_only(local_storage).execute_in_process(
            instance=instance,
            tags={"dagster/partition": DAY},
            run_config=policy(error_ratio=0.05),
        )
    check = evaluations(stricter)["validated_events:quarantine_ratio"]
    assert (check.passed, check.severity, check.partition) == (
        False,
        dg.AssetCheckSeverity.ERROR,
        DAY,
    )
    assert check.metadata["quarantine_ratio"].value == pytest.approx(0.1)
    assert reasons(check.metadata, "reasons") == {"user_id_missing": 1}


def test_quarantine_ratio_alone_for_a_day_never_materialized_says_so(local_storage):
    with dg.instance_for_test() as instance, pytest.raises(dg.Failure) as raised:
        quarantine_only(local_storage).execute_in_process(
            instance=instance, tags={"dagster/partition": DAY}
        )
    assert raised.value.description == (
        f"{DAY}: NotMaterialized: quarantine_ratio: validated_events has no materialization "
        f"for {DAY} to judge; materialize the day first"
    )


# --- the legacy CSV export --------------------------------------------------------------------


def test_legacy_csv_has_row_sum_first_and_the_feature_values(storage):
    put_raw(storage, DAY, b"".join(generate_day(dt.date(2025, 11, 19), 300, malformed=0.0)))
    result = dg.materialize(
        [build_daily_events(Settings(legacy_csv=True))],
        partition_key=DAY,
        resources=resources(storage),
    )
    assert result.success
    assert "features_20251119.csv" in feature_keys(storage)
    with storage.store.local_copy(FEATURE_BUCKET, "features_20251119.csv") as path:
        header = path.read_text().splitlines()[0]
        legacy = pd.read_csv(path)
    assert header == "row_sum,event_time,user_id,session_id,event_type"
    features = load(storage, "event_features")
    assert len(legacy) == len(features) == 300
    assert legacy["row_sum"].tolist() == features["row_sum"].tolist()
    assert legacy["user_id"].tolist() == features["user_id"].tolist()
    assert legacy["session_id"].tolist() == features["session_id"].tolist()
    assert legacy["event_type"].tolist() == features["event_type"].tolist()
    times = pd.to_datetime(legacy["event_time"], utc=True).dt.as_unit("us")
    assert times.tolist() == features["event_time"].tolist()
    (materialization,) = [
        m for m in result.get_asset_materialization_events() if m.asset_key == LEGACY
    ]
    metadata = materialization.materialization.metadata
    assert metadata["dagster/row_count"].value == 300


def definitions_assets(env: dict) -> set[str]:
    code = (
        "from featurepipe.definitions import defs\n"
        "keys = defs.resolve_asset_graph().get_all_asset_keys()\n"
        "print(' '.join(k.to_user_string() for k in keys))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


@pytest.mark.slow
def test_legacy_export_is_only_defined_when_switched_on(local_root):
    env = {k: v for k, v in os.environ.items() if k != "FEATUREPIPE_LEGACY_CSV"}
    assert "legacy_features_csv" not in definitions_assets(env)
    assert "legacy_features_csv" in definitions_assets({**env, "FEATUREPIPE_LEGACY_CSV": "true"})
