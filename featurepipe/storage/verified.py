"""Stored Parquet tables read back safely: only Parquet is ever loaded, never pickle."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from featurepipe.storage.objects import ObjectStore, StorageError

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
