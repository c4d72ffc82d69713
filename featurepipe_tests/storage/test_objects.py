"""LocalStore and S3Store (a real S3-protocol server over HTTP) behave alike."""

import datetime as dt

import pytest

from featurepipe.storage.objects import LocalStore, ObjectNotFound, S3Store, StorageError
from featurepipe_tests.storage.support import assert_nothing_stray, keys, put, read

OLD, NEW = b"old version\n" * 100, b"new version, longer\n" * 100
KEY = "tbl/date=2025-11-19/part.bin"


def test_head_describes_the_object(storage):
    store, bucket = storage.store, storage.feature_bucket
    assert store.head(bucket, KEY) is None
    put(store, bucket, KEY, OLD)
    info = store.head(bucket, KEY)
    assert (info.bucket, info.key, info.size) == (bucket, KEY, len(OLD))
    assert info.uri == store.uri(bucket, KEY)
    assert info.etag and '"' not in info.etag
    assert isinstance(info.last_modified, dt.datetime)
    assert info.last_modified.utcoffset() == dt.timedelta(0)
    assert store.require(bucket, KEY) == info

    put(store, bucket, KEY, NEW)
    replaced = store.head(bucket, KEY)
    assert replaced.size == len(NEW)
    assert replaced.etag != info.etag


def test_head_is_none_for_what_is_not_an_object(storage):
    store, bucket = storage.store, storage.feature_bucket
    put(store, bucket, KEY, OLD)
    assert store.head(bucket, "tbl") is None  # a prefix (a directory, locally)
    assert store.head(bucket, "tbl/date=2025-11-19") is None
    assert store.head(bucket, f"{KEY}/below") is None  # under an object (a file, locally)
    assert store.head(bucket, "tbl/date=2025-11-20/part.bin") is None
    with pytest.raises(ObjectNotFound, match="does not exist") as raised:
        store.require(bucket, "tbl/date=2025-11-20/part.bin")
    assert store.uri(bucket, "tbl/date=2025-11-20/part.bin") in str(raised.value)


def test_open_streams_the_bytes(storage):
    store, bucket = storage.store, storage.feature_bucket
    put(store, bucket, KEY, OLD)
    with store.open(bucket, KEY) as stream:
        chunks = []
        while chunk := stream.read(257):
            chunks.append(chunk)
    assert len(chunks) > 1
    assert b"".join(chunks) == OLD
    with store.local_copy(bucket, KEY) as path:
        assert path.read_bytes() == OLD


@pytest.mark.parametrize("key", ["tbl/date=2025-11-20/part.bin", "tbl", f"{KEY}/below"])
def test_open_what_is_not_an_object(storage, key):
    store, bucket = storage.store, storage.feature_bucket
    put(store, bucket, KEY, OLD)
    with pytest.raises(ObjectNotFound) as raised:
        read(store, bucket, key)
    assert key in str(raised.value)
    with pytest.raises(ObjectNotFound) as raised, store.local_copy(bucket, key):
        pass
    assert key in str(raised.value)


def test_staged_write_is_invisible_until_it_commits(storage):
    store, bucket = storage.store, storage.feature_bucket
    put(store, bucket, KEY, OLD)
    old = store.head(bucket, KEY)
    with store.staged(bucket, KEY) as path:
        path.write_bytes(NEW)
        assert read(store, bucket, KEY) == OLD
        assert store.head(bucket, KEY) == old
        assert keys(store, bucket) == [KEY]
    assert read(store, bucket, KEY) == NEW
    assert_nothing_stray(storage, [KEY])


def test_new_object_is_invisible_until_it_commits(storage):
    store, bucket = storage.store, storage.feature_bucket
    with store.staged(bucket, KEY) as path:
        path.write_bytes(NEW)
        assert store.head(bucket, KEY) is None
        assert keys(store, bucket) == []
    assert read(store, bucket, KEY) == NEW


def test_failed_staged_write_keeps_the_previous_object(storage):
    store, bucket = storage.store, storage.feature_bucket
    put(store, bucket, KEY, OLD)
    old = store.head(bucket, KEY)
    with pytest.raises(RuntimeError, match="writer failed"), store.staged(bucket, KEY) as path:
        path.write_bytes(NEW[: len(NEW) // 2])
        raise RuntimeError("writer failed")
    assert store.head(bucket, KEY) == old
    assert read(store, bucket, KEY) == OLD
    assert_nothing_stray(storage, [KEY])


def test_failed_first_write_leaves_nothing(storage):
    store, bucket = storage.store, storage.feature_bucket
    with pytest.raises(RuntimeError, match="writer failed"), store.staged(bucket, KEY) as path:
        path.write_bytes(NEW[:10])
        raise RuntimeError("writer failed")
    assert store.head(bucket, KEY) is None
    assert_nothing_stray(storage, [])


def test_list_with_prefix_in_key_order(storage):
    store, bucket = storage.store, storage.feature_bucket
    names = ["b/1", "a/b/3", "a-c", "a/2", "a/1", "ab"]
    for i, name in enumerate(names):
        put(store, bucket, name, b"x" * i)
    assert keys(store, bucket) == sorted(names)  # S3 order: 'a-c' < 'a/1' < 'ab'
    assert keys(store, bucket, "a/") == ["a/1", "a/2", "a/b/3"]
    assert keys(store, bucket, "a") == ["a-c", "a/1", "a/2", "a/b/3", "ab"]
    assert keys(store, bucket, "c") == []
    for info in store.list(bucket):
        head = store.head(bucket, info.key)
        assert (info.uri, info.bucket, info.key, info.size, info.etag) == (
            head.uri,
            head.bucket,
            head.key,
            head.size,
            head.etag,
        )
        assert info.size == names.index(info.key)


def test_list_skips_temp_files_left_by_a_crash(local_storage):
    store, bucket = local_storage.store, local_storage.feature_bucket
    put(store, bucket, KEY, OLD)
    stale = store.path(bucket, KEY).parent / ".part.bin.k3j4l5.tmp"
    stale.write_bytes(NEW[:10])
    assert keys(store, bucket) == [KEY]
    assert read(store, bucket, KEY) == OLD


def test_list_reads_every_page(s3_storage):
    """S3 lists at most MaxKeys objects a request; the store must follow continuations."""
    store, bucket = s3_storage.store, s3_storage.feature_bucket
    assert isinstance(store, S3Store)
    names = [f"p/{i:02d}" for i in range(7)]
    for name in names:
        put(store, bucket, name, b"x")
    pages = []
    events = store.client.meta.events
    events.register("before-parameter-build.s3.ListObjectsV2", _small_pages)
    events.register("after-call.s3.ListObjectsV2", lambda parsed, **_: pages.append(parsed))
    try:
        assert keys(store, bucket, "p/") == names
    finally:
        events.unregister("before-parameter-build.s3.ListObjectsV2", _small_pages)
    assert [len(page.get("Contents", [])) for page in pages] == [2, 2, 2, 1]
    assert all(page["IsTruncated"] for page in pages[:-1])


def _small_pages(params, **_):
    params["MaxKeys"] = 2


def test_list_of_a_missing_bucket(storage):
    """Locally a bucket appears with its first object; on S3 it must exist."""
    store = storage.store
    if isinstance(store, LocalStore):
        assert keys(store, "no-such-bucket") == []
    else:
        with pytest.raises(StorageError, match="bucket does not exist") as raised:
            keys(store, "no-such-bucket")
        assert "s3://no-such-bucket" in str(raised.value)
