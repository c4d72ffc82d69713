"""Stored objects read back safely: only Parquet is ever loaded as a table (never pickle),
and a raw file is read as the version its HEAD described."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow as pa

from featurepipe.storage.objects import ObjectInfo, ObjectStore, StorageError
from featurepipe.storage.tables import iter_frames, read_frame

PARQUET_MAGIC = b"PAR1"


class NotParquetError(StorageError):
    """What is stored under an asset's key is not Parquet; it is refused, never executed."""


@contextlib.contextmanager
def parquet_copy(store: ObjectStore, bucket: str, key: str) -> Iterator[Path]:
    """A local path to a stored Parquet object; anything that is not Parquet is refused."""
    with store.local_copy(bucket, key) as path:
        with path.open("rb") as file:
            head = file.read(4)
            file.seek(max(path.stat().st_size - 4, 0))
            tail = file.read(4)
        if head != PARQUET_MAGIC or tail != PARQUET_MAGIC:
            raise NotParquetError(
                f"get_object: {store.uri(bucket, key)} is not a Parquet file; refusing to load it"
            )
        try:
            yield path
        except pa.ArrowException as err:  # a damaged file: name the object, not a temp copy
            raise NotParquetError(
                f"get_object: {store.uri(bucket, key)} is not a valid Parquet file ({err}); "
                "refusing to load it"
            ) from None


def read_parquet(store: ObjectStore, bucket: str, key: str) -> pd.DataFrame:
    with parquet_copy(store, bucket, key) as path:
        return read_frame(path)


@dataclass(frozen=True)
class ParquetBatches:
    """A stored partition, read a batch of rows at a time."""

    store: ObjectStore
    bucket: str
    key: str

    def frames(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """The table a batch of rows at a time; only `columns`, when given."""
        with parquet_copy(self.store, self.bucket, self.key) as path:
            yield from iter_frames(path, columns)


@dataclass(frozen=True)
class RawFile:
    """A raw event file in the raw bucket: what raw_events materializes, and how to read it."""

    info: ObjectInfo
    store: ObjectStore

    @contextlib.contextmanager
    def open(self) -> Iterator[BinaryIO]:
        with self.store.open(self.info.bucket, self.info.key, expected=self.info) as stream:
            yield stream
