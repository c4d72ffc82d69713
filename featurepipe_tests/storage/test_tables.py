"""TableWriter and iter_frames: Parquet written and read frame by frame."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq

from featurepipe.core.validation import EMPTY_REJECTED
from featurepipe.storage.tables import TableWriter, iter_frames, read_frame
from featurepipe_tests.core.support import raw, validate


def frame(lines: list[int]) -> pd.DataFrame:
    rows = EMPTY_REJECTED.reindex(range(len(lines)))
    rows = rows.assign(line=lines, lines=1, reason="field_count", record="x,y")
    return rows.astype(EMPTY_REJECTED.dtypes)


def test_empty_frames_add_no_row_groups(tmp_path):
    writer = TableWriter(tmp_path / "t.parquet", EMPTY_REJECTED)
    for lines in ([], [2, 3], [], [4], []):
        writer.write(frame(lines))
    staged = writer.close()
    assert staged.rows == 3
    assert pq.ParquetFile(staged.path).num_row_groups == 2
    assert read_frame(staged.path)["line"].tolist() == [2, 3, 4]


def test_a_table_without_rows_keeps_its_schema(tmp_path):
    writer = TableWriter(tmp_path / "t.parquet", EMPTY_REJECTED)
    writer.write(frame([]))
    staged = writer.close()
    assert staged.rows == 0
    pd.testing.assert_frame_equal(read_frame(staged.path), EMPTY_REJECTED)


def test_frames_read_back_in_batches_with_their_dtypes(tmp_path):
    writer = TableWriter(tmp_path / "t.parquet", EMPTY_REJECTED)
    writer.write(frame(list(range(2, 12))))
    writer.write(frame(list(range(12, 17))))
    path = writer.close().path
    batches = list(iter_frames(path, ["line", "reason"], batch_rows=4))
    assert [len(b) for b in batches] == [4, 4, 4, 3]  # batches span row groups
    assert pd.concat(batches, ignore_index=True)["line"].tolist() == list(range(2, 17))
    assert all((b.dtypes == EMPTY_REJECTED.dtypes[["line", "reason"]]).all() for b in batches)


def test_columns_are_encoded_for_what_they_hold(tmp_path):
    """Integers and times as deltas, text by lengths or, when few-valued, as a dictionary,
    floats plain; statistics on numbers only."""
    rows = [f"2025-11-19T00:00:{i:02d}Z,{i},s{i},click,web,DE,0,1.5,,3" for i in range(50)]
    events = validate(raw(*rows)).events
    writer = TableWriter(tmp_path / "t.parquet", events)
    writer.write(events)
    group = pq.ParquetFile(writer.close().path).metadata.row_group(0)
    chunk = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    for name in ("line", "event_time", "user_id"):
        assert "DELTA_BINARY_PACKED" in chunk[name].encodings
    assert "DELTA_LENGTH_BYTE_ARRAY" in chunk["session_id"].encodings
    assert "RLE_DICTIONARY" in chunk["event_type"].encodings
    assert "RLE_DICTIONARY" not in chunk["session_id"].encodings
    assert "PLAIN" in chunk["event_value"].encodings
    assert chunk["line"].statistics.has_min_max and chunk["event_value"].statistics.has_min_max
    assert chunk["session_id"].statistics is None or not chunk["session_id"].statistics.has_min_max
    assert chunk["line"].compression == "ZSTD"
    pd.testing.assert_frame_equal(read_frame(writer.path), events.reset_index(drop=True))
