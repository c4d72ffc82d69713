"""IO managers: how any asset downstream (or a notebook, through the value loader) reads
featurepipe's tables and raw files, and how an asset of its own stores a DataFrame.

A run over several partitions hands an input a dict {partition_key: value}; a run over one
partition hands it the value itself, as Dagster's own IO managers do.
"""

from collections.abc import Mapping

import dagster as dg

from featurepipe.defs.resources import StorageResource
from featurepipe.storage.keys import asset_key_path, raw_key
from featurepipe.storage.tables import write_frame
from featurepipe.storage.verified import ParquetBatches, RawFile, read_parquet

# Input metadata that makes ParquetIOManager hand over ParquetBatches instead of a DataFrame.
LOAD_AS = "featurepipe/load_as"
AS_BATCHES = {LOAD_AS: "batches"}


def one_or_many(keys: list[str], values: dict):
    """One partition's value as is, several as a dict."""
    return values[keys[0]] if len(keys) == 1 else {k: values[k] for k in keys}


def output_partitions(context: dg.OutputContext, value) -> dict:
    """{partition: value} of an output, which must hold exactly the partitions being
    materialized: a day missing from it would be recorded as materialized with nothing stored."""
    expected = list(context.asset_partition_keys)
    values = (
        {expected[0]: value} if len(expected) == 1 and not isinstance(value, Mapping) else value
    )
    if set(values) != set(expected):
        raise ValueError(
            f"{context.asset_key.to_user_string()}: the output holds partitions "
            f"{sorted(map(str, values))}, but the run materializes {expected}"
        )
    return dict(values)


class ParquetIOManager(dg.ConfigurableIOManager):
    """Each partition of an asset is `<asset>/date=<day>/part.parquet` in the feature bucket,
    written whole or not at all. Only Parquet is ever read back: no pickle."""

    storage: dg.ResourceDependency[StorageResource]

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        """Store a DataFrame per partition."""
        store, bucket = self.storage.store, self.storage.feature_bucket
        uris, written = {}, 0
        for day, frame in output_partitions(context, obj).items():
            key = asset_key_path(context.asset_key.path[-1], day)
            with store.staged(bucket, key) as path:
                write_frame(frame, path)
                written += path.stat().st_size
            uris[day] = store.uri(bucket, key)
            context.log.info(f"action=put_object bucket={bucket} key={key} rows={len(frame)}")
        where = (
            {"uri": dg.MetadataValue.text(uris.popitem()[1])}
            if len(uris) == 1
            else {"uris": dg.MetadataValue.json(uris)}
        )
        context.add_output_metadata({"bytes_written": dg.MetadataValue.int(written), **where})

    def load_input(self, context: dg.InputContext):
        """DataFrames; or ParquetBatches where the input's metadata asks for batches."""
        store, bucket = self.storage.store, self.storage.feature_bucket
        batches = (context.definition_metadata or {}).get(LOAD_AS) == "batches"
        keys = list(context.asset_partition_keys)
        values = {}
        for day in keys:
            key = asset_key_path(context.asset_key.path[-1], day)
            values[day] = (
                ParquetBatches(store, bucket, key) if batches else read_parquet(store, bucket, key)
            )
        return one_or_many(keys, values)


class RawFileIOManager(dg.ConfigurableIOManager):
    """raw_events lives where it landed: in the raw bucket. Loading it checks the object again
    (HEAD) and hands out a RawFile to stream from, read as exactly that version."""

    storage: dg.ResourceDependency[StorageResource]

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        """Nothing to store: the pipeline step records raw_events with its metadata."""

    def load_input(self, context: dg.InputContext):
        store, bucket = self.storage.store, self.storage.raw_bucket
        keys = list(context.asset_partition_keys)
        return one_or_many(
            keys, {k: RawFile(store.require(bucket, raw_key(k)), store) for k in keys}
        )
