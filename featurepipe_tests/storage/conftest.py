"""Fixtures for the storage tests: both backends, and a fault-injecting proxy in front of S3."""

from collections.abc import Callable, Iterator

import botocore.loaders
import botocore.session
import pytest

from featurepipe.defs.resources import S3Connection, StorageResource


@pytest.fixture(scope="session", autouse=True)
def shared_botocore_models() -> Iterator[None]:
    """Speed only: S3Connection builds a new boto3 session per client, and each session parses
    botocore's JSON models again (~0.5 s). Share one read-only model loader instead."""
    loader = botocore.loaders.create_loader()

    def register(session) -> None:
        session._components.lazy_register_component("data_loader", lambda: loader)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session.Session, "_register_data_loader", register)
        yield


@pytest.fixture
def proxied_storage(fault_proxy) -> Callable[[int], StorageResource]:
    """S3 storage through the fault proxy. `retries` goes to S3Connection.max_attempts, which
    botocore reads as the number of retries after the first attempt."""

    def make(retries: int) -> StorageResource:
        s3 = S3Connection(endpoint_url=fault_proxy.url, max_attempts=retries)
        return StorageResource(backend="s3", s3=s3)

    return make
