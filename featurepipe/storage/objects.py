"""Buckets of objects, on a local disk or on S3, behind one small interface.

Writes are staged and committed whole: a reader sees the old object or the new one, never
part of one, and a failed write leaves the old object in place.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from featurepipe.storage import staging
from featurepipe.storage.keys import check_bucket, check_key


class StorageError(RuntimeError):
    """A storage operation failed; the message names the operation and the object."""


class ObjectNotFound(StorageError):
    pass


class ObjectChanged(StorageError):
    """The object was replaced or changed while it was read: what was read is not one version."""


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    bucket: str
    key: str
    size: int
    etag: str
    last_modified: dt.datetime


# Every backend by the name FEATUREPIPE_STORAGE gives it: a new object store (GCS, Azure) is
# one ObjectStore subclass with a `backend` name and a `from_settings`.
BACKENDS: dict[str, type[ObjectStore]] = {}


class ObjectStore(abc.ABC):
    backend: ClassVar[str]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "backend" in cls.__dict__:
            BACKENDS[cls.backend] = cls

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings) -> ObjectStore:
        """The store a deployment's settings (StorageResource's fields) describe."""

    @abc.abstractmethod
    def uri(self, bucket: str, key: str) -> str: ...

    @abc.abstractmethod
    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's size, ETag and time, or None when it does not exist."""

    @abc.abstractmethod
    def open(
        self, bucket: str, key: str, expected: ObjectInfo | None = None
    ) -> contextlib.AbstractContextManager[BinaryIO]:
        """A stream of the object's bytes. With `expected` (from head), reading fails with
        ObjectChanged unless every byte read belongs to that version of the object."""

    @abc.abstractmethod
    def delete(self, bucket: str, key: str) -> bool:
        """Remove the object; False when there was none."""

    @abc.abstractmethod
    def local_copy(self, bucket: str, key: str) -> contextlib.AbstractContextManager[Path]:
        """A path to read the object from, for readers that need to seek (Parquet)."""

    @abc.abstractmethod
    def staged(self, bucket: str, key: str) -> contextlib.AbstractContextManager[Path]:
        """A path to write the object to; committed whole when the block succeeds."""

    @abc.abstractmethod
    def list(self, bucket: str, prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        """The objects whose keys start with `prefix`, in key order, and with `start_after`
        only those whose key sorts after it (S3's StartAfter): a caller that remembers where
        it stopped lists only what is new, however many objects the bucket holds."""

    def put_file(self, bucket: str, key: str, source: Path) -> int:
        """Commit a complete local file as the object, atomically; return its size."""
        with self.staged(bucket, key) as target:
            shutil.move(source, target)  # a rename when both are on one filesystem
            size = target.stat().st_size
        return size

    def require(self, bucket: str, key: str) -> ObjectInfo:
        info = self.head(bucket, key)
        if info is None:
            raise ObjectNotFound(f"head_object: {self.uri(bucket, key)} does not exist")
        return info


class LocalStore(ObjectStore):
    """A bucket is the directory <root>/<bucket>; a key is a path under it, as on S3."""

    backend = "local"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    @classmethod
    def from_settings(cls, settings) -> LocalStore:
        return cls(settings.local_root)

    def path(self, bucket: str, key: str) -> Path:
        base = self.root / check_bucket(bucket)
        path = (base / check_key(bucket, key)).resolve()
        if not path.is_relative_to(base):
            raise ValueError(f"object key {key!r} escapes bucket {bucket!r}")
        return path

    def uri(self, bucket: str, key: str) -> str:
        return str(self.path(bucket, key))

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        path = self.path(bucket, key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        return self._info(bucket, key, path, stat)

    @staticmethod
    def _info(bucket: str, key: str, path: Path, stat: os.stat_result) -> ObjectInfo:
        return ObjectInfo(
            str(path),
            bucket,
            key,
            stat.st_size,
            _local_etag(stat),
            dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC),
        )

    @contextlib.contextmanager
    def open(self, bucket: str, key: str, expected: ObjectInfo | None = None) -> Iterator[BinaryIO]:
        path = self.path(bucket, key)
        try:
            stream = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(f"get_object: {path} does not exist") from None
        with stream:
            if expected is None:
                yield stream
                return
            where = f"get_object: {path}"

            def unchanged() -> bool:
                return _local_etag(os.fstat(stream.fileno())) == expected.etag

            if not unchanged():
                raise ObjectChanged(f"{where}: the file changed after it was checked (ETag)")
            # A file rewritten in place keeps its inode: check its ETag again at the end.
            yield _Checked(stream, where, expected.size, unchanged)

    def delete(self, bucket: str, key: str) -> bool:
        try:
            self.path(bucket, key).unlink()
        except FileNotFoundError:
            return False
        return True

    @contextlib.contextmanager
    def local_copy(self, bucket: str, key: str) -> Iterator[Path]:
        self.require(bucket, key)
        yield self.path(bucket, key)

    @contextlib.contextmanager
    def staged(self, bucket: str, key: str) -> Iterator[Path]:
        target = self.path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{target.name}."
        staging.reclaim(target.parent, prefix)  # what a killed writer left beside the target
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=prefix + staging.tag(), suffix=".tmp")
        os.close(fd)
        try:
            yield Path(tmp)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def list(self, bucket: str, prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        base = self.root / check_bucket(bucket)
        if not base.is_dir():
            return
        # Names are read without a stat; only the objects listed are stat'ed. In key order, as
        # S3 lists ('a-c' before 'a/b'), not in path order.
        wanted = sorted(
            (key, path)
            for key, path in _files(str(base), "")
            if key.startswith(prefix) and key > start_after
        )
        for key, path in wanted:
            try:
                stat = os.stat(path)
            except FileNotFoundError:  # deleted since its name was read
                continue
            yield self._info(bucket, key, Path(path), stat)


class S3Store(ObjectStore):
    """Objects in S3 or any S3-protocol server, through a boto3 client."""

    backend = "s3"

    def __init__(self, client, staging_root: str | None = None):
        self.client, self.staging_root = client, staging_root

    @classmethod
    def from_settings(cls, settings) -> S3Store:
        return cls(settings.s3.get_client(), settings.staging_dir)

    def uri(self, bucket: str, key: str) -> str:
        return f"s3://{bucket}/{key}"

    def _error(self, action: str, bucket: str, key: str, err: Exception) -> StorageError:
        where = self.uri(bucket, key) if key else f"s3://{bucket}"
        if isinstance(err, ClientError):
            code = err.response.get("Error", {}).get("Code", "")
            message = err.response.get("Error", {}).get("Message", "")
            kind = ObjectNotFound if code in ("404", "NoSuchKey") else StorageError
            return kind(f"{action}: {where}: {code} {message}".rstrip())
        return StorageError(f"{action}: {where}: {err}")

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        check_key(check_bucket(bucket), key)
        try:
            response = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NotFound"):
                if not self._bucket_exists(bucket):
                    raise StorageError(
                        f"head_object: s3://{bucket}: the bucket does not exist"
                    ) from None
                return None
            raise self._error("head_object", bucket, key, err) from None
        except BotoCoreError as err:
            raise self._error("head_object", bucket, key, err) from None
        return ObjectInfo(
            self.uri(bucket, key),
            bucket,
            key,
            response["ContentLength"],
            response["ETag"].strip('"'),
            response["LastModified"],
        )

    def _bucket_exists(self, bucket: str) -> bool:
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code", "") in ("404", "NoSuchBucket"):
                return False
            raise self._error("head_bucket", bucket, "", err) from None
        except BotoCoreError as err:
            raise self._error("head_bucket", bucket, "", err) from None
        return True

    @contextlib.contextmanager
    def open(self, bucket: str, key: str, expected: ObjectInfo | None = None) -> Iterator[BinaryIO]:
        check_key(check_bucket(bucket), key)
        where = f"get_object: {self.uri(bucket, key)}"
        # IfMatch: S3 refuses to serve any other version than the one head_object saw.
        extra = {"IfMatch": f'"{expected.etag}"'} if expected else {}
        try:
            body = self.client.get_object(Bucket=bucket, Key=key, **extra)["Body"]
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if expected and code in ("PreconditionFailed", "412"):
                raise ObjectChanged(
                    f"{where}: the object changed after it was checked (ETag is no longer "
                    f"{expected.etag})"
                ) from None
            raise self._error("get_object", bucket, key, err) from None
        except BotoCoreError as err:
            raise self._error("get_object", bucket, key, err) from None
        with contextlib.closing(body):
            stream = _Guarded(body, where)
            yield _Checked(stream, where, expected.size, lambda: True) if expected else stream

    def delete(self, bucket: str, key: str) -> bool:
        check_key(check_bucket(bucket), key)
        if self.head(bucket, key) is None:
            return False
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as err:
            raise self._error("delete_object", bucket, key, err) from None
        return True

    @contextlib.contextmanager
    def local_copy(self, bucket: str, key: str) -> Iterator[Path]:
        check_key(check_bucket(bucket), key)
        with staging.staging_dir(self.staging_root) as tmp:
            path = tmp / Path(key).name
            try:
                self.client.download_file(bucket, key, str(path))
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code", "")
                if code in ("404", "NoSuchKey", "NotFound") and not self._bucket_exists(bucket):
                    raise StorageError(
                        f"get_object: s3://{bucket}: the bucket does not exist"
                    ) from None
                raise self._error("get_object", bucket, key, err) from None
            except BotoCoreError as err:
                raise self._error("get_object", bucket, key, err) from None
            except Exception as err:  # s3transfer gives up on broken reads with its own errors
                cause = getattr(err, "last_exception", None)
                detail = f"{err}: {cause}" if cause else str(err)
                raise StorageError(f"get_object: {self.uri(bucket, key)}: {detail}") from err
            yield path

    @contextlib.contextmanager
    def staged(self, bucket: str, key: str) -> Iterator[Path]:
        check_key(check_bucket(bucket), key)
        with staging.staging_dir(self.staging_root) as tmp:
            path = tmp / Path(key).name
            yield path
            # An S3 PUT (single or multipart) becomes visible only once complete.
            try:
                self.client.upload_file(str(path), bucket, key)
            except (ClientError, BotoCoreError) as err:
                raise self._error("put_object", bucket, key, err) from None
            except Exception as err:  # s3transfer wraps failures in its own errors
                raise StorageError(f"put_object: {self.uri(bucket, key)}: {err}") from err

    def list(self, bucket: str, prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        check_bucket(bucket)
        paginator = self.client.get_paginator("list_objects_v2")
        extra = {"StartAfter": start_after} if start_after else {}
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix, **extra):
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        self.uri(bucket, item["Key"]),
                        bucket,
                        item["Key"],
                        item["Size"],
                        item["ETag"].strip('"'),
                        item["LastModified"],
                    )
        except (ClientError, BotoCoreError) as err:
            raise self._error("list_objects_v2", bucket, prefix, err) from None


class _Guarded:
    """A read stream whose network failures name the object being read."""

    def __init__(self, body, where: str):
        self._body, self._where = body, where

    def read(self, size: int = -1) -> bytes:
        try:
            return self._body.read(size)
        except (BotoCoreError, OSError) as err:
            raise StorageError(f"{self._where}: read failed: {err}") from None


def _files(directory: str, parent: str) -> Iterator[tuple[str, str]]:
    """(key, path) of every file under `directory` whose own name is not hidden (staged
    writes are), from the directory entries alone."""
    with os.scandir(directory) as entries:
        for entry in entries:
            key = f"{parent}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                yield from _files(entry.path, f"{key}/")
            elif entry.is_file() and not entry.name.startswith("."):
                yield key, entry.path


def _local_etag(stat: os.stat_result) -> str:
    """Like a web server's ETag, cheap; with the change time and inode, a file replaced by
    one of the same size and modification time (`cp -p`) still gets a new one."""
    return f"{stat.st_mtime_ns:x}-{stat.st_size:x}-{stat.st_ctime_ns:x}-{stat.st_ino:x}"


class _Checked:
    """A read stream that, at its end, checks it read exactly the expected version."""

    def __init__(self, stream, where: str, size: int, unchanged):
        self._stream, self._where, self._size, self._unchanged = stream, where, size, unchanged
        self._read = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._read += len(data)
        if self._read > self._size or (not data and size != 0 and self._read != self._size):
            raise ObjectChanged(
                f"{self._where}: the object changed while it was read: {self._read:,} bytes "
                f"read{'' if data else ' in all'}, {self._size:,} expected"
            )
        if not data and size != 0 and not self._unchanged():
            raise ObjectChanged(f"{self._where}: the object changed while it was read (ETag)")
        return data
