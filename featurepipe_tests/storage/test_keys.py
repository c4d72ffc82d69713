"""Object naming and path safety: nothing names an object outside its bucket."""

import datetime as dt
import os

import pytest

from featurepipe.defs.resources import S3Connection, StorageResource
from featurepipe.storage.keys import (
    asset_key_path,
    check_bucket,
    check_key,
    partition_date,
    raw_key,
    raw_key_date,
)
from featurepipe.storage.objects import LocalStore, S3Store
from featurepipe_tests.conftest import FEATURE_BUCKET
from featurepipe_tests.storage.support import operations

BAD_PARTITION_KEYS = [
    "",
    "20251119",  # fromisoformat accepts it; it is not a partition key
    "2025-W47-3",
    "2025-11-19T00:00:00",
    "2025-11-19 ",
    " 2025-11-19",
    "2025-11-19\n",
    "2025-1-9",
    "2025-02-30",
    "２０２５-11-19",  # full-width digits
    "../2025-11-19",
    "2025-11-19/../../etc",
]
BAD_KEYS = [
    "",
    "/etc/passwd",
    "../x",
    "..",
    ".",
    "a/../../x",
    "a/../b",
    "a//b",
    "a/./b",
    "a/",
    "./a",
    ".hidden",
    "a/.part.parquet.abc123.tmp",
    "a\0b",
]
BAD_BUCKETS = [
    "../x",
    "..",
    "UPPER",
    "a",
    "ab",
    "-abc",
    "abc-",
    "a..b",
    "a/b",
    "",
    "x" * 64,
    "abc\n",
    ".abc",
    "bucket/../x",
]


def test_partition_keys_are_days():
    assert partition_date("2025-11-19") == dt.date(2025, 11, 19)
    assert raw_key("2025-11-19") == "user_events_20251119.csv"
    assert asset_key_path("event_features", "2025-11-19") == (
        "event_features/date=2025-11-19/part.parquet"
    )


@pytest.mark.parametrize("partition_key", BAD_PARTITION_KEYS)
@pytest.mark.parametrize("name", [partition_date, raw_key, lambda p: asset_key_path("t", p)])
def test_other_partition_keys_are_refused(name, partition_key):
    with pytest.raises(ValueError, match="not a daily partition key"):
        name(partition_key)


@pytest.mark.parametrize(
    ("key", "day"),
    [
        ("user_events_20251119.csv", dt.date(2025, 11, 19)),
        ("user_events_20251119.csv\n", None),
        ("user_events_20251119.csv.tmp", None),
        ("x/user_events_20251119.csv", None),
        ("user_events_20251399.csv", None),
        ("user_events_2025111.csv", None),
    ],
)
def test_raw_key_date(key, day):
    assert raw_key_date(key) == day


@pytest.mark.parametrize("bucket", ["abc", "datapipeline-raw-data", "a.b-c", "x" * 63])
def test_good_bucket_names(bucket):
    assert check_bucket(bucket) == bucket


@pytest.mark.parametrize("bucket", BAD_BUCKETS)
def test_bad_bucket_names_are_refused(bucket):
    with pytest.raises(ValueError, match="invalid bucket name"):
        check_bucket(bucket)


@pytest.mark.parametrize("bucket", BAD_BUCKETS)
def test_storage_resource_refuses_bad_buckets(bucket, local_root):
    storage = StorageResource(local_root=str(local_root), feature_bucket=bucket, s3=S3Connection())
    with pytest.raises(ValueError, match="invalid bucket name"):
        _ = storage.store


def _every_operation(store, bucket: str, key: str):
    """Each store operation on (bucket, key)."""
    ops = operations(store, bucket, key)
    return [ops["head"], ops["stage"], ops["open"], ops["copy"]]


def _files(root) -> set[str]:
    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files}


@pytest.mark.parametrize("key", BAD_KEYS)
def test_local_store_refuses_bad_keys(key, tmp_path):
    root = tmp_path / "root"
    (root / FEATURE_BUCKET / "a").mkdir(parents=True)
    store = LocalStore(root)
    before = _files(tmp_path)
    with pytest.raises(ValueError, match="invalid object key"):
        check_key(FEATURE_BUCKET, key)
    for operation in _every_operation(store, FEATURE_BUCKET, key):
        with pytest.raises(ValueError, match="invalid object key"):
            operation()
    assert _files(tmp_path) == before


@pytest.mark.parametrize("bucket", BAD_BUCKETS)
def test_local_store_refuses_bad_buckets(bucket, tmp_path):
    store = LocalStore(tmp_path / "root")
    for operation in _every_operation(store, bucket, "k/part.bin"):
        with pytest.raises(ValueError, match="invalid bucket name"):
            operation()
    with pytest.raises(ValueError, match="invalid bucket name"):
        list(store.list(bucket))
    assert _files(tmp_path) == set()


class _Unreachable:
    """A client that fails every call: the store must refuse before asking the server."""

    def __getattr__(self, name):
        raise AssertionError(f"the store called the server ({name}) with a bad name")


@pytest.mark.parametrize("key", BAD_KEYS)
def test_s3_store_refuses_the_same_keys(key):
    store = S3Store(_Unreachable())
    for operation in _every_operation(store, FEATURE_BUCKET, key):
        with pytest.raises(ValueError, match="invalid object key"):
            operation()


@pytest.mark.parametrize("bucket", BAD_BUCKETS)
def test_s3_store_refuses_the_same_buckets(bucket):
    store = S3Store(_Unreachable())
    for operation in _every_operation(store, bucket, "k/part.bin"):
        with pytest.raises(ValueError, match="invalid bucket name"):
            operation()
    with pytest.raises(ValueError, match="invalid bucket name"):
        list(store.list(bucket))


def test_symlink_out_of_the_bucket_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    root = tmp_path / "root"
    (root / FEATURE_BUCKET).mkdir(parents=True)
    (root / FEATURE_BUCKET / "link").symlink_to(outside, target_is_directory=True)
    store = LocalStore(root)
    for operation in _every_operation(store, FEATURE_BUCKET, "link/secret"):
        with pytest.raises(ValueError, match="escapes bucket"):
            operation()
    for operation in _every_operation(store, FEATURE_BUCKET, "link/new"):
        with pytest.raises(ValueError, match="escapes bucket"):
            operation()
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"secret"


def test_bucket_that_is_a_symlink_out_of_the_root_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "k").write_bytes(b"secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / FEATURE_BUCKET).symlink_to(outside, target_is_directory=True)
    store = LocalStore(root)
    for operation in _every_operation(store, FEATURE_BUCKET, "k"):
        with pytest.raises(ValueError, match="escapes bucket"):
            operation()
    assert (outside / "k").read_bytes() == b"secret"
