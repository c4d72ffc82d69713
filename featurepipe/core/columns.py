"""Every column of every table, declared once.

A raw file's columns are declared in EVENT_COLUMNS; `Tables` derives the stored tables from
them. From these declarations come the Arrow schemas (`rules`), the pandera models
(`schemas`), the column-name tuples of the contract (`contract`), the feature key and inputs
(`features`), the sample file's header (`sample`) and the column descriptions the UI shows.
`reference` states the contract on its own and is the oracle the derived code is held to.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from featurepipe.core.reasons import Reason


class Role(enum.StrEnum):
    REQUIRED = "required"  # in every header, never empty; the event's key
    TEXT = "text"  # optional text
    NUMBER = "number"  # optional number; joins row_sum
    RECORD = "record"  # where a raw record was, or why it was quarantined
    DERIVED = "derived"  # computed from the event's columns


@dataclass(frozen=True)
class Column:
    name: str
    role: Role
    arrow: pa.DataType  # as stored; the pandas dtype pandera checks follows from it
    description: str
    rules: Mapping[str, Any] = field(default_factory=dict)  # keywords of pandera's Field
    few_values: bool = False  # a handful of distinct values: stored dictionary-encoded


@dataclass(frozen=True)
class Table:
    name: str  # of its asset
    model: str  # of its pandera model
    doc: str
    columns: tuple[Column, ...]

    def names(self, *roles: Role) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.role in roles)

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([(c.name, c.arrow) for c in self.columns])


TIMESTAMP = pa.timestamp("us", tz="UTC")
INT, FLOAT, STRING = pa.int64(), pa.float64(), pa.string()
LINE = "Line of the raw file where the row starts (the header is line 1)."
OPTIONAL_TEXT = "As in the file; null when empty or when the file has no such column."
NUMBER = (
    "A decimal number; null when empty, not a number, not finite, or the file has no such column."
)
FIELD_TEXT = (
    "The field as text, as in the file; null when the file has no such column or the row has "
    "the wrong number of fields."
)
NOT_EMPTY = {"str_length": {"min_value": 1}}
OPTIONAL = {"nullable": True}

# A raw file's columns, in the order the sample writes them, as validated events hold them.
EVENT_COLUMNS = (
    Column("event_time", Role.REQUIRED, TIMESTAMP, "When the event happened, in UTC."),
    Column("user_id", Role.REQUIRED, INT, "The user, an integer in the int64 range."),
    Column("session_id", Role.REQUIRED, STRING, "The session, as the file names it.", NOT_EMPTY),
    Column(
        "event_type",
        Role.REQUIRED,
        STRING,
        "What happened, e.g. click or view.",
        NOT_EMPTY,
        few_values=True,
    ),
    Column("device", Role.TEXT, STRING, OPTIONAL_TEXT, OPTIONAL, few_values=True),
    Column("country", Role.TEXT, STRING, OPTIONAL_TEXT, OPTIONAL, few_values=True),
    Column("is_premium", Role.NUMBER, FLOAT, NUMBER, OPTIONAL),
    Column("event_value", Role.NUMBER, FLOAT, NUMBER, OPTIONAL),
    Column("amount", Role.NUMBER, FLOAT, NUMBER, OPTIONAL),
    Column("session_length_sec", Role.NUMBER, FLOAT, NUMBER, OPTIONAL),
)


@dataclass(frozen=True)
class Tables:
    """A raw file's columns, and the stored tables and column lists that follow from them."""

    events: tuple[Column, ...]

    def names(self, *roles: Role) -> tuple[str, ...]:
        return tuple(c.name for c in self.events if c.role in roles)

    @property
    def known(self) -> tuple[str, ...]:
        """Every column a raw header may name."""
        return tuple(c.name for c in self.events)

    @property
    def row_sum(self) -> tuple[str, ...]:
        """What row_sum adds: the user_id and every optional number."""
        return ("user_id", *self.names(Role.NUMBER))

    @property
    def single_line(self) -> tuple[str, ...]:
        """Columns whose values are parsed, not text: a line break in one is an error."""
        return tuple(c.name for c in self.events if c.arrow != STRING)

    @property
    def feature_inputs(self) -> tuple[str, ...]:
        """What features are computed from: the key and the numbers."""
        return (*self.names(Role.REQUIRED), *self.names(Role.NUMBER))

    @property
    def validated(self) -> Table:
        return Table(
            "validated_events",
            "ValidatedEvents",
            "Rows that passed the row contract, typed; `line` is where each starts in the raw "
            "file.",
            (
                Column("line", Role.RECORD, INT, LINE, {"ge": 2, "unique": True}),
                *self.events,
            ),
        )

    @property
    def features(self) -> Table:
        row_sum = Column(
            "row_sum",
            Role.DERIVED,
            FLOAT,
            f"{' + '.join(self.row_sum)}, those the file has, as floats; a null counts 0.0.",
        )
        key = [c for c in self.events if c.role is Role.REQUIRED]
        return Table(
            "event_features",
            "EventFeatures",
            "One row per valid event, in input order.",
            (*key, row_sum),
        )

    @property
    def rejected(self) -> Table:
        return Table(
            "rejected_events",
            "RejectedEvents",
            "Quarantined records: where they were (the line each starts on, the lines it covers), "
            "why, and what they said.",
            (
                Column("line", Role.RECORD, INT, LINE, {"ge": 2}),
                Column(
                    "lines",
                    Role.RECORD,
                    INT,
                    "Physical lines of the raw file the record covers (1 for most).",
                    {"ge": 1},
                ),
                Column(
                    "reason",
                    Role.RECORD,
                    STRING,
                    "The first rule of the contract it broke.",
                    {"isin": [r.value for r in Reason]},
                    few_values=True,
                ),
                Column(
                    "record",
                    Role.RECORD,
                    STRING,
                    "The whole row as CSV (invalid UTF-8 shown as U+FFFD).",
                ),
                *(
                    Column(c.name, c.role, STRING, FIELD_TEXT, OPTIONAL, c.few_values)
                    for c in self.events
                ),
            ),
        )


TABLES = Tables(EVENT_COLUMNS)
# Columns stored dictionary-encoded, in whichever table: ids and timestamps are not, since a
# dictionary for them costs time to build and is then abandoned.
FEW_VALUES = frozenset(
    c.name
    for table in (TABLES.validated, TABLES.rejected, TABLES.features)
    for c in table.columns
    if c.few_values
)
