"""Shared fixtures: local buckets in a temp dir, and a real S3-protocol server on loopback."""

import re
import socket
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from featurepipe.defs import DELIBERATE
from featurepipe.defs.resources import S3Connection, StorageResource
from featurepipe.storage.objects import LocalStore
from featurepipe_tests.storage import faultproxy


def pytest_configure(config):
    """featurepipe's deliberate warnings (featurepipe/defs/__init__.py) as pytest filters too:
    pytest resets Python's filters around each test, and pyproject.toml turns every other
    beta, preview or supersession warning into an error."""
    for category, message in DELIBERATE.values():
        name = f"{category.__module__}.{category.__name__}"
        config.addinivalue_line("filterwarnings", f"ignore:{re.escape(message)}:{name}")


RAW_BUCKET = "datapipeline-raw-data"
FEATURE_BUCKET = "datapipeline-feature-data"
HEADER = (
    "event_time,user_id,session_id,event_type,device,country,"
    "is_premium,event_value,amount,session_length_sec"
)
FAKE_KEY_ID = "AKIAFEATUREPIPETEST1"
FAKE_SECRET = "fake-secret-featurepipe-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def local_root(tmp_path, monkeypatch):
    """Local buckets under a temp dir, configured the way a user would: by environment."""
    root = tmp_path / "buckets"
    monkeypatch.setenv("FEATUREPIPE_STORAGE", "local")
    monkeypatch.setenv("FEATUREPIPE_LOCAL_ROOT", str(root))
    return root


@pytest.fixture
def local_storage(local_root) -> StorageResource:
    return StorageResource(backend="local", local_root=str(local_root), s3=S3Connection())


@pytest.fixture
def local_store(local_root) -> LocalStore:
    return LocalStore(local_root)


@pytest.fixture(params=["local_storage", "s3_storage"])
def storage(request) -> StorageResource:
    """The test once on each backend: local directories, then the S3 server below."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto in server mode: a real HTTP S3 endpoint on 127.0.0.1, shared by the session."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch) -> str:
    """Environment pointing boto3 (and so S3Connection) at the loopback server, with empty
    raw and feature buckets."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("FEATUREPIPE_STORAGE", "s3")
    client = boto3.client("s3")
    for bucket in (RAW_BUCKET, FEATURE_BUCKET):
        _empty_bucket(client, bucket)
        client.create_bucket(Bucket=bucket)
    return s3_server


def _empty_bucket(client, bucket: str) -> None:
    try:
        pages = list(client.get_paginator("list_objects_v2").paginate(Bucket=bucket))
    except client.exceptions.NoSuchBucket:
        return
    for page in pages:
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_storage(s3_env) -> StorageResource:
    return StorageResource(backend="s3", s3=S3Connection())


@pytest.fixture
def s3_no_retry_env(s3_env, monkeypatch) -> str:
    """s3_env, with retries decided by each test's S3Connection and nothing else."""
    for name in ("AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    return s3_env


@pytest.fixture
def fault_proxy(s3_no_retry_env) -> Iterator[faultproxy.FaultProxy]:
    with faultproxy.running(s3_no_retry_env) as proxy:
        yield proxy


def csv_bytes(*lines: str, header: str = HEADER, newline: str = "\n") -> bytes:
    return (newline.join([header, *lines]) + newline).encode()
