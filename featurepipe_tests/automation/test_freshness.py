"""raw_events' FreshnessPolicy as the project defines it, judged by Dagster's own evaluator (the
one the daemon's freshness daemon runs) at chosen times; and nothing about freshness in a run."""

import asyncio
import datetime as dt
import subprocess
import sys

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.definitions.freshness_evaluator import FRESHNESS_EVALUATORS_BY_POLICY_TYPE
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time

from featurepipe.definitions import defs
from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.freshness import raw_file_due, with_raw_file_due
from featurepipe.defs.io_managers import RawFileIOManager
from featurepipe.settings import Settings
from featurepipe_tests.conftest import csv_bytes
from featurepipe_tests.defs.support import put_raw

RAW_EVENTS = dg.AssetKey("raw_events")
ROW = "2025-11-19T00:00:01Z,7,s1,click,ios,US,1,2.5,,10"


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def freshness(instance: dg.DagsterInstance, at: str) -> FreshnessState:
    """raw_events' state at `at`, as the daemon's freshness daemon would find it."""
    node = defs.resolve_asset_graph().get(RAW_EVENTS)
    evaluator = FRESHNESS_EVALUATORS_BY_POLICY_TYPE[type(node.freshness_policy)]()
    with freeze_time(utc(at)):
        return asyncio.run(evaluator.evaluate_freshness(LoadingContextForTest(instance), node))


def materialize_at(storage, instance: dg.DagsterInstance, day: str, at: str) -> None:
    resources = {"storage": storage, "raw_io_manager": RawFileIOManager(storage=storage)}
    with freeze_time(utc(at)):
        result = dg.materialize(
            [build_daily_events()],
            selection=[RAW_EVENTS],
            partition_key=day,
            resources=resources,
            instance=instance,
        )
    assert result.success


def test_raw_events_is_due_by_six_utc_the_next_day(local_storage):
    for day in ("2025-11-18", "2025-11-19", "2025-11-20"):
        put_raw(local_storage, day, csv_bytes(ROW))
    with dg.DagsterInstance.ephemeral() as instance:
        assert freshness(instance, "2025-11-20T07:00") == FreshnessState.UNKNOWN
        # The schedule runs 2025-11-19 at 00:15 the next day: fresh until the next deadline.
        materialize_at(local_storage, instance, "2025-11-19", "2025-11-20T00:15")
        assert freshness(instance, "2025-11-20T05:59") == FreshnessState.PASS
        assert freshness(instance, "2025-11-21T05:59") == FreshnessState.PASS
        # 2025-11-20 was not in by 06:00 on the 21st.
        assert freshness(instance, "2025-11-21T06:00") == FreshnessState.FAIL
        # Its file came late, at 09:00: fresh again from then on.
        materialize_at(local_storage, instance, "2025-11-20", "2025-11-21T09:00")
        assert freshness(instance, "2025-11-21T09:01") == FreshnessState.PASS
        # A day run before midnight cannot be the day that just ended: it does not count.
        materialize_at(local_storage, instance, "2025-11-18", "2025-11-22T23:00")
        assert freshness(instance, "2025-11-23T06:00") == FreshnessState.FAIL
        # But one run after midnight does, whichever day it is: 2025-11-22's file never came,
        # and the asset passes. raw_events' metadata says so (below).
        materialize_at(local_storage, instance, "2025-11-18", "2025-11-23T02:00")
        assert freshness(instance, "2025-11-23T06:00") == FreshnessState.PASS


def test_raw_events_says_what_its_freshness_shows():
    """Next to the policy's state on raw_events' page: the deadline, what Failing and Passing
    mean, and where the late day shows."""
    metadata = defs.resolve_asset_graph().get(RAW_EVENTS).metadata
    assert metadata["raw_file_due"] == "by 06:00 UTC the day after (the freshness policy)"
    assert "to the last 06:00 UTC deadline" in metadata["freshness_failing"]
    assert "a run of an older day counts too" in metadata["freshness_passing"]
    assert metadata["late_day"].startswith("the partitions bar shows it missing")
    nine = with_raw_file_due(build_daily_events(), 9).specs_by_key[RAW_EVENTS].metadata
    assert nine["raw_file_due"] == "by 09:00 UTC the day after (the freshness policy)"
    assert "to the last 09:00 UTC deadline" in nine["freshness_failing"]
    graph = defs.resolve_asset_graph()
    others = [k for k in graph.get_all_asset_keys() if k != RAW_EVENTS]
    assert not [k for k in others if "raw_file_due" in graph.get(k).metadata]


def test_the_deadline_hour_comes_from_the_environment():
    settings = Settings.from_env({"FEATUREPIPE_RAW_DEADLINE_HOUR": "9"})
    policy = raw_file_due(settings.raw_deadline_hour)
    assert policy.deadline_cron == "0 9 * * *"
    assert policy.lower_bound_delta == dt.timedelta(hours=9)
    assert policy.timezone == "UTC"


# Slow: a fresh interpreter per value (test_settings checks the message in process).
@pytest.mark.slow
@pytest.mark.parametrize("value", ["0", "24", "6.5"])
def test_a_deadline_hour_that_is_not_1_to_23_is_refused(value, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", "import featurepipe.definitions"],
        env={"FEATUREPIPE_RAW_DEADLINE_HOUR": value, "PATH": ""},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    message = f"FEATUREPIPE_RAW_DEADLINE_HOUR must be a whole number from 1 to 23, got '{value}'"
    assert message in proc.stderr


def test_no_run_evaluates_freshness():
    """Freshness is the daemon's: no asset check, no sensor, nothing a run could select."""
    graph = defs.resolve_asset_graph()
    checks = {key.name for key in graph.asset_check_keys}
    assert not [name for name in checks if "fresh" in name], checks
    assert [s.name for s in defs.sensors] == ["raw_file_sensor"]
    assert graph.get(RAW_EVENTS).freshness_policy is not None
    others = [k for k in graph.get_all_asset_keys() if k != RAW_EVENTS]
    assert all(graph.get(k).freshness_policy is None for k in others)
