"""Where featurepipe reads raw files and stores its tables, chosen per deployment."""

import boto3
import botocore.config
import dagster as dg
from pydantic import PrivateAttr

from featurepipe.settings import STORAGE, Settings, check_storage
from featurepipe.storage.keys import check_bucket
from featurepipe.storage.objects import BACKENDS, ObjectStore


class S3Connection(dg.ConfigurableResource):
    """How the S3 backend reaches S3: a boto3 client, with botocore's `standard` retries.

    A field left unset leaves the choice to boto3, which reads AWS_ENDPOINT_URL,
    AWS_DEFAULT_REGION, AWS_PROFILE and the usual credential chain: AWS, MinIO and LocalStack
    all work. The fields are named and mean as in dagster-aws's S3Resource (all of them but
    use_unsigned_session), so its run config carries over; featurepipe builds the client itself
    because importing dagster_aws loads all of that package's components, about 0.6 s on every
    run and every load of the definitions.
    """

    region_name: str | None = None
    endpoint_url: str | None = None
    # botocore counts these as retries after the first attempt: 0 makes a single attempt.
    max_attempts: int = 5
    profile_name: str | None = None
    use_ssl: bool = True
    verify: bool | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None

    def get_client(self):
        session = boto3.session.Session(profile_name=self.profile_name)
        return session.client(
            "s3",
            region_name=self.region_name,
            endpoint_url=self.endpoint_url,
            use_ssl=self.use_ssl,
            verify=self.verify,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            config=botocore.config.Config(
                retries={"max_attempts": self.max_attempts, "mode": "standard"}
            ),
        )


class StorageResource(dg.ConfigurableResource):
    """The raw and feature buckets, on the local disk (default) or on S3.

    A local bucket is the directory `<local_root>/<bucket>/`, laid out like S3, so files can be
    copied either way. For S3, the nested `S3Connection` builds the boto3 client.
    """

    # The defaults are the settings' (featurepipe/settings.py STORAGE).
    backend: str = STORAGE["backend"][1]
    local_root: str = STORAGE["local_root"][1]
    raw_bucket: str = STORAGE["raw_bucket"][1]
    feature_bucket: str = STORAGE["feature_bucket"][1]
    staging_dir: str = STORAGE["staging_dir"][1]  # empty: <system temp>/featurepipe-staging
    s3: S3Connection
    _store: ObjectStore | None = PrivateAttr(default=None)

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            # Checked at load when set by variable; run config can still set any value.
            check_storage("backend", self.backend)
            check_bucket(self.raw_bucket)
            check_bucket(self.feature_bucket)
            self._store = BACKENDS[self.backend].from_settings(self)
        return self._store


def storage_resource(settings: Settings) -> StorageResource:
    """A StorageResource bound to the storage settings.

    A variable that is set is passed as an EnvVar, so its value is read at run launch and hidden
    in the UI; an unset one leaves the default, since an unset EnvVar fails the run.
    """
    fields = {
        field: dg.EnvVar(name) if name in settings.storage_set else default
        for field, (name, default) in STORAGE.items()
    }
    return StorageResource(s3=S3Connection(), **fields)


def storage_now(settings: Settings) -> StorageResource:
    """The same settings, resolved now: for command-line tools that run outside a Dagster run."""
    return StorageResource(s3=S3Connection(), **settings.storage_values())
