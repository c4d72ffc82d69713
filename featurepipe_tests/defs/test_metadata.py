"""What a day's page shows: whole records, quarantine reasons as a table, a link to each stored
table, and each table's column schema (types, rules, descriptions) as the README states it."""

from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from dagster import materialize

from featurepipe.defs.metadata import PREVIEW_TEXT_CHARS, stored_table
from featurepipe.defs.resources import S3Connection, StorageResource
from featurepipe_tests.conftest import FEATURE_BUCKET, csv_bytes
from featurepipe_tests.defs.support import (
    ASSETS,
    TABLES,
    definition_metadata,
    filler,
    materializations,
    put_raw,
    reasons,
    resources,
)
from featurepipe_tests.defs.support import (
    stored_table as stored_frame,
)

DAY = "2025-11-19"
LONG = "x" * (PREVIEW_TEXT_CHARS + 500)
BAD = [
    "not-a-time,8,s2,click,ios,US,0,1,1,1",
    f'2025-11-19T00:00:02Z,,"{LONG}",click,ios,US,0,1,1,1',
    "2025-11-19T00:00:03Z,9,s3,click",
    "also-not-a-time,10,s4,view,web,DE,,,,",
]
ROW_SUM_INPUTS = ("is_premium", "event_value", "amount", "session_length_sec")


@pytest.fixture
def day_metadata(storage) -> dict[str, dict]:
    put_raw(storage, DAY, csv_bytes(*filler(DAY, 3), *BAD))
    # Four bad rows in seven: a policy that lets the day through to its features.
    policy = {"ops": {"daily_events": {"config": {"warn_ratio": 0.5, "error_ratio": 0.9}}}}
    result = materialize(ASSETS, partition_key=DAY, resources=resources(storage), run_config=policy)
    assert result.success
    return {asset: materializations(result, asset)[DAY] for asset in TABLES}


def test_the_preview_shows_whole_records(day_metadata):
    rejected = day_metadata["rejected_events"]["preview"].value
    rows = [record.data for record in rejected.records]
    assert [row["line"] for row in rows] == [5, 6, 7, 8]
    assert rows[0] == {
        "line": 5,
        "lines": 1,
        "reason": "event_time_invalid",
        "record": BAD[0],
        "event_time": "not-a-time",
        "user_id": "8",
        "session_id": "s2",
        "event_type": "click",
        "device": "ios",
        "country": "US",
        "is_premium": "0",
        "event_value": "1",
        "amount": "1",
        "session_length_sec": "1",
    }
    # A field longer than the preview holds says how much more the stored table has.
    assert rows[1]["session_id"] == f"{'x' * PREVIEW_TEXT_CHARS}… (500 more characters)"
    assert rows[2]["record"] == BAD[2] and rows[2]["event_time"] is None  # field_count
    assert rows[3]["is_premium"] == ""  # as the file has it
    validated = day_metadata["validated_events"]["preview"].value.records[0].data
    assert validated["event_time"] == "2025-11-19T00:00:00+00:00"
    assert validated["user_id"] == 1000 and validated["amount"] is None
    features = day_metadata["event_features"]["preview"].value.records
    assert [r.data["row_sum"] for r in features] == [1011.5, 1012.5, 1013.5]


def test_quarantine_reasons_are_a_table(day_metadata):
    expected = {"event_time_invalid": 2, "user_id_missing": 1, "field_count": 1}
    for asset in ("validated_events", "rejected_events"):
        table = day_metadata[asset]["quarantine_reasons"]
        assert [c.name for c in table.schema.columns] == ["reason", "rows"]
        assert reasons(day_metadata[asset]) == expected
        assert table.records[0].data == {"reason": "event_time_invalid", "rows": 2}  # most first


def test_each_table_links_to_where_it_is_stored(storage, day_metadata):
    for asset, metadata in day_metadata.items():
        link = metadata["stored_table"]
        key = f"{asset}/date={DAY}/part.parquet"
        assert isinstance(link, dg.PathMetadataValue)  # local disk, or an S3 server not AWS
        assert link.path == storage.store.uri(FEATURE_BUCKET, key)
        if storage.backend == "local":
            stored = pq.read_table(Path(link.path)).to_pandas()
            assert stored.equals(stored_frame(storage, asset, DAY))
            # Stored in the order the column schema shows.
            assert list(stored.columns) == [name for name, *_ in COLUMNS[asset]]
    if storage.backend == "local":
        rejected = pq.read_table(day_metadata["rejected_events"]["stored_table"].path)
        assert rejected.column("line").to_pylist() == [5, 6, 7, 8]


def test_on_aws_the_link_opens_the_s3_console(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    storage = StorageResource(backend="s3", s3=S3Connection(region_name="eu-west-1"))
    link = stored_table(storage, "rejected_events", DAY)
    assert link == dg.MetadataValue.url(
        "https://s3.console.aws.amazon.com/s3/object/datapipeline-feature-data"
        "?region=eu-west-1&prefix=rejected_events%2Fdate%3D2025-11-19%2Fpart.parquet"
    )


TIME, INT, FLOAT, TEXT = "datetime64[us, UTC]", "int64", "float64", "string[pyarrow]"
NOT_EMPTY = ["length >= 1"]
# (name, dtype, nullable, unique, other rules) as the UI must show them: the README's row
# contract and tables, written out here rather than read from the models that produce them.
KEY = [
    ("event_time", TIME, False, False, []),
    ("user_id", INT, False, False, []),
    ("session_id", TEXT, False, False, NOT_EMPTY),
    ("event_type", TEXT, False, False, NOT_EMPTY),
]
EVENT = [
    *KEY,
    ("device", TEXT, True, False, []),
    ("country", TEXT, True, False, []),
    *[(name, FLOAT, True, False, []) for name in ROW_SUM_INPUTS],
]
REASONS = (
    "unterminated_quote, field_count, line_break_in_value, invalid_utf8, event_time_missing, "
    "event_time_invalid, user_id_missing, user_id_invalid, session_id_missing, event_type_missing"
)
COLUMNS = {
    "validated_events": [("line", INT, False, True, [">= 2"]), *EVENT],
    "rejected_events": [
        ("line", INT, False, False, [">= 2"]),
        ("lines", INT, False, False, [">= 1"]),
        ("reason", TEXT, False, False, [f"one of: {REASONS}"]),
        ("record", TEXT, False, False, []),
        # Each field as the file had it: text, null when absent.
        *[(name, TEXT, True, False, []) for name, *_ in EVENT],
    ],
    "event_features": [*KEY, ("row_sum", FLOAT, False, False, [])],
}


@pytest.mark.parametrize("asset", COLUMNS)
def test_column_schemas_show_each_columns_type_and_rules(asset):
    schema = definition_metadata(asset)["dagster/column_schema"].schema
    shown = [
        (c.name, c.type, c.constraints.nullable, c.constraints.unique, c.constraints.other)
        for c in schema.columns
    ]
    assert shown == COLUMNS[asset]
    assert schema.constraints.other == ["no other columns"]
    assert all(c.description for c in schema.columns)


def test_column_descriptions_say_what_the_readme_says():
    described = {
        (asset, c.name): c.description
        for asset in COLUMNS
        for c in definition_metadata(asset)["dagster/column_schema"].schema.columns
    }
    assert described["validated_events", "line"] == (
        "Line of the raw file where the row starts (the header is line 1)."
    )
    assert described["event_features", "row_sum"].startswith(
        "user_id + is_premium + event_value + amount + session_length_sec, "
    )
    assert "null" in described["rejected_events", "user_id"]
    assert described["validated_events", "event_time"] == "When the event happened, in UTC."
