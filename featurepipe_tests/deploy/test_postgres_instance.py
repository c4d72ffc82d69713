"""featurepipe on its production instance, end to end on this machine.

deploy/dagster.yaml, unchanged, in a temp DAGSTER_HOME; a real PostgreSQL server on loopback for
runs and events; step logs to an S3 endpoint on loopback. Four days of raw files are backfilled
as ranged runs, queued by the QueuedRunCoordinator, started by a real `dagster-daemon` through
the DefaultRunLauncher, two at once: two with the defaults (every step in the run's process),
one with deploy/run-config/multiprocess.yaml (a process per step). Then every day's
Parquet tables are compared with the same files validated in this process, and the run records
and materialization events are read back from PostgreSQL, through Dagster and in plain SQL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pandas as pd
import psycopg2
import pytest
import yaml
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)

from featurepipe.core.features import build_features
from featurepipe.core.sample import generate_day
from featurepipe.core.validation import validate_events
from featurepipe.storage.keys import asset_key_path, raw_key
from featurepipe.storage.objects import LocalStore
from featurepipe.storage.verified import read_parquet
from featurepipe_tests.conftest import (
    FAKE_KEY_ID,
    FAKE_SECRET,
    FEATURE_BUCKET,
    RAW_BUCKET,
    free_port,
)
from featurepipe_tests.deploy import postgres
from featurepipe_tests.ui import devserver
from featurepipe_tests.ui.devserver import BACKFILL_STATUS, LAUNCH_BACKFILL

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
INSTANCE_YAML = REPO / "deploy" / "dagster.yaml"
BIN = Path(sys.executable).parent
JOB = "featurepipe_daily"
DAYS = ["2025-11-16", "2025-11-17", "2025-11-18", "2025-11-19"]
ROWS = 20_000  # enough for every kind of bad row the sample makes, at 1%
LOG_BUCKET = "featurepipe-compute-logs"
PG_USER = "featurepipe"
PG_PASSWORD = "p@ss:w/rd %fp"  # every character a URL must quote
PG_DB = "dagster"
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
RUN_TIMEOUT = 240.0
MULTIPROCESS = yaml.safe_load((REPO / "deploy" / "run-config" / "multiprocess.yaml").read_text())
# name: (first day, last day, run config). "c" is the range of "b" again: the instance's tag
# limits must hold it until "b" has finished.
RANGED = {
    "a": ("2025-11-16", "2025-11-17", {}),
    "b": ("2025-11-18", "2025-11-19", {}),
    "c": ("2025-11-18", "2025-11-19", MULTIPROCESS),
}


@pytest.fixture(scope="module")
def pg_server():
    try:
        server = postgres.start(PG_USER, PG_PASSWORD)
    except postgres.PostgresUnavailable as err:
        pytest.skip(f"no PostgreSQL server for the production-instance test: {err}")
    try:
        conn = psycopg2.connect(**server.dsn("postgres"))
        try:
            conn.autocommit = True  # CREATE DATABASE refuses to run in a transaction
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {PG_DB}")
        finally:
            conn.close()
        yield server
    finally:
        postgres.stop(server)


@pytest.fixture
def production_env(pg_server, s3_server, local_root, tmp_path, monkeypatch) -> Path:
    """DAGSTER_HOME holding deploy/dagster.yaml, and every variable that file names."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": pg_server.host,
        "DAGSTER_PG_PORT": str(pg_server.port),
        "DAGSTER_PG_DB": PG_DB,
        "DAGSTER_PG_USERNAME": pg_server.user,
        "DAGSTER_PG_PASSWORD": pg_server.password,
        "DAGSTER_COMPUTE_LOG_BUCKET": LOG_BUCKET,
        "AWS_ENDPOINT_URL": s3_server,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": FAKE_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3")
    if LOG_BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=LOG_BUCKET)
    return home


def write_raw_days(local_root: Path) -> dict[str, object]:
    """The four raw files, and what validating each one here gives (the expected tables)."""
    store = LocalStore(local_root)
    expected = {}
    for day in DAYS:
        with store.staged(RAW_BUCKET, raw_key(day)) as path, path.open("wb") as out:
            for chunk in generate_day(dt.date.fromisoformat(day), ROWS, malformed=0.01):
                out.write(chunk)
        with store.open(RAW_BUCKET, raw_key(day)) as stream:
            expected[day] = validate_events(stream, source=raw_key(day))
    return expected


@contextlib.contextmanager
def service(argv: list[str], log: Path) -> Iterator[subprocess.Popen]:
    """A long-running Dagster process in its own process group (so the run workers it starts
    go with it), stopped with SIGTERM, then SIGKILL, when the block ends."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    """`dagster api grpc` listens once it has loaded the definitions."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"code server not serving on {port}:\n{tail(log)}")
        time.sleep(0.2)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else ""


def submit_ranged_runs(home: Path) -> dict[str, str]:
    """`dagster job launch` for each range at once: the QueuedRunCoordinator queues them."""
    run_ids, launches = {}, []
    for name, (first, last, run_config) in RANGED.items():
        run_ids[name] = str(uuid.uuid4())
        tags = {
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        }
        argv = [
            str(BIN / "dagster"),
            "job",
            "launch",
            "-w",
            str(home / "workspace.yaml"),
            "-j",
            JOB,
            "--run-id",
            run_ids[name],
            "--tags",
            json.dumps(tags),
            "--config-json",
            json.dumps(run_config),
        ]
        launches.append(
            subprocess.Popen(argv, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        )
    for launch in launches:
        out, _ = launch.communicate(timeout=120)
        assert launch.returncode == 0, out.decode(errors="replace")[-3000:]
    return run_ids


def wait_for_runs(instance: DagsterInstance, run_ids, daemon, home: Path) -> dict:
    """The run records once every run has finished; the daemon's log if they do not."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        records = instance.get_run_records(RunsFilter(run_ids=list(run_ids)))
        if len(records) == len(run_ids) and all(r.dagster_run.status in FINISHED for r in records):
            return {r.dagster_run.run_id: r for r in records}
        if time.monotonic() > deadline or daemon.poll() is not None:
            states = {r.dagster_run.run_id: r.dagster_run.status.value for r in records}
            log = tail(home / "daemon.log")
            pytest.fail(f"runs not finished in {RUN_TIMEOUT}s: {states}\ndaemon log:\n{log}")
        time.sleep(0.5)


def failure_report(instance: DagsterInstance, run_id: str) -> str:
    """What went wrong in a run, from its event log: failures and their errors."""
    lines = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not (event.is_failure or event.event_type_value == "ENGINE_EVENT"):
            continue
        error = getattr(event.event_specific_data, "error", None)
        lines.append(f"{event.event_type_value} {event.step_key or ''}: {event.message or ''}")
        if error is not None:
            lines.append(error.to_string()[-2000:])
    return f"run {run_id} did not succeed:\n" + "\n".join(lines)[-6000:]


def processes(instance: DagsterInstance, run_id: str) -> tuple[int, set[int]]:
    """The process id of a run, and those of its steps."""
    (start,) = instance.all_logs(run_id, of_type=DagsterEventType.RUN_START)
    steps = instance.all_logs(run_id, of_type=DagsterEventType.STEP_START)
    return start.dagster_event.pid, {step.dagster_event.pid for step in steps}


def dequeued(instance, record) -> float:
    """When the run queue took the run off the queue to launch it."""
    (event,) = instance.all_logs(record.dagster_run.run_id, of_type=DagsterEventType.RUN_STARTING)
    return event.timestamp


def launched_together(instance, a, b) -> bool:
    """The queue launched both before either had finished, however fast the runs are."""
    return max(dequeued(instance, a), dequeued(instance, b)) < min(a.end_time, b.end_time)


def test_ranged_backfill_on_postgres_runs_in_parallel_and_lands_every_day(
    production_env, pg_server, s3_server, local_root
):
    home = production_env
    expected = write_raw_days(local_root)

    with DagsterInstance.get() as instance:
        # The instance is the one deploy/dagster.yaml describes, on the driver-qualified URL.
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert instance.run_storage.postgres_url.startswith("postgresql+psycopg2://")
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.run_monitoring_enabled

        # The production topology: the code location is a gRPC server; the daemon and the
        # command line reach it through a workspace file, as the webserver would.
        port = free_port()
        (home / "workspace.yaml").write_text(
            "load_from:\n  - grpc_server:\n"
            f"      host: 127.0.0.1\n      port: {port}\n      location_name: featurepipe\n"
        )
        code_server_argv = [str(BIN / "dagster"), "api", "grpc", "-m", "featurepipe.definitions"]
        code_server_argv += ["-h", "127.0.0.1", "-p", str(port)]
        daemon_argv = [str(BIN / "dagster-daemon"), "run", "-w", str(home / "workspace.yaml")]
        with service(code_server_argv, home / "code-server.log") as code_server:
            wait_for_port(port, code_server, home / "code-server.log")
            # Queued before the daemon starts, so that its first pass sees all three runs.
            run_ids = submit_ranged_runs(home)
            queued = instance.get_run_records(RunsFilter(run_ids=list(run_ids.values())))
            assert {r.dagster_run.status for r in queued} == {DagsterRunStatus.QUEUED}
            with service(daemon_argv, home / "daemon.log") as daemon:
                records = wait_for_runs(instance, run_ids.values(), daemon, home)

        a, b, c = (records[run_ids[name]] for name in ("a", "b", "c"))
        for record in (a, b, c):
            assert record.dagster_run.status == DagsterRunStatus.SUCCESS, failure_report(
                instance, record.dagster_run.run_id
            )
        # The defaults run every step in the run's process; multiprocess.yaml, each in its own.
        for record, in_run_process in ((a, True), (b, True), (c, False)):
            run_pid, step_pids = processes(instance, record.dagster_run.run_id)
            assert (step_pids == {run_pid}) is in_run_process, (run_pid, step_pids)
        # Two ranges launched at once, but never two runs of the same range: the queue holds
        # the second until the first has finished (tag_concurrency_limits).
        assert launched_together(instance, a, b) or launched_together(instance, a, c), (
            "the queue did not launch the two ranges together"
        )
        first, second = sorted((b, c), key=lambda r: dequeued(instance, r))
        assert dequeued(instance, second) >= first.end_time, "two runs of one range at once"

        # Every day's tables, exactly as validating the raw file here gives them.
        store = LocalStore(local_root)
        for day, truth in expected.items():
            events = read_parquet(store, FEATURE_BUCKET, asset_key_path("validated_events", day))
            rejected = read_parquet(store, FEATURE_BUCKET, asset_key_path("rejected_events", day))
            features = read_parquet(store, FEATURE_BUCKET, asset_key_path("event_features", day))
            pd.testing.assert_frame_equal(events, truth.events, check_dtype=False)
            pd.testing.assert_frame_equal(rejected, truth.rejected, check_dtype=False)
            pd.testing.assert_frame_equal(features, build_features(truth.events), check_dtype=False)
            assert 0 < len(rejected) < len(events)

        # Materializations in PostgreSQL, through Dagster: each day once per run that covered it.
        def runs_of(asset: str, day: str) -> set[str]:
            return {
                run_ids[name] for name, (first, last, _) in RANGED.items() if first <= day <= last
            }

        for asset in ("raw_events", "validated_events", "rejected_events", "event_features"):
            for day in DAYS:
                found = instance.fetch_materializations(
                    AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[day]),
                    limit=10,
                ).records
                assert {r.run_id for r in found} == runs_of(asset, day), (asset, day)
                if asset == "validated_events":
                    summary = expected[day].summary
                    for record in found:
                        metadata = record.asset_materialization.metadata
                        assert metadata["valid"].value == summary.valid
                        assert metadata["quarantined"].value == summary.quarantined
                        assert metadata["rows_in"].value == summary.data_lines

    # The same, in plain SQL: the tables are really in this PostgreSQL database.
    with contextlib.closing(psycopg2.connect(**pg_server.dsn(PG_DB))) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id, status FROM runs")
        assert dict(cur.fetchall()) == {run_id: "SUCCESS" for run_id in run_ids.values()}
        cur.execute(
            "SELECT partition, count(*) FROM event_logs"
            " WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key = %s"
            " GROUP BY partition",
            (AssetKey("event_features").to_string(),),
        )
        assert dict(cur.fetchall()) == {day: len(runs_of("event_features", day)) for day in DAYS}

    # Each step's stdout/stderr went to the S3 compute-log bucket.
    keys = [
        item["Key"]
        for page in boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=LOG_BUCKET)
        for item in page.get("Contents", [])
    ]
    for run_id in run_ids.values():
        assert any(run_id in key for key in keys), (run_id, keys[:20])


def graphql(port: int, query: str, variables: dict) -> dict:
    return devserver.graphql(f"http://127.0.0.1:{port}", query, variables)


def wait_for_webserver(port: int, proc: subprocess.Popen, log: Path) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 120
    while True:
        with (
            contextlib.suppress(OSError),
            opener.open(f"http://127.0.0.1:{port}/server_info", timeout=5),
        ):
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"webserver not serving on {port}:\n{tail(log)}")
        time.sleep(0.5)


def test_a_ui_backfill_split_into_runs_of_k_days_lands_every_day(
    production_env, local_root, monkeypatch
):
    """FEATUREPIPE_BACKFILL_DAYS_PER_RUN=3: ten days launched as one backfill from the UI's
    GraphQL API become four runs (3+3+3+1 days), queued and run by the daemon."""
    home = production_env
    monkeypatch.setenv("FEATUREPIPE_BACKFILL_DAYS_PER_RUN", "3")
    days = [f"2025-11-{d:02d}" for d in range(10, 20)]
    store = LocalStore(local_root)
    for day in days:
        with store.staged(RAW_BUCKET, raw_key(day)) as path, path.open("wb") as out:
            out.writelines(generate_day(dt.date.fromisoformat(day), 200, malformed=0.0))

    grpc_port, web_port = free_port(), free_port()
    (home / "workspace.yaml").write_text(
        "load_from:\n  - grpc_server:\n"
        f"      host: 127.0.0.1\n      port: {grpc_port}\n      location_name: featurepipe\n"
    )
    workspace = str(home / "workspace.yaml")
    code_server_argv = [str(BIN / "dagster"), "api", "grpc", "-m", "featurepipe.definitions"]
    code_server_argv += ["-h", "127.0.0.1", "-p", str(grpc_port)]
    web_argv = [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1"]
    web_argv += ["-p", str(web_port)]
    daemon_argv = [str(BIN / "dagster-daemon"), "run", "-w", workspace]
    with (
        DagsterInstance.get() as instance,
        service(code_server_argv, home / "code-server.log") as code_server,
    ):
        wait_for_port(grpc_port, code_server, home / "code-server.log")
        with (
            service(web_argv, home / "webserver.log") as web,
            service(daemon_argv, home / "daemon.log") as daemon,
        ):
            wait_for_webserver(web_port, web, home / "webserver.log")
            launched = graphql(
                web_port,
                LAUNCH_BACKFILL,
                {
                    "params": {
                        "assetSelection": [
                            {"path": [a]}
                            for a in ("raw_events", "validated_events", "rejected_events")
                        ]
                        + [{"path": ["event_features"]}],
                        "partitionNames": days,
                        "allPartitions": False,
                        "fromFailure": False,
                        "runConfigData": {},
                    }
                },
            )["launchPartitionBackfill"]
            assert launched["__typename"] == "LaunchBackfillSuccess", launched
            deadline = time.monotonic() + RUN_TIMEOUT
            while True:
                backfill = graphql(web_port, BACKFILL_STATUS, {"id": launched["backfillId"]})[
                    "partitionBackfillOrError"
                ]
                runs = backfill["runs"]
                done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
                if backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS") and len(done) == 4:
                    break
                assert daemon.poll() is None, tail(home / "daemon.log")
                assert time.monotonic() < deadline, (backfill, tail(home / "daemon.log"))
                time.sleep(1)
        ranges = sorted(
            (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"])
            for tags in ({t["key"]: t["value"] for t in r["tags"]} for r in runs)
        )
        assert ranges == [
            ("2025-11-10", "2025-11-12"),
            ("2025-11-13", "2025-11-15"),
            ("2025-11-16", "2025-11-18"),
            ("2025-11-19", "2025-11-19"),
        ]
        for run in runs:
            assert run["status"] == "SUCCESS", failure_report(instance, run["id"])
        assert instance.get_materialized_partitions(AssetKey("event_features")) == set(days)
    for day in days:
        features = read_parquet(store, FEATURE_BUCKET, asset_key_path("event_features", day))
        assert len(features) == 200


def test_missing_postgres_binaries_are_reported_not_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres, "DEBIAN_ROOT", tmp_path / "no-postgresql")
    with pytest.raises(postgres.PostgresUnavailable, match="initdb/pg_ctl"):
        postgres.find_bin_dir()
