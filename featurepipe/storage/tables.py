"""Parquet tables written and read batch by batch, so a day never has to fit in memory."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from featurepipe.core.columns import FEW_VALUES
from featurepipe.core.prefetch import prefetch

COMPRESSION = "zstd"
READ_BATCH_ROWS = 100_000  # as validation.FRAME_ROWS: memory follows the frame


@dataclass(frozen=True)
class StagedTable:
    """A complete Parquet file on local disk, waiting to be committed to a bucket."""

    path: Path
    rows: int


class TableWriter:
    """Appends DataFrames to one Parquet file; `empty` gives the schema of a table with no rows.

    Encoding and compression run on a background thread (pyarrow releases the GIL there), so
    the caller prepares the next frame meanwhile; one frame at most is in flight.
    """

    def __init__(self, path: Path, empty: pd.DataFrame):
        self.path, self._empty = path, empty
        self._writer: pq.ParquetWriter | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer")
        self._pending: Future | None = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:  # it would only add an empty row group
            return
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._open(table.schema)
        elif table.schema != self._writer.schema:
            table = table.cast(self._writer.schema)
        self._wait()
        self._pending = self._pool.submit(self._writer.write_table, table)
        self.rows += len(frame)

    def _open(self, schema: pa.Schema) -> None:
        numeric = [f.name for f in schema if not _is_text(f.type)]
        dictionary = [c for c in schema.names if c in FEW_VALUES]
        self._writer = pq.ParquetWriter(
            self.path,
            schema,
            compression=COMPRESSION,
            use_dictionary=dictionary,
            column_encoding={
                f.name: encoding
                for f in schema
                if f.name not in dictionary and (encoding := _delta_encoding(f.type))
            },
            # min/max of ids and free text skip no row group, and cost time to gather
            write_statistics=numeric,
        )

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()  # re-raises a failed write here, in the caller
            self._pending = None

    def close(self) -> StagedTable:
        try:
            if self._writer is None:  # no rows: the file holds the schema alone
                self._open(pa.Schema.from_pandas(self._empty, preserve_index=False))
            self._wait()
            self._writer.close()
        finally:
            self._pool.shutdown(wait=True)
        return StagedTable(self.path, self.rows)


def _delta_encoding(type_: pa.DataType) -> str | None:
    """Integers and times as deltas, text as its lengths then its bytes: zstd then has less
    to compress. At 1M rows both tables write 15-25% faster, and are no larger."""
    if pa.types.is_integer(type_) or pa.types.is_timestamp(type_):
        return "DELTA_BINARY_PACKED"
    if _is_text(type_):
        return "DELTA_LENGTH_BYTE_ARRAY"
    return None  # floats: plain; byte-stream-split grew the files by a fifth


def _is_text(type_: pa.DataType) -> bool:
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    writer = TableWriter(path, frame)
    writer.write(frame)
    writer.close()


def read_frame(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def iter_frames(
    path: Path, columns: list[str] | None = None, batch_rows: int = READ_BATCH_ROWS
) -> Iterator[pd.DataFrame]:
    file = pq.ParquetFile(path)
    metadata = file.schema_arrow.metadata  # pandas dtypes survive the round trip
    batches = file.iter_batches(batch_size=batch_rows, columns=columns)

    def next_frame() -> pd.DataFrame | None:
        batch = next(batches, None)
        if batch is None:
            return None
        return pa.Table.from_batches([batch]).replace_schema_metadata(metadata).to_pandas()

    # The next frame is read and decoded while the caller works on this one.
    yield from prefetch(next_frame, "parquet-reader")


def parquet_rows(path: Path) -> int:
    """Rows of a Parquet file, from its footer."""
    return pq.ParquetFile(path).metadata.num_rows
