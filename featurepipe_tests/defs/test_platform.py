"""What a Dagster user relies on when building on featurepipe, tested with an asset that is not
featurepipe's (`user_project.features_per_day`): it runs in the pipeline's runs, a blocked day
stays blocked in later runs, materializations carry provenance, a re-execution redoes only
what failed, and a run says what happened."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.io_managers import ParquetIOManager, RawFileIOManager
from featurepipe.defs.names import FEATURES, RAW, REJECTED, VALIDATED
from featurepipe.defs.provenance import CODE_VERSION
from featurepipe.storage.keys import raw_key
from featurepipe_tests.conftest import RAW_BUCKET, csv_bytes
from featurepipe_tests.defs.support import (
    RANGE_END,
    RANGE_START,
    VENV_BIN,
    clean_env,
    dagster_home,
    expected_keys,
    filler,
    put_raw,
    run,
    stored_keys,
)
from featurepipe_tests.defs.user_project import features_per_day

DAYS = ["2025-11-17", "2025-11-18", "2025-11-19"]
OWN = dg.AssetKey("features_per_day")


def blocked(day: str) -> bytes:
    """A third of the rows lack a user_id: above the 5% default, the day is blocked."""
    missing = [f"{day}T00:00:{i:02d}Z,,s{i},view,web,US,0,1.5,,10" for i in range(30)]
    return csv_bytes(*missing, *filler(day, 60))


def definitions(storage) -> dg.Definitions:
    return dg.Definitions(
        assets=[build_daily_events(), features_per_day],
        resources={
            "storage": storage,
            "io_manager": ParquetIOManager(storage=storage),
            "raw_io_manager": RawFileIOManager(storage=storage),
        },
    )


def execute(storage, instance, days=DAYS, selection=None, tags=None):
    job = definitions(storage).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        asset_selection=selection,
        raise_on_error=False,
        tags={RANGE_START: days[0], RANGE_END: days[-1], **(tags or {})},
    )


def messages(instance, run_id: str) -> list[str]:
    return [e.user_message for e in instance.all_logs(run_id) if e.user_message]


def own_rows(instance) -> dict[str, int]:
    found = {}
    for record in instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=OWN), limit=100
    ).records:
        found.setdefault(record.partition_key, record.asset_materialization.metadata["rows"].value)
    return found


def test_an_own_asset_runs_after_the_pipeline_for_one_day_and_for_a_range(local_storage):
    for i, day in enumerate(DAYS):
        put_raw(local_storage, day, csv_bytes(*filler(day, 50 + i)))
    with dg.instance_for_test() as instance:
        one = execute(local_storage, instance, days=[DAYS[0]])
        assert one.success
        assert own_rows(instance) == {DAYS[0]: 50}
        whole = execute(local_storage, instance)
        assert whole.success
        assert own_rows(instance) == {DAYS[0]: 50, DAYS[1]: 51, DAYS[2]: 52}
        # Each day of each pipeline asset is recorded once, by the day, not again by an Output.
        for result in (one, whole):
            days = [
                e.partition
                for e in result.get_asset_materialization_events()
                if e.asset_key == FEATURES
            ]
            assert sorted(days) == sorted(set(days))
        for result in (one, whole):
            assert not any("did not yield" in m for m in messages(instance, result.run_id))


def test_a_range_with_a_failed_day_fails_and_its_own_asset_does_not_run(local_storage):
    put_raw(local_storage, DAYS[0], csv_bytes(*filler(DAYS[0], 40)))
    put_raw(local_storage, DAYS[2], csv_bytes(*filler(DAYS[2], 40)))
    with dg.instance_for_test() as instance:
        result = execute(local_storage, instance)
        assert not result.success
        assert own_rows(instance) == {}
        # The good days are stored and recorded all the same.
        assert instance.get_materialized_partitions(FEATURES) == {DAYS[0], DAYS[2]}
        (failure,) = result.get_step_failure_events()
        error = failure.event_specific_data
        assert error.user_failure_data.description.startswith(
            f"1 of 3 days failed: {DAYS[1]}: ObjectNotFound: head_object: "
        )
        table = error.user_failure_data.metadata["failed_days"].value
        assert f"| {DAYS[1]} | failed | ObjectNotFound" in table
        assert f"dg launch --assets '*' --partition {DAYS[1]}" in table
        # A missing file is a day's outcome, not a bug: one line, no traceback.
        logged = messages(instance, result.run_id)
        (line,) = [m for m in logged if f"partition={DAYS[1]} " in m]
        assert line.startswith(f"step=daily_events partition={DAYS[1]} day=2/3 outcome=failed ")
        assert "error=ObjectNotFound: head_object: " in line
        assert "Traceback" not in line and "\n" not in line


def events_by_type(instance, run_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in instance.all_logs(run_id):
        kind = event.dagster_event_type.value if event.dagster_event_type else "log message"
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def test_each_day_of_a_range_records_its_tables_its_checks_and_one_log_line(local_storage):
    """What a day adds to a range run: a planned and a recorded materialization per table, a
    result per check, and one log line (its outcome, what was read and what was stored)."""
    alone = "2025-11-16"  # not in the range: a day run again logs the tables it replaces
    for day in [alone, *DAYS]:
        put_raw(local_storage, day, csv_bytes(*filler(day, 20)))
    with dg.instance_for_test() as instance:
        one = execute(local_storage, instance, days=[alone])
        three = execute(local_storage, instance)
        assert one.success and three.success
        single, whole = events_by_type(instance, one.run_id), events_by_type(instance, three.run_id)
        per_day = {
            kind: (whole.get(kind, 0) - single.get(kind, 0)) / 2
            for kind in {*single, *whole}
            if whole.get(kind, 0) != single.get(kind, 0)
        }
        # The user's own asset records its materialization per day too.
        assert per_day == {
            "ASSET_MATERIALIZATION_PLANNED": 5,
            "ASSET_MATERIALIZATION": 5,
            "ASSET_CHECK_EVALUATION": 5,
            "log message": 1,
        }
        (line,) = [m for m in messages(instance, three.run_id) if f"partition={DAYS[1]} " in m]
        assert line.startswith(f"step=daily_events partition={DAYS[1]} day=2/3 outcome=stored ")
        assert f" read={local_storage.store.uri(RAW_BUCKET, raw_key(DAYS[1]))} " in line
        assert " rows_in=20 valid=20 quarantined=0 " in line
        assert f"event_features/date={DAYS[1]}/part.parquet:" in line


def test_without_a_step_downstream_the_step_yields_only_its_checks_outputs(local_storage):
    """Each Output is an event the run records: those no step of the run reads are left out,
    but never a check's, which Dagster would report as not yielded."""
    put_raw(local_storage, DAYS[0], csv_bytes(*filler(DAYS[0], 40)))
    ours = [RAW, VALIDATED, REJECTED, FEATURES]
    with dg.instance_for_test() as instance:
        alone = execute(local_storage, instance, days=DAYS[:1], selection=ours)
        with_own = execute(local_storage, instance, days=DAYS[:1])
        assert alone.success and with_own.success
        outputs = {
            result: {
                e.event_specific_data.step_output_handle.output_name
                for e in result.all_events
                if e.event_type == dg.DagsterEventType.STEP_OUTPUT and e.step_key == "daily_events"
            }
            for result in (alone, with_own)
        }
        checks = {
            "validated_events_quarantine_ratio",
            "validated_events_pandera_schema",
            "event_features_pandera_schema",
            "event_features_row_sum_not_null",
            "event_features_one_row_per_valid_event",
        }
        assert outputs[alone] == checks
        assert outputs[with_own] == checks | {"event_features"}
        assert own_rows(instance) == {DAYS[0]: 40}
        for result in (alone, with_own):
            assert not any("did not yield" in m for m in messages(instance, result.run_id))


def test_a_rebuilt_day_logs_the_tables_it_removed_and_did_not_build_again(local_storage):
    put_raw(local_storage, DAYS[0], csv_bytes(*filler(DAYS[0], 40)))
    features = f"event_features/date={DAYS[0]}/part.parquet"
    with dg.instance_for_test() as instance:
        first = execute(local_storage, instance, days=DAYS[:1])
        again = execute(local_storage, instance, days=DAYS[:1])
        assert first.success and again.success
        assert not [m for m in messages(instance, again.run_id) if "action=delete_object" in m]
        put_raw(local_storage, DAYS[0], blocked(DAYS[0]))
        now_blocked = execute(local_storage, instance, days=DAYS[:1])
        assert not now_blocked.success
        (deleted,) = [m for m in messages(instance, now_blocked.run_id) if "delete_object" in m]
        assert deleted.endswith(f" key={features} reason=validated_events_replaced")
        assert features not in stored_keys(local_storage)


def test_a_blocked_day_stays_blocked_when_its_features_are_selected_alone(local_storage):
    put_raw(local_storage, DAYS[0], csv_bytes(*filler(DAYS[0], 40)))
    put_raw(local_storage, DAYS[1], blocked(DAYS[1]))
    with dg.instance_for_test() as instance:
        assert not execute(local_storage, instance, days=DAYS[:2]).success
        assert instance.get_materialized_partitions(FEATURES) == {DAYS[0]}
        stored = stored_keys(local_storage)

        again = execute(local_storage, instance, days=DAYS[:2], selection=[FEATURES])
        assert not again.success
        description = again.get_step_failure_events()[0].event_specific_data.user_failure_data
        assert f"{DAYS[1]}: DayBlocked: quarantine_ratio: the stored validated_events" in (
            description.description
        )
        assert f"dg launch --assets '*' --partition {DAYS[1]}" in description.description
        assert instance.get_materialized_partitions(FEATURES) == {DAYS[0]}
        assert stored_keys(local_storage) == stored

        # Fixed at the source and rebuilt from it, the day gets its features.
        put_raw(local_storage, DAYS[1], csv_bytes(*filler(DAYS[1], 40)))
        assert execute(local_storage, instance, days=[DAYS[1]]).success
        assert instance.get_materialized_partitions(FEATURES) == {DAYS[0], DAYS[1]}


def tags(instance, asset: dg.AssetKey, day: str) -> dict[str, str]:
    (record,) = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[day]), limit=1
    ).records
    return record.asset_materialization.tags


def stale_days(storage, instance, asset: dg.AssetKey, code_version=CODE_VERSION) -> set[str]:
    """The days the UI shows stale, as the resolver behind the UI's stale status judges them,
    for definitions whose pipeline has `code_version`."""
    pipeline = build_daily_events().map_asset_specs(
        lambda spec: spec.replace_attributes(code_version=code_version)
    )
    graph = dg.Definitions(
        assets=[pipeline, features_per_day], resources=definitions(storage).resources
    ).resolve_asset_graph()
    resolver = CachingStaleStatusResolver(instance, graph, LoadingContextForTest(instance))
    return {d for d in DAYS if resolver.get_status(asset, d) == StaleStatus.STALE}


def test_materializations_carry_provenance_and_a_replaced_raw_file_makes_its_day_stale(
    local_storage,
):
    for day in DAYS:
        put_raw(local_storage, day, csv_bytes(*filler(day, 30)))
    with dg.instance_for_test() as instance:
        assert execute(local_storage, instance).success
        for day in DAYS:
            etag = local_storage.store.head(RAW_BUCKET, raw_key(day)).etag
            raw = tags(instance, RAW, day)
            assert raw["dagster/data_version"] == etag
            assert raw["dagster/code_version"] == CODE_VERSION
            validated = dg.DataProvenance.from_tags(tags(instance, VALIDATED, day))
            assert validated.code_version == CODE_VERSION
            assert validated.input_data_versions == {RAW: dg.DataVersion(etag)}
            features = dg.DataProvenance.from_tags(tags(instance, FEATURES, day))
            assert features.input_data_versions == {
                VALIDATED: dg.DataVersion(tags(instance, VALIDATED, day)["dagster/data_version"])
            }
        for asset in (VALIDATED, REJECTED, FEATURES, OWN):
            assert stale_days(local_storage, instance, asset) == set()
        # New code: every stored day is stale.
        assert stale_days(local_storage, instance, FEATURES, "new code") == set(DAYS)

        # The middle day's file is replaced; recording raw_events again (a HEAD) shows it.
        put_raw(local_storage, DAYS[1], csv_bytes(*filler(DAYS[1], 31)))
        assert execute(local_storage, instance, selection=[RAW]).success
        for asset in (VALIDATED, REJECTED):
            assert stale_days(local_storage, instance, asset) == {DAYS[1]}


def test_a_re_execution_reads_only_the_day_that_failed(local_storage):
    for day in DAYS:
        put_raw(local_storage, day, csv_bytes(*filler(day, 30)))
    put_raw(local_storage, DAYS[1], csv_bytes("x,1", header="event_time,user_id"))
    with dg.instance_for_test() as instance:
        first = execute(local_storage, instance)
        assert not first.success
        put_raw(local_storage, DAYS[1], csv_bytes(*filler(DAYS[1], 30)))
        # The tags Dagster puts on a re-execution or a run retry of `first`.
        family = {"dagster/parent_run_id": first.run_id, "dagster/root_run_id": first.run_id}
        retry = execute(local_storage, instance, tags=family)
        assert retry.success
        logged = messages(instance, retry.run_id)
        reads = [m for m in logged if " read=" in m]
        assert len(reads) == 1 and f"partition={DAYS[1]} day=2/3 outcome=stored" in reads[0]
        for number, day in ((1, DAYS[0]), (3, DAYS[2])):
            (line,) = [m for m in logged if f"partition={day} " in m]
            prefix = f"step=daily_events partition={day} day={number}/3 outcome=skipped "
            assert line.startswith(prefix)
            assert f" reason=already stored by run {first.run_id} " in line
        recorded = {
            e.partition for e in retry.get_asset_materialization_events() if e.asset_key != OWN
        }
        assert recorded == {DAYS[1]}
        assert own_rows(instance) == {day: 30 for day in DAYS}
        assert stored_keys(local_storage) == expected_keys(*DAYS)


@pytest.mark.slow
def test_the_cli_runs_an_own_asset_with_the_pipeline(tmp_path):
    """`dagster asset materialize --select '*'` on a user's project, for a day and a range."""
    buckets = tmp_path / "buckets"
    home = dagster_home(tmp_path / "home")
    repo = Path(__file__).parents[2]  # where the user's module is importable from
    env = clean_env(
        FEATUREPIPE_LOCAL_ROOT=str(buckets), DAGSTER_HOME=str(home), PYTHONPATH=str(repo)
    )
    run(
        [
            str(VENV_BIN / "featurepipe"),
            "sample",
            "--end",
            DAYS[-1],
            "--days",
            "3",
            "--rows",
            "200",
        ],
        cwd=tmp_path,
        env=env,
    )
    materialize = [
        str(VENV_BIN / "dagster"),
        "asset",
        "materialize",
        "-m",
        "featurepipe_tests.defs.user_project",
        "--select",
        "*",
    ]
    one = run([*materialize, "--partition", DAYS[0]], cwd=tmp_path, env=env)
    whole = run(
        [*materialize, "--partition-range", f"{DAYS[1]}...{DAYS[2]}"], cwd=tmp_path, env=env
    )
    for proc in (one, whole):
        assert "did not yield" not in proc.stderr
        assert "summary: " in proc.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert set(own_rows(instance)) == set(DAYS)
        assert all(r.dagster_run.is_success for r in instance.get_run_records())


@dg.asset(partitions_def=dg.DailyPartitionsDefinition("2025-01-01"))
def first_features(event_features: pd.DataFrame) -> pd.DataFrame:
    """A user's own table: the day's first three features, stored by featurepipe's IO manager."""
    return event_features.head(3)


def test_an_own_table_is_stored_and_read_back_by_featurepipes_io_manager(local_storage):
    put_raw(local_storage, DAYS[0], csv_bytes(*filler(DAYS[0], 20)))
    defs = definitions(local_storage)
    defs = dg.Definitions.merge(defs, dg.Definitions(assets=[first_features]))
    with dg.instance_for_test() as instance:
        job = defs.resolve_implicit_global_asset_job_def()
        assert job.execute_in_process(instance=instance, partition_key=DAYS[0]).success
        key = f"first_features/date={DAYS[0]}/part.parquet"
        assert key in stored_keys(local_storage)
        with defs.get_asset_value_loader(instance=instance) as loader:
            stored = loader.load_asset_value("first_features", partition_key=DAYS[0])
    assert list(stored["user_id"]) == [1000, 1001, 1002]


def test_the_schedule_and_sensor_job_runs_an_own_asset_too():
    """featurepipe_daily, which the schedule and the sensor launch, takes what is downstream."""
    from featurepipe_tests.defs import user_project

    job = user_project.defs.resolve_job_def("featurepipe_daily")
    assert OWN in job.asset_layer.selected_asset_keys
    assert [node.name for node in job.nodes_in_topological_order] == [
        "daily_events",
        "features_per_day",
    ]


def test_a_retry_never_skips_a_day_a_later_attempt_blocked(local_storage):
    """The first run stores a day whole; its file is replaced by one above the error ratio and
    a retry blocks the day (features removed); a further retry of the same family must not take
    the first run's features as the day's: it judges the day again and fails it."""
    put_raw(local_storage, DAYS[0], csv_bytes(*filler(DAYS[0], 40)))
    put_raw(local_storage, DAYS[1], csv_bytes(*filler(DAYS[1], 40)))
    with dg.instance_for_test() as instance:
        first = execute(local_storage, instance, days=DAYS[:2])
        assert first.success
        put_raw(local_storage, DAYS[1], blocked(DAYS[1]))
        family = {"dagster/parent_run_id": first.run_id, "dagster/root_run_id": first.run_id}
        second = execute(local_storage, instance, days=DAYS[:2], tags=family)
        assert not second.success
        family = {"dagster/parent_run_id": second.run_id, "dagster/root_run_id": first.run_id}
        third = execute(local_storage, instance, days=DAYS[:2], tags=family)
        assert not third.success
        failure = third.get_step_failure_events()[0].event_specific_data.user_failure_data
        assert f"{DAYS[1]}: DayBlocked" in failure.description
        logged = messages(instance, third.run_id)
        assert any(f"partition={DAYS[0]} day=1/2 outcome=skipped" in m for m in logged)
        assert not any(f"partition={DAYS[1]} day=2/2 outcome=skipped" in m for m in logged)
        assert f"event_features/date={DAYS[1]}/part.parquet" not in stored_keys(local_storage)
