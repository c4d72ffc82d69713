"""IO managers: Parquet tables in the feature bucket, and raw files read where they landed.

A run over several partitions (a single-run backfill) hands each asset a dict
{partition_key: value}; a run over one partition hands it the value itself.
"""

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from featurepipe.defs.resources import StorageResource
from featurepipe.storage.keys import asset_key_path, raw_key
from featurepipe.storage.objects import ObjectInfo, ObjectStore, StorageError

PARQUET_MAGIC = b"PAR1"


class NotParquetError(StorageError):
    """What is stored under an asset's key is not Parquet; it is refused, never executed."""


def by_partition(
    context: dg.AssetExecutionContext
    | dg.AssetCheckExecutionContext
    | dg.InputContext
    | dg.OutputContext,
    value,
):
    """Normalise a value to {partition_key: value} for the partitions of this step."""
    if isinstance(context, dg.InputContext | dg.OutputContext):
        keys = list(context.asset_partition_keys)
    else:
        keys = list(context.partition_keys)
    if len(keys) == 1 and not isinstance(value, Mapping):
        return {keys[0]: value}
    return dict(value)


def one_or_many(keys: list[str], values: dict):
    """The inverse of by_partition: one partition's value as is, several as a dict."""
    return values[keys[0]] if len(keys) == 1 else {k: values[k] for k in keys}


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores each partition of an asset as `<asset>/date=<day>/part.parquet` in the feature
    bucket, written whole or not at all. Only Parquet is ever read back: no pickle."""

    storage: dg.ResourceDependency[StorageResource]

    def _key(self, context: dg.InputContext | dg.OutputContext, partition_key: str) -> str:
        return asset_key_path(context.asset_key.path[-1], partition_key)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | dict) -> None:
        store, bucket = self.storage.store, self.storage.feature_bucket
        uris, written = {}, 0
        for partition_key, frame in by_partition(context, obj).items():
            key = self._key(context, partition_key)
            with store.staged(bucket, key) as path:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                pq.write_table(table, path, compression="zstd")
                written += path.stat().st_size
            uris[partition_key] = store.uri(bucket, key)
            context.log.info(f"action=put_object bucket={bucket} key={key} rows={len(frame)}")
        metadata = {"bytes_written": dg.MetadataValue.int(written)}
        if len(uris) == 1:
            metadata["uri"] = dg.MetadataValue.text(next(iter(uris.values())))
        else:
            metadata["uris"] = dg.MetadataValue.json(uris)
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext):
        keys = list(context.asset_partition_keys)
        return one_or_many(keys, {k: self.load_partition(context, k) for k in keys})

    def load_partition(self, context: dg.InputContext, partition_key: str) -> pd.DataFrame:
        return read_parquet(
            self.storage.store, self.storage.feature_bucket, self._key(context, partition_key)
        )


def read_parquet(store: ObjectStore, bucket: str, key: str) -> pd.DataFrame:
    with store.local_copy(bucket, key) as path:
        with path.open("rb") as file:
            head = file.read(4)
            file.seek(max(path.stat().st_size - 4, 0))
            tail = file.read(4)
        if head != PARQUET_MAGIC or tail != PARQUET_MAGIC:
            raise NotParquetError(
                f"get_object: {store.uri(bucket, key)} is not a Parquet file; refusing to load it"
            )
        return pq.read_table(path).to_pandas()


@dataclass(frozen=True)
class RawFile:
    """A raw event file in the raw bucket: what raw_events materializes, and how to read it."""

    info: ObjectInfo
    store: ObjectStore

    @contextlib.contextmanager
    def open(self) -> Iterator[BinaryIO]:
        with self.store.open(self.info.bucket, self.info.key) as stream:
            yield stream


class RawFileIOManager(dg.ConfigurableIOManager):
    """raw_events lives where it landed: in the raw bucket. Storing it writes nothing;
    loading it checks the object again and hands out a RawFile to stream from."""

    storage: dg.ResourceDependency[StorageResource]

    def handle_output(self, context: dg.OutputContext, obj: ObjectInfo | dict) -> None:
        uris = {k: info.uri for k, info in by_partition(context, obj).items()}
        context.add_output_metadata({"uris": dg.MetadataValue.json(uris)} if len(uris) > 1 else {})

    def load_input(self, context: dg.InputContext):
        store, bucket = self.storage.store, self.storage.raw_bucket
        keys = list(context.asset_partition_keys)
        files = {k: RawFile(store.require(bucket, raw_key(k)), store) for k in keys}
        return one_or_many(keys, files)
