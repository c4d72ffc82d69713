"""`dagster dev` for real: the webserver and daemon on loopback, driven through GraphQL.

One partition is launched as a run of the daily job, two more as an asset backfill of every
asset ("Materialize all") over a range; both must succeed, store their Parquet tables and
record their asset checks, none of which fails or is about another day. What the UI shows is
read back: readable step names, raw_events' freshness as the daemon judged it, a day's metadata.
Nothing prints a warning. The processes are shut down the way a person does it (Ctrl-C), and
none may be left behind.
"""

import datetime as dt
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster_graphql import DagsterGraphQLClient

from featurepipe.core.sample import generate_day
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET
from featurepipe_tests.defs.support import clean_env, warning_lines
from featurepipe_tests.ui.devserver import BACKFILL_STATUS, LAUNCH_BACKFILL, DevServer, serving

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).parent / "dagster"
DAYS = ["2025-11-17", "2025-11-18", "2025-11-19"]
ONE_DAY, RANGE = DAYS[-1], DAYS[:2]
TABLES = ["validated_events", "rejected_events", "event_features"]
ASSETS = ["raw_events", *TABLES]
# One process per run rather than one per step: the same result, far less CPU on a small box.
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
# Seconds from the start of `dagster dev` by which the runs are done; with the shutdown that
# follows, the test stays under 150 s even when it fails.
RUNS_DONE_BY = 115
DEV_NOTICE = "SupersessionWarning: Function `dev_command` is superseded"
# A step or check name a person reads: words and underscores, no hash.
READABLE = re.compile(r"[a-z]+(_[a-z]+)*")


@dataclass
class DagsterDev:
    server: DevServer
    home: Path
    buckets: Path

    @property
    def port(self) -> int:
        return self.server.port

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        return self.server.graphql(query, variables)

    def elapsed(self) -> float:
        return self.server.elapsed()

    def tail(self) -> str:
        return self.server.tail()


@pytest.fixture
def dagster_dev(tmp_path):
    home, buckets, cwd = tmp_path / "dagster_home", tmp_path / "buckets", tmp_path / "cwd"
    for path in (home, cwd, buckets / RAW_BUCKET):
        path.mkdir(parents=True)
    # A default instance, except that no telemetry leaves the machine: loopback only.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (cwd / "workspace.yaml").write_text((REPO / "workspace.yaml").read_text())
    for day in DAYS:
        data = b"".join(generate_day(dt.date.fromisoformat(day), rows=300, malformed=0.001))
        data += b"not-a-time,7,s1,click\n"  # at least one rejected row a day, for its page
        (buckets / RAW_BUCKET / f"user_events_{day.replace('-', '')}.csv").write_bytes(data)

    env = clean_env(
        DAGSTER_HOME=str(home),
        FEATUREPIPE_STORAGE="local",
        FEATUREPIPE_LOCAL_ROOT=str(buckets),
        # The daemon's freshness daemon looks every 5 s instead of 30.
        FRESHNESS_DAEMON_INTERVAL_SECONDS="5",
    )
    command = [str(DAGSTER), "dev", "-w", "workspace.yaml"]
    with serving(command, cwd, env, tmp_path / "dagster-dev.log") as server:
        yield DagsterDev(server, home, buckets)
        # Nothing the UI, the daemon, the code server or a run printed was a warning, but for
        # `dagster dev` saying that Dagster now prefers `dg dev`.
        warnings = [line for line in warning_lines(server.text()) if DEV_NOTICE not in line]
        assert warnings == []


STEPS = """
query Steps($id: ID!) {
  runOrError(runId: $id) { ... on Run { stepStats { stepKey status } } }
}"""

FRESHNESS = """
query Freshness {
  assetNodeOrError(assetKey: {path: ["raw_events"]}) {
    ... on AssetNode {
      freshnessStatusInfo { freshnessStatus }
      internalFreshnessPolicy {
        ... on CronFreshnessPolicy { deadlineCron lowerBoundDeltaSeconds timezone }
      }
    }
  }
}"""

DAY_METADATA = """
query Day($path: [String!]!, $day: String!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      kinds
      metadataEntries {
        label
        ... on TableSchemaMetadataEntry {
          schema { columns { name description constraints { nullable unique other } } }
        }
      }
      assetMaterializations(partitions: [$day], limit: 1) {
        metadataEntries {
          label
          __typename
          ... on PathMetadataEntry { path }
          ... on TextMetadataEntry { text }
          ... on TableMetadataEntry { table { records } }
        }
      }
    }
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
    # Every check is evaluated per day, the range run's days included: none is skipped.
    for name, check in checks.items():
        ranges = check["partitionStatuses"]["ranges"]
        assert ranges == [{"startKey": DAYS[0], "endKey": DAYS[-1], "status": "SUCCEEDED"}], (
            name,
            ranges,
        )

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
        check_names = {key[1] for key in evaluations}
    assert all(READABLE.fullmatch(name) for name in check_names), check_names

    # The run view names every step after what it does, and none is about freshness.
    for run in (run_id, backfill_run["id"]):
        steps = server.graphql(STEPS, {"id": run})["runOrError"]["stepStats"]
        keys = {step["stepKey"] for step in steps}
        assert keys == {"daily_events"}, keys
        assert all(READABLE.fullmatch(k) for k in keys), keys
        assert not [k for k in keys if "fresh" in k], keys

    # The daemon judged raw_events fresh once it was materialized, by the project's policy.
    while True:
        node = server.graphql(FRESHNESS)["assetNodeOrError"]
        if node["freshnessStatusInfo"]["freshnessStatus"] == "HEALTHY":
            break
        assert server.elapsed() < RUNS_DONE_BY + 20, (node, server.tail())
        time.sleep(2)
    assert node["internalFreshnessPolicy"] == {
        "deadlineCron": "0 6 * * *",
        "lowerBoundDeltaSeconds": 6 * 3600,
        "timezone": "UTC",
    }

    # A day of rejected_events: whole rows, reasons as a table, where the table is, the schema.
    node = server.graphql(DAY_METADATA, {"path": ["rejected_events"], "day": ONE_DAY})[
        "assetNodeOrError"
    ]
    (materialization,) = node["assetMaterializations"]
    entries = {e["label"]: e for e in materialization["metadataEntries"]}
    stored = server.buckets / FEATURE_BUCKET / f"rejected_events/date={ONE_DAY}/part.parquet"
    assert entries["stored_table"] == {
        "label": "stored_table",
        "__typename": "PathMetadataEntry",
        "path": str(stored.resolve()),
    }
    rows = [json.loads(r) for r in entries["preview"]["table"]["records"]]
    assert rows and all(row["record"] and row["reason"] for row in rows)
    reasons = [json.loads(r) for r in entries["quarantine_reasons"]["table"]["records"]]
    rejected = pd.read_parquet(stored)
    assert sum(r["rows"] for r in reasons) == len(rejected)
    # Every rejected row of the day is in the table (fewer than its bound), the rest one
    # command away; the badge says the files are local.
    assert [r["line"] for r in rows] == list(rejected["line"][:100])
    assert entries["all_rejects"]["text"] == f"featurepipe rejects {ONE_DAY}"
    assert set(node["kinds"]) == {"pandas", "parquet"}
    raw = server.graphql(DAY_METADATA, {"path": ["raw_events"], "day": ONE_DAY})
    assert set(raw["assetNodeOrError"]["kinds"]) == {"file", "csv"}
    # The column schema is the asset's, shown before any run; each day shows its rows.
    definition = {e["label"]: e for e in node["metadataEntries"]}
    columns = {c["name"]: c for c in definition["dagster/column_schema"]["schema"]["columns"]}
    assert columns["reason"]["description"] == "The first rule of the contract it broke."
    rule = columns["reason"]["constraints"]["other"][0]
    assert rule.startswith("one of: unterminated_quote, field_count")
    assert all(c["description"] for c in columns.values())
