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

from featurepipe.defs.resources import StorageResource
from featurepipe.storage.keys import asset_key_path, raw_key
from featurepipe.storage.objects import ObjectInfo, ObjectStore
from featurepipe.storage.tables import iter_frames, read_frame, write_frame
from featurepipe.storage.verified import parquet_copy


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


def output_partitions(context: dg.OutputContext, value) -> dict:
    """by_partition for an output, which must hold exactly the partitions being materialized:
    a day missing from it would be recorded as materialized with nothing stored."""
    values = by_partition(context, value)
    expected = list(context.asset_partition_keys)
    if set(values) != set(expected):
        raise ValueError(
            f"{context.asset_key.to_user_string()}: the output holds partitions "
            f"{sorted(map(str, values))}, but the run materializes {expected}"
        )
    return values


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores each partition of an asset as `<asset>/date=<day>/part.parquet` in the feature
    bucket, written whole or not at all. Only Parquet is ever read back: no pickle."""

    storage: dg.ResourceDependency[StorageResource]

    def _key(self, context: dg.InputContext | dg.OutputContext, partition_key: str) -> str:
        return asset_key_path(context.asset_key.path[-1], partition_key)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        """Store a DataFrame per partition."""
        store, bucket = self.storage.store, self.storage.feature_bucket
        uris, written = {}, 0
        for partition_key, value in output_partitions(context, obj).items():
            key = self._key(context, partition_key)
            with store.staged(bucket, key) as path:
                write_frame(value, path)
                written += path.stat().st_size
            rows = len(value)
            uris[partition_key] = store.uri(bucket, key)
            context.log.info(f"action=put_object bucket={bucket} key={key} rows={rows}")
        metadata = {"bytes_written": dg.MetadataValue.int(written)}
        if len(uris) == 1:
            metadata["uri"] = dg.MetadataValue.text(next(iter(uris.values())))
        else:
            metadata["uris"] = dg.MetadataValue.json(uris)
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext):
        """DataFrames; or ParquetBatches where the input's metadata asks for batches."""
        store, bucket = self.storage.store, self.storage.feature_bucket
        batches = (context.definition_metadata or {}).get(LOAD_AS) == "batches"
        values = {}
        for partition_key in context.asset_partition_keys:
            key = self._key(context, partition_key)
            if batches:
                values[partition_key] = ParquetBatches(store, bucket, key)
            else:
                values[partition_key] = read_parquet(store, bucket, key)
        return one_or_many(list(context.asset_partition_keys), values)


# Input metadata that makes ParquetIOManager hand over ParquetBatches instead of a DataFrame.
LOAD_AS = "featurepipe/load_as"
AS_BATCHES = {LOAD_AS: "batches"}


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


class RawFileIOManager(dg.ConfigurableIOManager):
    """raw_events lives where it landed: in the raw bucket. Storing it writes nothing;
    loading it checks the object again and hands out a RawFile to stream from."""

    storage: dg.ResourceDependency[StorageResource]

    def handle_output(self, context: dg.OutputContext, obj: ObjectInfo | dict) -> None:
        uris = {k: info.uri for k, info in by_partition(context, obj).items()}
        if len(uris) > 1:  # one partition's source is already in raw_events' own metadata
            context.add_output_metadata({"uris": dg.MetadataValue.json(uris)})

    def load_input(self, context: dg.InputContext):
        store, bucket = self.storage.store, self.storage.raw_bucket
        keys = list(context.asset_partition_keys)
        files = {k: RawFile(store.require(bucket, raw_key(k)), store) for k in keys}
        return one_or_many(keys, files)
