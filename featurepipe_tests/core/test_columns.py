"""The declared tables: what follows from adding a column; models that fit their Arrow schemas."""

from __future__ import annotations

import dataclasses

import pandera.pandas as pa
import pyarrow
import pytest

from featurepipe.core.columns import FLOAT, NUMBER, OPTIONAL, TABLES, Column, Role, Table
from featurepipe.core.contract import KNOWN_COLUMNS, ROW_SUM_COLUMNS
from featurepipe.core.features import INPUT_COLUMNS
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


@pytest.mark.parametrize("spec", [TABLES, WITH_DISCOUNT], ids=["real", "with-discount"])
@pytest.mark.parametrize("table", ["validated", "features", "rejected"])
def test_each_model_accepts_its_own_arrow_schema_as_pandas_reads_it(spec, table):
    """The pandas dtype of every declared Arrow type is the dtype its model checks."""
    declared: Table = getattr(spec, table)
    frame = declared.arrow_schema.empty_table().to_pandas()
    model(declared).validate(frame, **CHECK)


def test_an_arrow_type_without_a_pandera_dtype_is_named():
    odd = Table("odd", "Odd", "A table.", (Column("n", Role.NUMBER, pyarrow.int32(), NUMBER),))
    with pytest.raises(TypeError, match=r"odd\.n: no pandera dtype for int32"):
        model(odd)
