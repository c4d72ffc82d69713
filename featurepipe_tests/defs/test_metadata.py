"""What a day's page shows: whole records, quarantine reasons as a table, a link to each stored
table, and column schemas whose descriptions and rules are the pandera models' own."""

from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from dagster import materialize

from featurepipe.core.schemas import EventFeatures, RejectedEvents, ValidatedEvents
from featurepipe.defs.metadata import PREVIEW_TEXT_CHARS, stored_table
from featurepipe.defs.resources import S3Connection, StorageResource
from featurepipe_tests.conftest import FEATURE_BUCKET, csv_bytes
from featurepipe_tests.defs.support import (
    ASSETS,
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
SCHEMAS = {
    "validated_events": ValidatedEvents,
    "rejected_events": RejectedEvents,
    "event_features": EventFeatures,
}


@pytest.fixture(params=["local_storage", "s3_storage"])
def storage(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def day_metadata(storage) -> dict[str, dict]:
    put_raw(storage, DAY, csv_bytes(*filler(DAY, 3), *BAD))
    # Four bad rows in seven: a policy that lets the day through to its features.
    policy = {"ops": {"daily_events": {"config": {"warn_ratio": 0.5, "error_ratio": 0.9}}}}
    result = materialize(ASSETS, partition_key=DAY, resources=resources(storage), run_config=policy)
    assert result.success
    return {asset: materializations(result, asset)[DAY] for asset in SCHEMAS}


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


def test_column_schemas_carry_the_pandera_descriptions_and_rules(day_metadata, storage):
    for asset, model in SCHEMAS.items():
        schema = definition_metadata(asset)["dagster/column_schema"].schema
        stored = stored_frame(storage, asset, DAY)
        assert [c.name for c in schema.columns] == list(stored.columns)
        pandera = model.to_schema()
        assert sorted(c.name for c in schema.columns) == sorted(pandera.columns)
        for column in schema.columns:
            checked = pandera.columns[column.name]
            assert column.description and column.description == checked.description
            assert column.constraints.nullable == checked.nullable
            assert column.constraints.unique == checked.unique
        assert schema.constraints.other == ["no other columns"]
    by_name = {
        asset: {
            c.name: c for c in definition_metadata(asset)["dagster/column_schema"].schema.columns
        }
        for asset in SCHEMAS
    }
    assert by_name["validated_events"]["line"].constraints.other == [">= 2"]
    assert by_name["validated_events"]["line"].constraints.unique
    assert by_name["event_features"]["session_id"].constraints.other == ["length >= 1"]
    assert by_name["event_features"]["row_sum"].type == "float64"
    (reasons_rule,) = by_name["rejected_events"]["reason"].constraints.other
    assert reasons_rule.startswith("one of: unterminated_quote, field_count, line_break_in_value")
    assert by_name["validated_events"]["event_time"].type == "datetime64[us, UTC]"
