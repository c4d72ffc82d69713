"""`dagster dev` for real: the webserver and daemon on loopback, driven through GraphQL.

One partition is launched as a run of the daily job, two more as an asset backfill over a
range; both must succeed, store their Parquet tables and record their asset checks. The
processes are shut down the way a person does it (Ctrl-C), and none may be left behind.
"""

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql import DagsterGraphQLClient

from featurepipe.core.sample import generate_day
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET, free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).parent / "dagster"
DAYS = ["2025-11-17", "2025-11-18", "2025-11-19"]
ONE_DAY, RANGE = DAYS[-1], DAYS[:2]
TABLES = ["validated_events", "rejected_events", "event_features"]
ASSETS = ["raw_events", *TABLES]
# One process per run rather than one per step: the same result, far less CPU on a small box.
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
# Bounds, in seconds from the start of `dagster dev`; the shutdown that follows takes at most
# SHUTDOWN_GRACE + 20, so the whole test stays under 150 s even when it fails.
STARTUP_BY = 50
RUNS_DONE_BY = 115
SHUTDOWN_GRACE = 15
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy, ever


@dataclass
class DagsterDev:
    process: subprocess.Popen
    port: int
    home: Path
    buckets: Path
    log: Path
    started: float

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with DIRECT.open(request, timeout=30) as response:
            payload = json.load(response)
        assert not payload.get("errors"), payload["errors"]
        return payload["data"]

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _restore_sigint() -> None:
    # A shell that starts pytest in the background ignores SIGINT, and ignored signals are
    # inherited: give `dagster dev` back its Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def dagster_dev(tmp_path, monkeypatch):
    # Loopback only: never through a proxy, whatever the environment says.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    home, buckets, cwd = tmp_path / "dagster_home", tmp_path / "buckets", tmp_path / "cwd"
    for path in (home, cwd, buckets / RAW_BUCKET):
        path.mkdir(parents=True)
    # A default instance, except that no telemetry leaves the machine: loopback only.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (cwd / "workspace.yaml").write_text((REPO / "workspace.yaml").read_text())
    for day in DAYS:
        data = b"".join(generate_day(dt.date.fromisoformat(day), rows=300, malformed=0.001))
        (buckets / RAW_BUCKET / f"user_events_{day.replace('-', '')}.csv").write_bytes(data)

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FEATUREPIPE_", "AWS_", "DAGSTER_"))
    }
    env.update(
        DAGSTER_HOME=str(home),
        FEATUREPIPE_STORAGE="local",
        FEATUREPIPE_LOCAL_ROOT=str(buckets),
    )
    port = free_port()
    log = tmp_path / "dagster-dev.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: every child can be found and ended
            preexec_fn=_restore_sigint,
        )
    server = DagsterDev(process, port, home, buckets, log, started)
    try:
        _wait_until_loaded(server)
        yield server
    finally:
        clean = _shut_down(process)
    assert clean, f"dagster dev left processes behind or did not stop on Ctrl-C\n{server.tail()}"


def _wait_until_loaded(server: DagsterDev) -> None:
    while True:
        assert server.process.poll() is None, f"dagster dev exited\n{server.tail()}"
        assert server.elapsed() < STARTUP_BY, f"dagster dev did not come up\n{server.tail()}"
        with contextlib.suppress(OSError, ValueError):
            with DIRECT.open(f"{server.url}/server_info", timeout=5) as response:
                info = json.load(response)
            if "dagster_webserver_version" in info and _location_loaded(server):
                return
        time.sleep(1)


def _location_loaded(server: DagsterDev) -> bool:
    data = server.graphql(
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
        "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
    )
    entries = data["workspaceOrError"]["locationEntries"]
    for entry in entries:
        error = entry["locationOrLoadError"]
        assert error is None or error["__typename"] != "PythonError", error
    return [(e["name"], e["loadStatus"]) for e in entries] == [("featurepipe", "LOADED")]


def _shut_down(process: subprocess.Popen) -> bool:
    """Ctrl-C, as a person would; then make sure, by force if need be, that nothing is left.
    True when everything stopped on its own."""
    pgid = process.pid
    clean = True
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(SHUTDOWN_GRACE)
        except subprocess.TimeoutExpired:
            clean = False
    clean = clean and process.returncode == 0
    if not _wait_group_gone(pgid, 10):
        clean = False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        if not _wait_group_gone(pgid, 3):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
    process.wait(5)
    return clean and not _group_alive(pgid)


LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}"""

BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status runs(limit: 10) { id status tags { key value } } }
    ... on PythonError { message }
  }
}"""

ASSET_CHECKS = """
query Checks($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      assetChecksOrError {
        ... on AssetChecks {
          checks {
            name
            blocking
            executionForLatestMaterialization { status evaluation { success severity } }
            partitionStatuses {
              ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } }
            }
          }
        }
      }
    }
  }
}"""


def test_materialize_and_backfill_through_the_webserver(dagster_dev):
    server = dagster_dev
    client = DagsterGraphQLClient("127.0.0.1", port_number=server.port, timeout=60)

    # One partition: a run of the daily job, tagged with its day, as the Launchpad does it.
    run_id = client.submit_job_execution(
        "featurepipe_daily",
        repository_location_name="featurepipe",
        run_config=IN_PROCESS,
        tags={"dagster/partition": ONE_DAY},
    )
    # A range: an asset backfill over two days (one run, by the single-run backfill policy).
    launched = server.graphql(
        LAUNCH_BACKFILL,
        {
            "params": {
                "assetSelection": [{"path": [asset]} for asset in ASSETS],
                "partitionNames": RANGE,
                "allPartitions": False,
                "fromFailure": False,
                "runConfigData": IN_PROCESS,
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    while True:
        run_status = client.get_run_status(run_id)
        backfill = server.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        assert run_status not in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED), (
            f"the run {run_id} ended {run_status}\n{server.tail()}"
        )
        assert backfill["status"] not in ("FAILED", "CANCELED", "COMPLETED_FAILED"), backfill
        if run_status == dg.DagsterRunStatus.SUCCESS and backfill["status"] in (
            "COMPLETED",
            "COMPLETED_SUCCESS",
        ):
            break
        assert server.elapsed() < RUNS_DONE_BY, (
            f"not done by {RUNS_DONE_BY}s: run {run_status}, backfill {backfill}\n{server.tail()}"
        )
        time.sleep(2)

    # The backfill made one run for the whole range.
    (backfill_run,) = backfill["runs"]
    assert backfill_run["status"] == "SUCCESS"
    tags = {t["key"]: t["value"] for t in backfill_run["tags"]}
    assert tags["dagster/asset_partition_range_start"] == RANGE[0]
    assert tags["dagster/asset_partition_range_end"] == RANGE[-1]

    # Every day's tables are stored.
    stored = {
        p.relative_to(server.buckets / FEATURE_BUCKET).as_posix()
        for p in (server.buckets / FEATURE_BUCKET).rglob("*.parquet")
    }
    assert stored == {f"{t}/date={day}/part.parquet" for t in TABLES for day in DAYS}

    # The checks' results are recorded where the UI reads them.
    checks = {}
    for asset in ("validated_events", "event_features"):
        node = server.graphql(ASSET_CHECKS, {"path": [asset]})["assetNodeOrError"]
        for check in node["assetChecksOrError"]["checks"]:
            checks[f"{asset}:{check['name']}"] = check
    assert checks["validated_events:quarantine_ratio"]["blocking"] is True
    for name in (
        "validated_events:quarantine_ratio",
        "event_features:row_sum_not_null",
        "event_features:one_row_per_valid_event",
    ):
        execution = checks[name]["executionForLatestMaterialization"]
        assert execution["status"] == "SUCCEEDED", (name, execution)
        assert execution["evaluation"]["success"] is True, (name, execution)
    # The partitioned pandera checks record their day for the one-partition run.
    for name in ("validated_events:pandera_schema", "event_features:pandera_schema"):
        ranges = checks[name]["partitionStatuses"]["ranges"]
        assert {"startKey": ONE_DAY, "endKey": ONE_DAY, "status": "SUCCEEDED"} in ranges, ranges

    # And in the instance's event log, run by run.
    with dg.DagsterInstance.from_config(str(server.home)) as instance:
        for run in (run_id, backfill_run["id"]):
            records = instance.all_logs(run, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
            evaluations = {
                (
                    e.asset_check_key.asset_key.to_user_string(),
                    e.asset_check_key.name,
                ): e
                for e in (r.dagster_event.event_specific_data for r in records)
            }
            assert {
                ("validated_events", "quarantine_ratio"),
                ("validated_events", "pandera_schema"),
                ("event_features", "pandera_schema"),
                ("event_features", "row_sum_not_null"),
                ("event_features", "one_row_per_valid_event"),
            } <= set(evaluations)
            failed = {key for key, e in evaluations.items() if not e.passed}
            assert not failed, failed
        single = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        partitions = {
            r.dagster_event.event_specific_data.asset_check_key.name: (
                r.dagster_event.event_specific_data.partition
            )
            for r in single
            if r.dagster_event.event_specific_data.asset_check_key.asset_key.path
            == ["validated_events"]
        }
        assert partitions["pandera_schema"] == ONE_DAY
