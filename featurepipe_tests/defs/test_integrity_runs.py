"""Runs never leave a day whose tables disagree: a blocked rerun removes the old features, a
raw file that changes while it is read fails its day, and a killed run's staging space is
reclaimed by the next run while the stored day stays as it was."""

import datetime as dt
import os
import re
import signal
import subprocess
import time

import dagster as dg
import pytest
from dagster import materialize

from featurepipe.core.sample import generate_day
from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.resources import S3Connection, StorageResource
from featurepipe.settings import Settings
from featurepipe.storage.keys import legacy_features_key, raw_key
from featurepipe_tests.conftest import RAW_BUCKET, csv_bytes
from featurepipe_tests.defs.support import (
    ASSETS,
    VENV_BIN,
    clean_env,
    dagster_home,
    expected_keys,
    failure_text,
    filler,
    put_raw,
    resources,
    stored_bytes,
    stored_keys,
    stored_table,
)

DAY = "2025-11-19"


def test_a_blocked_rerun_leaves_no_features_of_the_old_file(storage):
    legacy = [build_daily_events(Settings(legacy_csv=True))]
    put_raw(storage, DAY, csv_bytes(*filler(DAY, 100)))
    assert materialize(legacy, partition_key=DAY, resources=resources(storage)).success
    assert legacy_features_key(DAY) in stored_keys(storage)

    # The file is replaced by one with a third of its rows quarantined.
    bad = [f"{DAY}T00:00:{i:02d}Z,,s{i},view,web,US,0,1,,1" for i in range(50)]
    put_raw(storage, DAY, csv_bytes(*bad, *filler(DAY, 100, first_user=7000)))
    result = materialize(
        legacy, partition_key=DAY, resources=resources(storage), raise_on_error=False
    )
    assert not result.success
    assert re.search(
        r"DayBlocked: \S+user_events_\d{8}\.csv: quarantine_ratio: 33\.33%", failure_text(result)
    )
    # The new rows and quarantine are stored; no table derived from the old file is left.
    assert stored_keys(storage) == expected_keys(
        DAY, tables=("validated_events", "rejected_events")
    )
    assert stored_table(storage, "validated_events", DAY)["user_id"].iloc[0] == 7000


def test_a_raw_file_replaced_while_its_day_runs_fails_that_day(storage, monkeypatch):
    put_raw(storage, DAY, csv_bytes(*filler(DAY, 100)))
    store_type = type(storage.store)
    head = store_type.require

    def head_then_replace(self, bucket, key):
        info = head(self, bucket, key)
        if bucket == RAW_BUCKET:  # a new upload lands between HEAD and GET
            put_raw(storage, DAY, csv_bytes(*filler(DAY, 100, first_user=5000)))
        return info

    monkeypatch.setattr(store_type, "require", head_then_replace)
    result = materialize(
        ASSETS, partition_key=DAY, resources=resources(storage), raise_on_error=False
    )
    assert not result.success
    text = failure_text(result)
    assert "ObjectChanged" in text
    assert f"{storage.store.uri(RAW_BUCKET, raw_key(DAY))}: the object changed" in text or (
        f"{storage.store.uri(RAW_BUCKET, raw_key(DAY))}: the file changed" in text
    )
    assert stored_keys(storage) == set()


@pytest.mark.slow
def test_a_killed_run_leaves_the_stored_day_and_its_staging_is_reclaimed(local_storage, tmp_path):
    put_raw(local_storage, DAY, csv_bytes(*filler(DAY, 100)))
    assert materialize(ASSETS, partition_key=DAY, resources=resources(local_storage)).success
    before = {key: stored_bytes(local_storage, key) for key in expected_keys(DAY)}

    big = b"".join(generate_day(dt.date(2025, 11, 19), rows=1_500_000, malformed=0.001))
    put_raw(local_storage, DAY, big)
    root = tmp_path / "staging"
    env = clean_env(
        FEATUREPIPE_LOCAL_ROOT=str(local_storage.store.root),
        FEATUREPIPE_STAGING_DIR=str(root),
        DAGSTER_HOME=str(dagster_home(tmp_path / "home")),
    )
    args = [str(VENV_BIN / "dagster"), "asset", "materialize", "-m", "featurepipe.definitions"]
    args += ["--select", "*", "--partition", DAY]
    proc = subprocess.Popen(
        args,
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    try:
        while not any(p.name == "validated.parquet" for p in root.rglob("*")):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run never started staging"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    (orphan,) = root.iterdir()
    assert {key: stored_bytes(local_storage, key) for key in before} == before

    staged = StorageResource(
        local_root=str(local_storage.store.root), staging_dir=str(root), s3=S3Connection()
    )
    with dg.instance_for_test() as instance:
        result = materialize(
            ASSETS, partition_key=DAY, resources=resources(staged), instance=instance
        )
    assert result.success
    assert not orphan.exists()
    assert list(root.iterdir()) == []
    assert len(stored_table(local_storage, "event_features", DAY)) > 1_400_000


@pytest.mark.slow
def test_a_stray_quote_in_a_day_of_a_million_events_costs_its_line(storage):
    """The hostile-input review's case, through Dagster: line 13 opens a quote it never closes."""
    rows = 1_000_000
    lines = b"".join(generate_day(dt.date(2025, 11, 19), rows, malformed=0.0)).split(b"\n")
    head, _, last = lines[12].rpartition(b",")
    lines[12] = head + b',"' + last
    put_raw(storage, DAY, b"\n".join(lines))
    result = materialize(ASSETS, partition_key=DAY, resources=resources(storage))
    assert result.success
    (meta,) = (
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("validated_events")
    )
    assert (meta["rows_in"].value, meta["valid"].value) == (rows, rows - 1)
    assert (meta["quarantined"].value, meta["quarantined_lines"].value) == (1, 1)
    rejected = stored_table(storage, "rejected_events", DAY)
    assert rejected[["line", "lines", "reason"]].values.tolist() == [[13, 1, "unterminated_quote"]]
    assert len(stored_table(storage, "event_features", DAY)) == rows - 1
