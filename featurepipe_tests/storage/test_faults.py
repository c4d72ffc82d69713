"""Storage faults over the real S3 protocol: the moto server, and a fault-injecting proxy in
front of it (403 AccessDenied, 503 SlowDown, a connection cut mid-request or mid-response).

For each fault: the operation fails with an error naming the bucket and key, or, for a
transient fault, succeeds after botocore's retries; no partial object is left; the previous
version is still readable; and the same operation succeeds once the fault is gone.
"""

import pandas as pd
import pytest

from featurepipe.defs.io_managers import RawFileIOManager
from featurepipe.defs.resources import S3Connection, StorageResource
from featurepipe.storage.objects import ObjectNotFound, StorageError
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET, free_port
from featurepipe_tests.storage.support import (
    DAY,
    assert_nothing_stray,
    frame,
    key,
    load,
    put,
    read,
    save,
)

URI = f"s3://{FEATURE_BUCKET}/{key(DAY)}"
OLD, NEW = frame(1), frame(2, rows=5)


def assert_still_old(storage, etag: str) -> None:
    """The previous version is intact and the only object: nothing partial was committed."""
    assert storage.store.head(FEATURE_BUCKET, key(DAY)).etag == etag
    pd.testing.assert_frame_equal(load(storage), OLD)
    assert_nothing_stray(storage, [key(DAY)])


# --- the endpoint, the bucket, the key ---------------------------------------------------


@pytest.fixture
def down_storage(s3_no_retry_env, monkeypatch) -> StorageResource:
    """S3 storage whose endpoint is a closed loopback port."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    return StorageResource(backend="s3", s3=S3Connection(max_attempts=0))  # no retries


def test_endpoint_down(s3_no_retry_env, down_storage):
    good = StorageResource(backend="s3", s3=S3Connection(endpoint_url=s3_no_retry_env))
    save(good, OLD)
    etag = good.store.head(FEATURE_BUCKET, key(DAY)).etag

    for operation in (lambda: save(down_storage, NEW), lambda: load(down_storage)):
        with pytest.raises(StorageError, match="Could not connect") as raised:
            operation()
        assert URI in str(raised.value)
        assert not isinstance(raised.value, ObjectNotFound)
    with pytest.raises(StorageError, match="Could not connect") as raised:
        down_storage.store.head(FEATURE_BUCKET, key(DAY))
    assert URI in str(raised.value)
    with pytest.raises(StorageError, match="Could not connect") as raised:
        list(down_storage.store.list(FEATURE_BUCKET, "tbl/"))
    assert f"s3://{FEATURE_BUCKET}/tbl/" in str(raised.value)

    assert_still_old(good, etag)
    save(good, NEW)
    pd.testing.assert_frame_equal(load(good), NEW)


def test_bucket_missing(s3_no_retry_env):
    storage = StorageResource(backend="s3", feature_bucket="no-such-bucket", s3=S3Connection())
    store = storage.store

    def staged():
        with store.staged("no-such-bucket", key(DAY)) as path:
            path.write_bytes(b"data")

    def opened():
        with store.open("no-such-bucket", key(DAY)) as stream:
            stream.read()

    operations = {
        "head": lambda: store.head("no-such-bucket", key(DAY)),
        "require": lambda: store.require("no-such-bucket", key(DAY)),
        "open": opened,
        "staged": staged,
        "list": lambda: list(store.list("no-such-bucket")),
        "load": lambda: load(storage),
        "save": lambda: save(storage, NEW),
    }
    for name, operation in operations.items():
        with pytest.raises(StorageError, match="bucket does not exist") as raised:
            operation()
        assert "s3://no-such-bucket" in str(raised.value), name
        assert not isinstance(raised.value, ObjectNotFound), name


def test_raw_bucket_missing(s3_no_retry_env):
    storage = StorageResource(backend="s3", raw_bucket="no-such-raw-bucket", s3=S3Connection())
    with pytest.raises(StorageError, match="bucket does not exist") as raised:
        load(storage, manager=RawFileIOManager)
    assert "s3://no-such-raw-bucket" in str(raised.value)
    assert not isinstance(raised.value, ObjectNotFound)


def test_raw_key_missing(s3_storage):
    with pytest.raises(ObjectNotFound, match="does not exist") as raised:
        load(s3_storage, manager=RawFileIOManager)
    assert f"s3://{RAW_BUCKET}/user_events_20251119.csv" in str(raised.value)
    with pytest.raises(ObjectNotFound) as raised, s3_storage.store.open(RAW_BUCKET, "x.csv"):
        pass
    assert f"s3://{RAW_BUCKET}/x.csv" in str(raised.value)


# --- faults on the wire -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "times", "retries", "message"),
    [
        ("403", 1, 2, "AccessDenied"),  # never retried
        ("503", 2, 1, "SlowDown"),  # throttled longer than the retries last
        ("drop", 2, 1, "Connection was closed"),  # cut on every attempt
    ],
)
def test_write_fault_fails_and_keeps_the_old_version(
    fault_proxy, proxied_storage, fault, times, retries, message
):
    storage = proxied_storage(retries)
    save(storage, OLD)
    etag = storage.store.head(FEATURE_BUCKET, key(DAY)).etag

    fault_proxy.add(fault, times=times, method="PUT")
    with pytest.raises(StorageError, match=message) as raised:
        save(storage, NEW)
    assert URI in str(raised.value)
    assert len(fault_proxy.injected) == (1 if fault == "403" else times)
    assert_still_old(storage, etag)

    fault_proxy.clear()
    save(storage, NEW)
    pd.testing.assert_frame_equal(load(storage), NEW)


@pytest.mark.parametrize("fault", ["503", "drop"])
def test_transient_write_fault_is_retried(fault_proxy, proxied_storage, fault):
    storage = proxied_storage(1)
    save(storage, OLD)
    fault_proxy.add(fault, times=1, method="PUT")
    save(storage, NEW)
    assert fault_proxy.injected == [f"{fault} PUT /{FEATURE_BUCKET}/{key(DAY)}"]
    pd.testing.assert_frame_equal(load(storage), NEW)
    assert_nothing_stray(storage, [key(DAY)])


@pytest.mark.parametrize(
    ("fault", "method", "message"),
    [
        ("403", "HEAD", "403"),  # a refused HEAD is an error, never "missing"
        ("403", "GET", "AccessDenied"),
        ("503", "GET", "SlowDown"),
        ("drop", "GET", "Connection was closed"),
        ("truncate", "GET", "Max Retries Exceeded"),  # body cut: s3transfer retries, then gives up
    ],
)
def test_read_fault_fails_naming_the_object(fault_proxy, proxied_storage, fault, method, message):
    storage = proxied_storage(0)
    save(storage, OLD)
    fault_proxy.add(fault, times=10, method=method)
    with pytest.raises(StorageError, match=message) as raised:
        load(storage)
    assert URI in str(raised.value)
    assert not isinstance(raised.value, ObjectNotFound)
    assert fault_proxy.injected

    fault_proxy.clear()
    pd.testing.assert_frame_equal(load(storage), OLD)


@pytest.mark.parametrize("fault", ["503", "drop", "truncate"])
def test_transient_read_fault_is_retried(fault_proxy, proxied_storage, fault):
    storage = proxied_storage(1)
    save(storage, OLD)
    fault_proxy.add(fault, times=1, method="GET")
    pd.testing.assert_frame_equal(load(storage), OLD)
    assert fault_proxy.injected == [f"{fault} GET /{FEATURE_BUCKET}/{key(DAY)}"]


def test_stream_cut_mid_read_names_the_object(fault_proxy, proxied_storage):
    storage = proxied_storage(0)
    store, data = storage.store, b"0123456789" * 10_000
    put(store, RAW_BUCKET, "user_events_20251119.csv", data)
    fault_proxy.add("truncate", times=1, method="GET")
    with pytest.raises(StorageError, match="read failed") as raised:
        read(store, RAW_BUCKET, "user_events_20251119.csv")
    assert f"s3://{RAW_BUCKET}/user_events_20251119.csv" in str(raised.value)
    assert read(store, RAW_BUCKET, "user_events_20251119.csv") == data


def test_bucket_check_cut_names_the_bucket(fault_proxy, proxied_storage):
    """HEAD of a missing key is followed by a HEAD of its bucket; if that one fails, the
    error is still a StorageError naming the bucket, not a raw botocore error."""
    storage = proxied_storage(0)
    fault_proxy.add("drop", times=1, method="HEAD", path=f"/{FEATURE_BUCKET}")
    with pytest.raises(StorageError, match="Connection was closed") as raised:
        storage.store.head(FEATURE_BUCKET, key(DAY))
    assert f"s3://{FEATURE_BUCKET}" in str(raised.value)
    assert fault_proxy.injected == [f"drop HEAD /{FEATURE_BUCKET}"]
    assert storage.store.head(FEATURE_BUCKET, key(DAY)) is None


@pytest.mark.parametrize(("fault", "message"), [("403", "AccessDenied"), ("503", "SlowDown")])
def test_list_fault_names_the_bucket(fault_proxy, proxied_storage, fault, message):
    storage = proxied_storage(0)
    save(storage, OLD)
    fault_proxy.add(fault, times=1, method="GET", path=f"/{FEATURE_BUCKET}")
    with pytest.raises(StorageError, match=message) as raised:
        list(storage.store.list(FEATURE_BUCKET, "tbl/"))
    assert f"s3://{FEATURE_BUCKET}/tbl/" in str(raised.value)
    assert [i.key for i in storage.store.list(FEATURE_BUCKET, "tbl/")] == [key(DAY)]
