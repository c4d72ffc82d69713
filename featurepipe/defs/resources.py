"""Where featurepipe reads raw files and stores its tables, chosen per deployment."""

import os

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from featurepipe.storage.keys import check_bucket
from featurepipe.storage.objects import LocalStore, ObjectStore, S3Store

BACKENDS = ("local", "s3")


class StorageResource(dg.ConfigurableResource):
    """The raw and feature buckets, on the local disk (default) or on S3.

    A local bucket is the directory `<local_root>/<bucket>/`, laid out like S3, so files can be
    copied either way. For S3, the nested `S3Resource` (boto3) honours AWS_ENDPOINT_URL,
    AWS_DEFAULT_REGION and the usual credential variables: AWS, MinIO and LocalStack all work.
    """

    backend: str = "local"
    local_root: str = ".featurepipe/buckets"
    raw_bucket: str = "datapipeline-raw-data"
    feature_bucket: str = "datapipeline-feature-data"
    s3: S3Resource
    _store: ObjectStore | None = PrivateAttr(default=None)

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            if self.backend not in BACKENDS:
                choices = ", ".join(BACKENDS)
                raise ValueError(f"FEATUREPIPE_STORAGE must be one of {choices}: {self.backend!r}")
            check_bucket(self.raw_bucket)
            check_bucket(self.feature_bucket)
            if self.backend == "s3":
                self._store = S3Store(self.s3.get_client())
            else:
                self._store = LocalStore(self.local_root)
        return self._store


SETTINGS = {
    "backend": ("FEATUREPIPE_STORAGE", "local"),
    "local_root": ("FEATUREPIPE_LOCAL_ROOT", ".featurepipe/buckets"),
    "raw_bucket": ("FEATUREPIPE_RAW_BUCKET", "datapipeline-raw-data"),
    "feature_bucket": ("FEATUREPIPE_FEATURE_BUCKET", "datapipeline-feature-data"),
}


def storage_from_env() -> StorageResource:
    """A StorageResource bound to the FEATUREPIPE_* variables that are set.

    A set variable is passed as an EnvVar, so its value is read at run launch and hidden in
    the UI; an unset one leaves the default, since an unset EnvVar fails the run.
    """
    settings = {
        field: dg.EnvVar(name) if name in os.environ else default
        for field, (name, default) in SETTINGS.items()
    }
    return StorageResource(s3=S3Resource(), **settings)


def storage_outside_dagster() -> StorageResource:
    """The same settings, resolved now: for command-line tools that run outside a Dagster run."""
    settings = {field: os.environ.get(name, default) for field, (name, default) in SETTINGS.items()}
    return StorageResource(s3=S3Resource(), **settings)
