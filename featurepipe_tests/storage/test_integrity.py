"""Reads that must be of one version of an object, deletes, and staging space a killed
process left behind: on local buckets and on a real S3-protocol server."""

import os
import shutil
import subprocess
import sys

import pytest

from featurepipe.storage import staging
from featurepipe.storage.objects import ObjectChanged
from featurepipe_tests.storage.support import put

DATA = b"one version of the object\n" * 4000
KEY = "raw/user_events_20251119.csv"


def read_all(stream, size: int = 1000) -> bytes:
    parts = []
    while part := stream.read(size):
        parts.append(part)
    return b"".join(parts)


def test_a_checked_read_of_an_unchanged_object_reads_it_whole(storage):
    store, bucket = storage.store, storage.raw_bucket
    put(store, bucket, KEY, DATA)
    info = store.require(bucket, KEY)
    with store.open(bucket, KEY, expected=info) as stream:
        assert read_all(stream) == DATA


def test_an_object_replaced_after_head_is_refused(storage):
    store, bucket = storage.store, storage.raw_bucket
    put(store, bucket, KEY, DATA)
    info = store.require(bucket, KEY)
    put(store, bucket, KEY, DATA.replace(b"one", b"two"))  # same size
    with (
        pytest.raises(ObjectChanged, match="changed after it was checked") as raised,
        store.open(bucket, KEY, expected=info) as stream,
    ):
        read_all(stream)
    assert store.uri(bucket, KEY) in str(raised.value)


def test_a_local_file_rewritten_in_place_while_read_is_refused(local_storage):
    store, bucket = local_storage.store, local_storage.raw_bucket
    put(store, bucket, KEY, DATA)
    info = store.require(bucket, KEY)
    path = store.path(bucket, KEY)
    with (
        pytest.raises(ObjectChanged, match="changed while it was read") as raised,
        store.open(bucket, KEY, expected=info) as stream,
    ):
        stream.read(1000)
        with path.open("r+b") as writer:  # the same inode, cut short
            writer.truncate(len(DATA) // 2)
        read_all(stream)
    assert str(path) in str(raised.value)


def test_a_local_file_rewritten_with_the_same_size_while_read_is_refused(local_storage):
    store, bucket = local_storage.store, local_storage.raw_bucket
    put(store, bucket, KEY, DATA)
    info = store.require(bucket, KEY)
    path = store.path(bucket, KEY)
    with (
        pytest.raises(ObjectChanged, match=r"changed while it was read \(ETag\)"),
        store.open(bucket, KEY, expected=info) as stream,
    ):
        stream.read(1000)
        with path.open("r+b") as writer:
            writer.write(DATA.replace(b"one", b"two"))
        read_all(stream)


def test_a_copy_keeping_size_and_time_gets_a_new_local_etag(local_storage, tmp_path):
    store, bucket = local_storage.store, local_storage.raw_bucket
    put(store, bucket, KEY, DATA)
    before = store.require(bucket, KEY)
    other = tmp_path / "other.csv"
    other.write_bytes(DATA.replace(b"one", b"two"))
    stat = os.stat(store.path(bucket, KEY))
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    subprocess.run(["cp", "-p", str(other), str(store.path(bucket, KEY))], check=True)
    after = store.require(bucket, KEY)
    assert (after.size, after.last_modified) == (before.size, before.last_modified)
    assert after.etag != before.etag


def test_delete_removes_an_object_once(storage):
    store, bucket = storage.store, storage.feature_bucket
    put(store, bucket, KEY, DATA)
    assert store.delete(bucket, KEY) is True
    assert store.head(bucket, KEY) is None
    assert store.delete(bucket, KEY) is False


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_staging_left_by_a_dead_process_is_reclaimed(tmp_path):
    configured = str(tmp_path / "staging")
    root = staging.staging_root(configured)
    orphan = root / f"{staging.tag(dead_pid())}abc123"
    (orphan / "day").mkdir(parents=True)
    (orphan / "day" / "validated.parquet").write_bytes(b"x" * 1000)
    with staging.staging_dir(configured) as mine:
        live = root / f"{staging.tag(os.getppid())}live"  # a running process's: kept
        elsewhere = root / f"{dead_pid()}@another-host~x"  # not ours to judge: kept
        live.mkdir()
        elsewhere.mkdir()
        assert staging.reclaim_orphans(configured) == [orphan]
        assert mine.is_dir() and live.is_dir()
    assert not mine.exists()
    assert sorted(p.name for p in root.iterdir()) == sorted([live.name, elsewhere.name])
    shutil.rmtree(live)


def test_a_local_write_killed_midway_is_swept_by_the_next_write(local_storage):
    store, bucket = local_storage.store, local_storage.feature_bucket
    put(store, bucket, KEY, DATA)
    target = store.path(bucket, KEY)
    stale = target.parent / f".{target.name}.{staging.tag(dead_pid())}k3j4l5.tmp"
    stale.write_bytes(DATA[:10])
    put(store, bucket, KEY, DATA[:100])
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
