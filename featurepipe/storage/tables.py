"""Parquet tables written and read batch by batch, so a day never has to fit in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

COMPRESSION = "zstd"
READ_BATCH_ROWS = 256 * 1024


@dataclass(frozen=True)
class StagedTable:
    """A complete Parquet file on local disk, waiting to be committed to a bucket."""

    path: Path
    rows: int


class TableWriter:
    """Appends DataFrames to one Parquet file; `empty` gives the schema of a table with no rows."""

    def __init__(self, path: Path, empty: pd.DataFrame):
        self.path, self._empty = path, empty
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, compression=COMPRESSION)
        elif table.schema != self._writer.schema:
            table = table.cast(self._writer.schema)
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> StagedTable:
        if self._writer is None:
            self.write(self._empty)
        self._writer.close()
        return StagedTable(self.path, self.rows)


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, compression=COMPRESSION)


def read_frame(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def iter_frames(path: Path, batch_rows: int = READ_BATCH_ROWS) -> Iterator[pd.DataFrame]:
    file = pq.ParquetFile(path)
    metadata = file.schema_arrow.metadata  # pandas dtypes survive the round trip
    for batch in file.iter_batches(batch_size=batch_rows):
        yield pa.Table.from_batches([batch]).replace_schema_metadata(metadata).to_pandas()
