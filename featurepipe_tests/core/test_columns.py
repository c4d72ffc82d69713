"""The declared tables: what follows from adding a column; models that fit their Arrow schemas."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pandera.pandas as pa
import pyarrow
import pytest

from featurepipe.core.columns import FLOAT, NUMBER, OPTIONAL, TABLES, Column, Role, Table, Tables
from featurepipe.core.contract import KNOWN_COLUMNS, ROW_SUM_COLUMNS
from featurepipe.core.features import INPUT_COLUMNS
from featurepipe.core.reasons import Reason
from featurepipe.core.rules import REJECTED_SCHEMA, VALID_SCHEMA
from featurepipe.core.schemas import CHECK, Text, ValidatedEvents, model
from featurepipe_tests.core.support import raw, validate

DISCOUNT = Column("discount", Role.NUMBER, FLOAT, "The discount granted.", OPTIONAL)
WITH_DISCOUNT = dataclasses.replace(TABLES, events=(*TABLES.events, DISCOUNT))


def test_an_optional_number_added_to_a_copy_of_the_spec_reaches_every_derived_table():
    # The Arrow schemas: a float in validated events, the field as text in rejected ones.
    assert WITH_DISCOUNT.validated.arrow_schema == VALID_SCHEMA.append(
        pyarrow.field("discount", pyarrow.float64())
    )
    assert WITH_DISCOUNT.rejected.arrow_schema == REJECTED_SCHEMA.append(
        pyarrow.field("discount", pyarrow.string())
    )
    # The contract's column lists and the feature inputs.
    assert WITH_DISCOUNT.known == (*KNOWN_COLUMNS, "discount")
    assert WITH_DISCOUNT.row_sum == (*ROW_SUM_COLUMNS, "discount")
    assert "discount" in WITH_DISCOUNT.single_line  # a parsed value: no line break in it
    assert WITH_DISCOUNT.feature_inputs == (*INPUT_COLUMNS, "discount")
    # The features table keeps its columns; its row_sum says what it now adds.
    assert WITH_DISCOUNT.features.arrow_schema == TABLES.features.arrow_schema
    (row_sum,) = WITH_DISCOUNT.features.columns[-1:]
    assert row_sum.name == "row_sum" and row_sum.description.startswith(
        "user_id + is_premium + event_value + amount + session_length_sec + discount, "
    )

    # The pandera models: the new column, its rule and the description the UI shows.
    validated = model(WITH_DISCOUNT.validated).to_schema()
    column = validated.columns["discount"]
    assert (str(column.dtype), column.nullable, column.description) == (
        "float64",
        True,
        "The discount granted.",
    )
    assert validated.strict and validated.name == "ValidatedEvents"
    rejected = model(WITH_DISCOUNT.rejected).to_schema().columns["discount"]
    assert isinstance(rejected.dtype, Text) and rejected.nullable

    # Events with a discount pass the new model; strict, the real one refuses the column.
    events = validate(raw("2025-11-19T00:00:01Z,7,s1,click,web,DE,0,1.5,,3")).events
    discounted = events.assign(discount=[0.5])
    model(WITH_DISCOUNT.validated).validate(discounted, **CHECK)
    with pytest.raises(pa.errors.SchemaErrors, match="discount"):
        ValidatedEvents.validate(discounted, **CHECK)
    with pytest.raises(pa.errors.SchemaErrors, match="discount"):
        model(WITH_DISCOUNT.validated).validate(events, **CHECK)


def test_the_real_spec_is_unchanged_by_the_copy():
    assert "discount" not in TABLES.known
    assert "discount" not in VALID_SCHEMA.names


EVENT = {
    "event_time": datetime(2025, 11, 19, tzinfo=UTC),
    "user_id": -7,
    "session_id": "s",  # one character: the shortest allowed
    "event_type": "click",
    "device": None,
    "country": "DE",
    "is_premium": None,
    "event_value": 1.5,
    "amount": None,
    "session_length_sec": -0.0,
}
FIELDS = {name: None for name in EVENT}
# Rows each table must accept, at the edges of its rules: the smallest line and line count,
# one-character ids, nulls wherever a column may be null, every quarantine reason.
ROWS = {
    "validated": [
        {"line": 2, **EVENT},
        {"line": 3, **EVENT, "device": "ios", "is_premium": 1.0, "amount": 0.0},
    ],
    "features": [{**{k: EVENT[k] for k in list(EVENT)[:4]}, "row_sum": -5.5}],
    "rejected": [
        {"line": 2 + i, "lines": 1 + i, "reason": reason, "record": "", **FIELDS}
        for i, reason in enumerate(Reason)
    ]
    # Fields as text, as in the file, whatever they hold.
    + [
        {"line": 99, "lines": 1, "reason": "field_count", "record": "a", **dict.fromkeys(EVENT, "")}
    ],
}
# A value that breaks one rule, and the pandera check that must name it. Stated here, not read
# from the declarations, so a rule lost or changed in `columns` fails.
BREAKS = [
    ("validated", "line", 1, "greater_than_or_equal_to(2)"),
    ("validated", "line", "duplicate", "field_uniqueness"),
    ("validated", "event_time", None, "not_nullable"),
    # pandas reads an int64 column with a null as float64.
    ("validated", "user_id", None, "dtype('int64')"),
    ("validated", "session_id", "", "str_length(1, None)"),
    ("validated", "session_id", None, "not_nullable"),
    ("validated", "event_type", "", "str_length(1, None)"),
    ("validated", "event_type", None, "not_nullable"),
    ("features", "session_id", "", "str_length(1, None)"),
    ("features", "event_type", "", "str_length(1, None)"),
    ("features", "row_sum", None, "not_nullable"),
    ("features", "event_time", None, "not_nullable"),
    ("rejected", "line", 1, "greater_than_or_equal_to(2)"),
    ("rejected", "lines", 0, "greater_than_or_equal_to(1)"),
    ("rejected", "reason", "blank_line", "isin("),
    ("rejected", "reason", None, "not_nullable"),
    ("rejected", "record", None, "not_nullable"),
]


def frame(spec: Tables, table: str, rows: list[dict]):
    """Rows as stored (Arrow, with the table's declared schema) and as pandas reads them."""
    declared: Table = getattr(spec, table)
    if "discount" in declared.arrow_schema.names:  # a number; as text in rejected records
        discount = "0.5" if table == "rejected" else 0.5
        rows = [{**row, "discount": discount} for row in rows]
    return declared, pyarrow.Table.from_pylist(rows, schema=declared.arrow_schema).to_pandas()


@pytest.mark.parametrize("spec", [TABLES, WITH_DISCOUNT], ids=["real", "with-discount"])
@pytest.mark.parametrize("table", ["validated", "features", "rejected"])
def test_each_model_accepts_rows_that_keep_its_rules(spec, table):
    """Rows at the edge of every rule pass, in the dtypes pandas gives the declared Arrow types."""
    declared, rows = frame(spec, table, ROWS[table])
    assert len(rows) == len(ROWS[table])
    model(declared).validate(rows, **CHECK)


@pytest.mark.parametrize(("table", "column", "value", "check"), BREAKS)
def test_each_model_refuses_a_row_that_breaks_a_rule(table, column, value, check):
    good = ROWS[table][0]
    bad = {**good, "line": 3} if "line" in good else dict(good)  # lines are unique
    bad[column] = good[column] if value == "duplicate" else value
    declared, rows = frame(TABLES, table, [good, bad])
    with pytest.raises(pa.errors.SchemaErrors) as failed:
        model(declared).validate(rows, **CHECK)
    cases = failed.value.failure_cases
    named = {(c, k) for c, k in zip(cases["column"], cases["check"], strict=True)}
    assert any(c == column and k.startswith(check) for c, k in named), named
    assert {c for c, _ in named} == {column}, "only the broken column fails"


def test_an_arrow_type_without_a_pandera_dtype_is_named():
    odd = Table("odd", "Odd", "A table.", (Column("n", Role.NUMBER, pyarrow.int32(), NUMBER),))
    with pytest.raises(TypeError, match=r"odd\.n: no pandera dtype for int32"):
        model(odd)
