"""Reruns are idempotent, and two runs of one day at once leave one complete version."""

import threading

import dagster as dg
import pandas as pd
import pytest

from featurepipe_tests.conftest import csv_bytes
from featurepipe_tests.defs.support import (
    ASSETS,
    TABLES,
    filler,
    put_raw,
    resources,
    stored_bytes,
    stored_keys,
    stored_table,
)

DAY = "2025-11-19"
BROKEN = ["not-a-time,1,s,view,web,US,0,1,,1", "short,row"]


@pytest.fixture(params=["local_storage", "s3_storage"])
def storage(request):
    storage = request.getfixturevalue(request.param)
    put_raw(storage, DAY, csv_bytes(*filler(DAY, 400), *BROKEN))
    return storage


def materialize(storage) -> None:
    # An instance per call, closed by the thread that made it (SQLite is per thread).
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            ASSETS, partition_key=DAY, resources=resources(storage), instance=instance
        )
        assert result.success


def snapshot(storage) -> dict[str, bytes]:
    return {key: stored_bytes(storage, key) for key in sorted(stored_keys(storage))}


def test_three_reruns_store_identical_data(storage):
    materialize(storage)
    first = snapshot(storage)
    for _ in range(2):
        materialize(storage)
        assert snapshot(storage) == first
    rejected = stored_table(storage, "rejected_events", DAY)
    assert list(rejected["line"]) == [402, 403]  # once each, not once per run
    assert len(stored_table(storage, "event_features", DAY)) == 400


def test_two_runs_of_one_day_at_once_leave_one_consistent_version(storage):
    errors = []

    def run():
        try:
            materialize(storage)
        except Exception as err:  # reported below, with the thread's own error
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert stored_keys(storage) == {f"{t}/date={DAY}/part.parquet" for t in TABLES}
    events = stored_table(storage, "validated_events", DAY)
    features = stored_table(storage, "event_features", DAY)
    assert len(events) == len(features) == 400
    pd.testing.assert_series_equal(events["user_id"], features["user_id"])
    assert list(stored_table(storage, "rejected_events", DAY)["line"]) == [402, 403]
