"""Security: nothing stored under an asset's key is ever unpickled, and credentials never
reach an error message or a log."""

import logging
import pickle
import traceback
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurepipe.defs.io_managers import ParquetIOManager, RawFileIOManager
from featurepipe.defs.resources import S3Connection, StorageResource
from featurepipe.storage.objects import StorageError
from featurepipe.storage.verified import NotParquetError
from featurepipe_tests.conftest import FAKE_KEY_ID, FAKE_SECRET, RAW_BUCKET, free_port
from featurepipe_tests.storage.support import DAILY, DAY, frame, key, load, operations, put, save

# Dagster's own resource setup in materialize() calls its deprecated InitResourceContext API.
pytestmark = pytest.mark.filterwarnings("ignore:InitResourceContext.dagster_run")


class CreatesFile:
    """Unpickling this creates `path`: proof that something was unpickled."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def payload(marker: Path) -> bytes:
    return pickle.dumps(pd.DataFrame({"x": [CreatesFile(marker)]}))


def test_the_payload_is_live(tmp_path):
    """The check below can fail: unpickling this payload does create its marker."""
    marker = tmp_path / "unpickled"
    pickle.loads(payload(marker))
    assert marker.exists()


@pytest.mark.parametrize(
    "planted",
    [
        lambda marker: payload(marker),
        lambda marker: b"PAR1" + payload(marker) + b"PAR1",  # Parquet's magic, around a pickle
        lambda marker: b"",
    ],
    ids=["pickle", "pickle-in-magic", "empty"],
)
def test_what_is_not_parquet_is_refused_unread(storage, tmp_path, planted):
    store, bucket = storage.store, storage.feature_bucket
    marker = tmp_path / "unpickled"
    put(store, bucket, key(DAY), planted(marker))
    with pytest.raises(NotParquetError, match="Parquet file") as raised:
        load(storage)
    assert store.uri(bucket, key(DAY)) in str(raised.value)
    assert not marker.exists()


def test_a_pickle_in_parquet_extension_metadata_is_not_unpickled(storage, tmp_path):
    """Old pyarrow unpickled columns typed `arrow.py_extension_type` (CVE-2023-47248)."""
    marker = tmp_path / "unpickled"
    evil = pa.field(
        "x",
        pa.binary(),
        metadata={
            b"ARROW:extension:name": b"arrow.py_extension_type",
            b"ARROW:extension:metadata": pickle.dumps(CreatesFile(marker)),
        },
    )
    store, bucket = storage.store, storage.feature_bucket
    with store.staged(bucket, key(DAY)) as path:
        pq.write_table(pa.table([pa.array([b"a"])], schema=pa.schema([evil])), path)
    loaded = load(storage)
    assert list(loaded["x"]) == [b"a"]
    assert not marker.exists()


@dg.asset(partitions_def=DAILY)
def tbl():
    return frame()


@dg.asset(partitions_def=DAILY)
def reader(tbl):
    return tbl


def test_materialize_refuses_a_planted_pickle(storage, tmp_path):
    store, bucket = storage.store, storage.feature_bucket
    marker = tmp_path / "unpickled"
    put(store, bucket, key(DAY), payload(marker))
    result = dg.materialize(
        [tbl, reader],
        selection=[reader],
        partition_key=DAY,
        resources={"io_manager": ParquetIOManager(storage=storage)},
        raise_on_error=False,
    )
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    text = repr(failures)
    assert "NotParquetError" in text
    assert store.uri(bucket, key(DAY)) in text
    assert not marker.exists()
    assert store.head(bucket, key(DAY, "reader")) is None


# --- credentials -------------------------------------------------------------------------


def failures(storage, bucket: str, key_: str, write: bool = True) -> list[BaseException]:
    """Store operations on (bucket, key), each expected to fail with a StorageError: the
    reads, and the write unless `write` is False."""
    ops = operations(storage.store, bucket, key_)
    raised = []
    for operation in [ops["require"], ops["open"], ops["copy"]] + [ops["stage"]] * write:
        with pytest.raises(StorageError) as info:
            operation()
        raised.append(info.value)
    return raised


def assert_no_credentials(*texts: str) -> None:
    for text in texts:
        assert FAKE_KEY_ID not in text
        assert FAKE_SECRET not in text


def full_text(error: BaseException) -> str:
    """The error as a user sees it: message, traceback and every chained cause."""
    return "".join(traceback.format_exception(error))


class Logs:
    """Everything logged: Python logging (INFO and up; DEBUG for featurepipe and dagster) and
    what Dagster's own handlers print."""

    def __init__(self, caplog, capfd):
        self._caplog, self._capfd, self._printed = caplog, capfd, ""

    @property
    def text(self) -> str:
        out, err = self._capfd.readouterr()
        self._printed += out + err
        return self._caplog.text + self._printed


@pytest.fixture
def logs(caplog, capfd) -> Logs:
    caplog.set_level(logging.INFO)
    for name in ("featurepipe", "dagster"):
        caplog.set_level(logging.DEBUG, logger=name)
    return Logs(caplog, capfd)


@pytest.mark.parametrize("fault", ["403", "503", "drop"])
def test_credentials_stay_out_of_faults(fault, fault_proxy, proxied_storage, logs):
    storage = proxied_storage(0)
    fault_proxy.add(fault, times=100)
    errors = failures(storage, storage.feature_bucket, key(DAY))
    assert fault_proxy.injected, "the fault was not injected"
    # The requests did carry the fake credentials: the key id is in each signature.
    assert all(FAKE_KEY_ID in auth for auth in fault_proxy.authorizations)
    for error in errors:
        assert key(DAY) in str(error)
        assert_no_credentials(full_text(error))
    assert_no_credentials(logs.text)


def test_credentials_stay_out_of_missing_objects(s3_no_retry_env, logs):
    storage = StorageResource(backend="s3", s3=S3Connection(max_attempts=0))
    errors = failures(storage, storage.feature_bucket, key(DAY), write=False)
    errors += failures(storage, "no-such-bucket", key(DAY))
    with pytest.raises(StorageError) as listing:
        list(storage.store.list("no-such-bucket"))
    for error in [*errors, listing.value]:
        assert_no_credentials(full_text(error))
    assert any("bucket does not exist" in str(e) for e in errors)
    assert_no_credentials(logs.text)


def test_credentials_stay_out_of_a_failed_run(s3_no_retry_env, logs, monkeypatch):
    """Credentials given as resource config, the endpoint down: the run's events and logs
    name the object but not the credentials."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    s3 = S3Connection(
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        max_attempts=0,
        aws_access_key_id=FAKE_KEY_ID,
        aws_secret_access_key=FAKE_SECRET,
    )
    storage = StorageResource(backend="s3", s3=s3)
    result = dg.materialize(
        [tbl],
        partition_key=DAY,
        resources={"io_manager": ParquetIOManager(storage=storage)},
        raise_on_error=False,
    )
    assert not result.success
    events = repr(result.all_events)
    assert f"s3://{storage.feature_bucket}/{key(DAY)}" in events
    assert_no_credentials(events, logs.text)


def test_credentials_stay_out_of_raw_file_errors(s3_no_retry_env, logs):
    storage = StorageResource(backend="s3", s3=S3Connection(max_attempts=0))
    with pytest.raises(StorageError) as raised:
        load(storage, manager=RawFileIOManager)
    assert f"s3://{RAW_BUCKET}/user_events_20251119.csv" in str(raised.value)
    assert_no_credentials(full_text(raised.value), logs.text)


def test_parquet_writes_log_no_credentials(s3_no_retry_env, logs):
    storage = StorageResource(backend="s3", s3=S3Connection(max_attempts=0))
    save(storage, frame())
    text = logs.text
    assert "action=put_object" in text
    assert_no_credentials(text)
