"""The old DAG's CSV, written frame by frame: the same bytes however the features are split."""

import pandas as pd

from featurepipe.core.features import EMPTY_FEATURES, build_features, legacy_csv
from featurepipe_tests.core.support import raw, validate


def features(rows: int) -> pd.DataFrame:
    lines = [f"2025-11-19T00:00:{i % 60:02d}Z,{i},s{i},view,web,US,1,{i}.5,,3" for i in range(rows)]
    return build_features(validate(raw(*lines)).events)


def test_frames_give_the_bytes_of_the_whole_table(tmp_path):
    table = features(10)
    assert legacy_csv([table], tmp_path / "whole.csv") == 10
    parts = [table.iloc[:3], table.iloc[3:3], table.iloc[3:9], table.iloc[9:]]
    assert legacy_csv(parts, tmp_path / "parts.csv") == 10
    whole = (tmp_path / "whole.csv").read_bytes()
    assert (tmp_path / "parts.csv").read_bytes() == whole
    assert whole.startswith(b"row_sum,event_time,user_id,session_id,event_type\n")
    assert whole.count(b"\n") == 11


def test_no_rows_give_the_header_alone(tmp_path):
    assert legacy_csv([], tmp_path / "none.csv") == 0
    assert legacy_csv([EMPTY_FEATURES], tmp_path / "empty.csv") == 0
    expected = b"row_sum,event_time,user_id,session_id,event_type\n"
    assert (tmp_path / "none.csv").read_bytes() == (tmp_path / "empty.csv").read_bytes() == expected
