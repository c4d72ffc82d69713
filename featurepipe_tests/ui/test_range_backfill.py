"""A backfill from the UI over days some of which cannot be used, through `dagster dev` and the
webserver's GraphQL API, on a user's project with its own asset downstream of event_features
(`defs/user_project.py`): the partition view shows the good days materialized and the others
failed, each day's checks are recorded on that day, the user's asset does not run in the failed
run, and a second backfill after the files are fixed fills the rest, the user's asset with it."""

import datetime as dt
import sys
import time
from pathlib import Path

import pytest

from featurepipe.core.sample import generate_day
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET, csv_bytes
from featurepipe_tests.defs.support import clean_env
from featurepipe_tests.ui.devserver import BACKFILL_STATUS, LAUNCH_BACKFILL, DevServer, serving

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).parent / "dagster"
DAYS = ["2025-11-17", "2025-11-18", "2025-11-19", "2025-11-20", "2025-11-21"]
GOOD, BLOCKED, MISSING, BAD_HEADER = (
    ["2025-11-17", "2025-11-21"],
    "2025-11-18",
    "2025-11-19",
    "2025-11-20",
)
ASSETS = ["raw_events", "validated_events", "rejected_events", "event_features", "features_per_day"]
WORKSPACE = """load_from:
  - python_module:
      module_name: featurepipe_tests.defs.user_project
      location_name: user_project
"""
DONE_BY = 120  # seconds for each backfill

PARTITIONS = """
query Partitions($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      assetPartitionStatuses {
        ... on TimePartitionStatuses { ranges { startKey endKey status } }
      }
      assetChecksOrError {
        ... on AssetChecks {
          checks {
            name
            partitionStatuses {
              ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } }
            }
          }
        }
      }
    }
  }
}"""


def raw_path(buckets: Path, day: str) -> Path:
    return buckets / RAW_BUCKET / f"user_events_{day.replace('-', '')}.csv"


def good(day: str) -> bytes:
    return b"".join(generate_day(dt.date.fromisoformat(day), rows=300, malformed=0.0))


def by_day(ranges: list[dict]) -> dict[str, str]:
    """{day: status} from the UI's compressed ranges."""
    status = {}
    for r in ranges:
        for day in DAYS:
            if r["startKey"] <= day <= r["endKey"]:
                status[day] = r["status"]
    return status


def backfill(server: DevServer, days: list[str]) -> dict:
    launched = server.graphql(
        LAUNCH_BACKFILL,
        {
            "params": {
                "assetSelection": [{"path": [a]} for a in ASSETS],
                "partitionNames": days,
                "allPartitions": False,
                "fromFailure": False,
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deadline = time.monotonic() + DONE_BY
    while True:
        found = server.graphql(BACKFILL_STATUS, {"id": launched["backfillId"]})[
            "partitionBackfillOrError"
        ]
        runs = found["runs"]
        if (
            found["status"] not in ("REQUESTED", "CANCELING")
            and runs
            and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs)
        ):
            return found
        assert time.monotonic() < deadline, (found, server.tail())
        time.sleep(1)


def statuses(server: DevServer, asset: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    node = server.graphql(PARTITIONS, {"path": [asset]})["assetNodeOrError"]
    partitions = by_day(node["assetPartitionStatuses"]["ranges"])
    checks = {
        c["name"]: by_day(c["partitionStatuses"]["ranges"]) if c["partitionStatuses"] else {}
        for c in node["assetChecksOrError"]["checks"]
    }
    return partitions, checks


def test_a_ui_backfill_over_bad_days_fills_the_good_ones(tmp_path):
    home, buckets, cwd = tmp_path / "home", tmp_path / "buckets", tmp_path / "cwd"
    for path in (home, cwd, buckets / RAW_BUCKET):
        path.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (cwd / "workspace.yaml").write_text(WORKSPACE)
    for day in GOOD:
        raw_path(buckets, day).write_bytes(good(day))
    missing_user = [f"{BLOCKED}T00:00:{i:02d}Z,,s{i},view,web,US,0,1,,1" for i in range(50)]
    raw_path(buckets, BLOCKED).write_bytes(good(BLOCKED) + "\n".join(missing_user).encode())
    header = "event_time,session_id,event_type"
    raw_path(buckets, BAD_HEADER).write_bytes(
        csv_bytes(f"{BAD_HEADER}T00:00:00Z,s,view", header=header)
    )

    env = clean_env(
        DAGSTER_HOME=str(home),
        FEATUREPIPE_STORAGE="local",
        FEATUREPIPE_LOCAL_ROOT=str(buckets),
        PYTHONPATH=str(REPO),
    )
    command = [str(DAGSTER), "dev", "-w", "workspace.yaml"]
    with serving(command, cwd, env, tmp_path / "dagster-dev.log") as server:
        first = backfill(server, DAYS)
        (run,) = first["runs"]  # one run for the range, which fails naming the bad days
        assert run["status"] == "FAILURE"

        # A day whose file could not be used records nothing; the user's asset waits for a run
        # where every day succeeded.
        expected = {
            "raw_events": {d: "MATERIALIZED" for d in [*GOOD, BLOCKED]},
            "validated_events": {d: "MATERIALIZED" for d in [*GOOD, BLOCKED]},
            "event_features": {d: "MATERIALIZED" for d in GOOD},
            "features_per_day": {},
        }
        for asset, materialized in expected.items():
            partitions, _ = statuses(server, asset)
            assert {d: s for d, s in partitions.items() if s == "MATERIALIZED"} == materialized
            # The others are failed (the run planned them and did not store them), not missing.
            assert {d for d, s in partitions.items() if s == "FAILED"} == set(DAYS) - set(
                materialized
            ), (asset, partitions)

        # Each check has its result on each day that got that far; on a day that failed before
        # it, the check shows that it could not be executed.
        could_not = "EXECUTION_FAILED"
        _, checks = statuses(server, "validated_events")
        assert checks["quarantine_ratio"] == {
            GOOD[0]: "SUCCEEDED",
            BLOCKED: "FAILED",
            MISSING: could_not,
            BAD_HEADER: could_not,
            GOOD[1]: "SUCCEEDED",
        }
        assert checks["pandera_schema"] == {
            **{d: "SUCCEEDED" for d in [GOOD[0], BLOCKED, GOOD[1]]},
            **{d: could_not for d in [MISSING, BAD_HEADER]},
        }
        _, checks = statuses(server, "event_features")
        for name in ("pandera_schema", "row_sum_not_null", "one_row_per_valid_event"):
            assert checks[name] == {
                **{d: "SUCCEEDED" for d in GOOD},
                **{d: could_not for d in [BLOCKED, MISSING, BAD_HEADER]},
            }, (name, checks[name])

        # The files are fixed; the failed days are launched again and stored.
        for day in (BLOCKED, MISSING, BAD_HEADER):
            raw_path(buckets, day).write_bytes(good(day))
        second = backfill(server, [BLOCKED, MISSING, BAD_HEADER])
        assert [r["status"] for r in second["runs"]] == ["SUCCESS"]
        for asset in ASSETS[:-1]:
            partitions, _ = statuses(server, asset)
            assert partitions == {d: "MATERIALIZED" for d in DAYS}, (asset, partitions)
        own, _ = statuses(server, "features_per_day")
        assert {d for d, s in own.items() if s == "MATERIALIZED"} == {BLOCKED, MISSING, BAD_HEADER}
    stored = {p.name for p in (buckets / FEATURE_BUCKET / "event_features").iterdir()}
    assert stored == {f"date={d}" for d in DAYS}
