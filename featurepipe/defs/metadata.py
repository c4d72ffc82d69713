"""Metadata a person reads in the UI. On each asset: the column schema, with each column's
dtype, description and pandera rules, from the pandera models in featurepipe.core.schemas
that check the tables. On each materialization: counts, whole records, quarantine reasons,
where the day's table is.
"""

import math
from collections.abc import Mapping
from functools import cache
from urllib.parse import quote, urlparse

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from featurepipe.core.validation import DaySummary
from featurepipe.defs.names import QUARANTINE_RATIO
from featurepipe.defs.resources import StorageResource
from featurepipe.storage.keys import asset_key_path
from featurepipe.storage.objects import ObjectInfo, ObjectStore, S3Store

PREVIEW_ROWS = 5
RATIO = QUARANTINE_RATIO.name  # the metadata the quarantine check is judged from
# rejected_events shows this many rejected rows whole; `featurepipe rejects DAY` prints them all.
REJECTS_SHOWN = 100
# A preview shows every field of a row whole, up to this many characters (a quoted field may
# hold a megabyte); the stored table has the rest.
PREVIEW_TEXT_CHARS = 2000
# pandera's comparison checks, as a person writes them.
OPERATORS = {
    "equal_to": "==",
    "not_equal_to": "!=",
    "less_than": "<",
    "less_than_or_equal_to": "<=",
    "greater_than": ">",
    "greater_than_or_equal_to": ">=",
}
AWS_CONSOLE_OBJECT = (
    "https://s3.console.aws.amazon.com/s3/object/{bucket}?region={region}&prefix={key}"
)


def table_metadata(
    frame: pd.DataFrame, rows: int, schema: type[pa.DataFrameModel]
) -> dict[str, dg.MetadataValue]:
    """Row count and a preview of the first rows, for a table that `schema` checks; `frame`
    holds its first rows (or none). Its column schema is the asset's definition metadata."""
    return {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "preview": preview(frame, preview_schema(schema)),
    }


def definition_metadata(schema: type[pa.DataFrameModel]) -> dict[str, dg.MetadataValue]:
    """What the UI shows of a table before any run: its columns, fixed by `schema`."""
    return {"dagster/column_schema": dg.MetadataValue.table_schema(column_schema(schema))}


@cache
def column_schema(schema: type[pa.DataFrameModel]) -> dg.TableSchema:
    """Each column with its dtype, description and rules, from `schema`."""
    checked = schema.to_schema()
    rules = ["no other columns"] if checked.strict else []
    columns = [
        dg.TableColumn(
            name,
            str(column.dtype),
            description=column.description,
            constraints=dg.TableColumnConstraints(
                nullable=column.nullable,
                unique=column.unique,
                other=[rule(check) for check in column.checks],
            ),
        )
        for name, column in checked.columns.items()
    ]
    return dg.TableSchema(columns=columns, constraints=dg.TableConstraints(other=rules))


@cache
def preview_schema(schema: type[pa.DataFrameModel]) -> dg.TableSchema:
    """Names and dtypes alone: every materialization's preview carries it, and the full
    schema is one click away on the asset."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(column.dtype))
            for name, column in schema.to_schema().columns.items()
        ]
    )


def rule(check: pa.Check) -> str:
    """A pandera check as a person writes it: `>= 2`, `length >= 1`, `one of: a, b`."""
    stats = check.statistics
    if check.description:
        return check.description
    if check.name in OPERATORS:
        (value,) = stats.values()
        return f"{OPERATORS[check.name]} {value}"
    if check.name == "str_length" and stats["exact_value"] is None:
        low, high = stats["min_value"], stats["max_value"]
        bounds = []
        if low is not None:
            bounds.append(f">= {low}")
        if high is not None:
            bounds.append(f"<= {high}")
        return "length " + " and ".join(bounds)
    if check.name == "isin":
        return "one of: " + ", ".join(map(str, stats["allowed_values"]))
    return check.error or check.name


def preview(frame: pd.DataFrame, columns: dg.TableSchema) -> dg.MetadataValue:
    """`frame`'s rows as a table: every column, each value whole up to PREVIEW_TEXT_CHARS."""
    records = [
        dg.TableRecord({name: _cell(value) for name, value in row.items()})
        for row in frame.to_dict(orient="records")
    ]
    return dg.MetadataValue.table(records, schema=columns)


def _cell(value) -> str | int | float | bool | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, str):
        extra = len(value) - PREVIEW_TEXT_CHARS
        return value if extra <= 0 else f"{value[:PREVIEW_TEXT_CHARS]}… ({extra} more characters)"
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


REASONS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("reason", "string", description="The first rule of the contract it broke."),
        dg.TableColumn("rows", "int", description="Rows quarantined for it."),
    ]
)


def quarantine_reasons(reasons: Mapping[str, int]) -> dg.MetadataValue:
    """Rows quarantined by reason, most first, as a table."""
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    records = [dg.TableRecord({"reason": reason, "rows": int(n)}) for reason, n in ranked]
    return dg.MetadataValue.table(records, schema=REASONS_SCHEMA)


def stored_table(storage: StorageResource, asset: str, partition_key: str) -> dg.MetadataValue:
    """Where a day's table is stored: on AWS, a link to the object in the S3 console; elsewhere
    its path (a local file, or an s3:// URI on another S3 server), which the UI lets one copy."""
    store, bucket = storage.store, storage.feature_bucket
    key = asset_key_path(asset, partition_key)
    region = aws_region(store)
    if region is None:
        return dg.MetadataValue.path(store.uri(bucket, key))
    url = AWS_CONSOLE_OBJECT.format(bucket=bucket, region=region, key=quote(key, safe=""))
    return dg.MetadataValue.url(url)


def aws_region(store: ObjectStore) -> str | None:
    """The region of a store on AWS S3 itself; None for local disk and other S3 servers."""
    if not isinstance(store, S3Store):
        return None
    host = urlparse(store.client.meta.endpoint_url).hostname or ""
    return store.client.meta.region_name if host.endswith(".amazonaws.com") else None


def raw_metadata(info: ObjectInfo) -> dict:
    """What raw_events records of a day: the file as its HEAD described it."""
    return {
        "source": dg.MetadataValue.text(info.uri),
        "size_bytes": dg.MetadataValue.int(info.size),
        "etag": dg.MetadataValue.text(info.etag),
        "last_modified": dg.MetadataValue.timestamp(info.last_modified),
    }


def validated_metadata(info: ObjectInfo, s: DaySummary, seconds: float) -> dict:
    """What validated_events records of a day: where it came from and every row accounted for."""
    return {
        "source": dg.MetadataValue.text(info.uri),
        "source_etag": dg.MetadataValue.text(info.etag),
        "rows_in": dg.MetadataValue.int(s.data_lines),
        "valid": dg.MetadataValue.int(s.valid),
        "quarantined": dg.MetadataValue.int(s.quarantined),
        "valid_lines": dg.MetadataValue.int(s.valid_lines),
        "quarantined_lines": dg.MetadataValue.int(s.quarantined_lines),
        "blank_lines": dg.MetadataValue.int(s.blank_lines),
        RATIO: dg.MetadataValue.float(s.quarantine_ratio),
        "quarantine_reasons": quarantine_reasons(s.reasons),
        "columns_absent": dg.MetadataValue.json(s.absent_columns),
        "columns_extra": dg.MetadataValue.json(s.extra_columns),
        "bytes_read": dg.MetadataValue.int(s.bytes_read),
        "duration_seconds": dg.MetadataValue.float(round(seconds, 3)),
    }
