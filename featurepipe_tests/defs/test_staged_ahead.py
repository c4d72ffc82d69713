"""Days staged ahead of the day being committed: in order, never more than DAYS_AHEAD at once,
and a run that stops takes what it staged with it."""

import threading
from contextlib import closing
from types import SimpleNamespace

import dagster as dg
import pytest

from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.day_run import (
    DayRun,
    History,
    Interrupted,
    Selection,
    Staged,
    staged_ahead,
)
from featurepipe.defs.derived import DERIVED
from featurepipe.defs.names import FEATURES, RAW, REJECTED, VALIDATED
from featurepipe.defs.resources import S3Connection, StorageResource
from featurepipe.settings import Settings
from featurepipe_tests.conftest import csv_bytes
from featurepipe_tests.defs.support import (
    RANGE_END,
    RANGE_START,
    expected_keys,
    filler,
    put_raw,
    resources,
    stored_keys,
)

WAIT = 10  # seconds; only ever reached when the behaviour under test is broken
DAYS_AHEAD = 2


class Day:
    """A day whose staging waits until the test lets it finish (or the run stops)."""

    def __init__(self, day: str, log: list[str], lock: threading.Lock):
        self.day, self.log, self.lock = day, log, lock
        self.finish = threading.Event()
        self.closed = threading.Event()

    def stage(self, stop: threading.Event) -> Staged:
        with self.lock:
            self.log.append(f"start {self.day}")
        while not (self.finish.is_set() or stop.is_set()):
            stop.wait(0.01)
        staged = Staged()
        staged.files.callback(self.closed.set)
        if stop.is_set() and not self.finish.is_set():
            staged.error = Interrupted(self.day)
        return staged


def make_days(n: int) -> tuple[list[Day], list[str]]:
    log: list[str] = []
    lock = threading.Lock()
    return [Day(f"d{i}", log, lock) for i in range(n)], log


def test_days_come_in_order_with_at_most_days_ahead_staging(tmp_path):
    days, log = make_days(5)
    seen = []
    with closing(staged_ahead(days, DAYS_AHEAD)) as staged_days:
        for i, (day, staging) in enumerate(staged_days):
            assert day is days[i]
            # Only this day and the ones after it, DAYS_AHEAD of them at most, have started.
            started = {entry.split()[1] for entry in log}
            assert started <= {d.day for d in days[: i + 1 + DAYS_AHEAD]}
            day.finish.set()
            staged = staging.result(timeout=WAIT)
            assert staged.error is None
            staged.close()
            seen.append(day.day)
    assert seen == [d.day for d in days]
    assert all(d.closed.is_set() for d in days)


def test_a_run_that_stops_removes_what_it_staged():
    days, log = make_days(6)
    running = days[DAYS_AHEAD]  # the last one staged ahead: still running when the run stops
    for day in days:
        if day is not running:
            day.finish.set()
    staged_days = staged_ahead(days, DAYS_AHEAD)
    _, staging = next(staged_days)
    staging.result(timeout=WAIT)
    while f"start {running.day}" not in log:
        threading.Event().wait(0.01)
    staged_days.close()
    started = [d for d in days if f"start {d.day}" in log]
    assert started == days[: 1 + DAYS_AHEAD]  # none beyond the days staged ahead
    assert all(d.closed.is_set() for d in started)  # each one's files are gone


def test_a_stopped_day_ends_its_staging_at_the_next_batch(tmp_path, local_root):
    staging_dir = tmp_path / "staging"
    storage = StorageResource(
        backend="local", local_root=str(local_root), s3=S3Connection(), staging_dir=str(staging_dir)
    )
    day = "2025-11-19"
    put_raw(storage, day, csv_bytes(*filler(day, 50)))
    selection = Selection(frozenset({RAW, VALIDATED, REJECTED, FEATURES}), frozenset())
    policy = SimpleNamespace(warn_ratio=0.01, error_ratio=0.05)
    run = DayRun(None, policy, storage, selection, DERIVED, History({}, frozenset()), day)

    stop = threading.Event()
    stop.set()
    staged = run.stage(stop)
    assert isinstance(staged.error, Interrupted)
    assert staged.validation is None and not staged.derived
    assert list(staging_dir.iterdir()) == [staged.work]
    staged.close()
    assert list(staging_dir.iterdir()) == []
    assert stored_keys(storage) == set()  # staging writes to no bucket


@pytest.mark.parametrize("ahead", [1, 3])
def test_a_range_leaves_no_staging_behind(tmp_path, local_root, ahead):
    staging_dir = tmp_path / "staging"
    storage = StorageResource(
        backend="local", local_root=str(local_root), s3=S3Connection(), staging_dir=str(staging_dir)
    )
    days = [f"2025-11-{d}" for d in range(19, 25)]
    for day in days:
        put_raw(storage, day, csv_bytes(*filler(day, 30)))
    assets = [build_daily_events(Settings(days_staged_ahead=ahead))]
    job = dg.Definitions(assets=assets, resources=resources(storage))
    result = job.resolve_implicit_global_asset_job_def().execute_in_process(
        tags={RANGE_START: days[0], RANGE_END: days[-1]}
    )
    assert result.success
    assert stored_keys(storage) == expected_keys(*days)
    assert list(staging_dir.iterdir()) == []
