"""The row contract, rule by rule, as tables of small files and what each must come to.

Every case runs through the fast path (validate_events + build_features) and through the
reference, and both must give exactly the expected valid lines, row sums, quarantined
(line, reason) pairs and blank-line count.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import pandas as pd
import pytest

from featurepipe.core.contract import (
    INT64_MAX,
    INT64_MIN,
    MAX_HEADER_BYTES,
    OPTIONAL_NUMERIC_COLUMNS,
    TEXT_COLUMNS,
    EmptyFileError,
    HeaderError,
)
from featurepipe_tests.core.support import (
    HEADER,
    SOURCE,
    fast,
    pandera_off,
    raw,
    reference,
    validate,
)

UTC = dt.UTC
REQUIRED = "event_time,user_id,session_id,event_type"


def row(
    time="2025-11-19T00:00:01Z",
    user="7",
    session="s1",
    event="click",
    device="ios",
    country="US",
    premium="1",
    value="2.5",
    amount="",
    length="10",
) -> str:
    """A data line for HEADER; as it stands, valid with row_sum 7 + 1 + 2.5 + 10 = 20.5."""
    return ",".join([time, user, session, event, device, country, premium, value, amount, length])


OK = 20.5  # row_sum of row()


@dataclass(frozen=True)
class Expected:
    lines: list[int]  # valid rows
    row_sums: list[float]
    rejected: list[tuple[int, str]] = field(default_factory=list)
    blank: int = 0
    spans: dict[int, int] = field(default_factory=dict)  # lines of a rejected record, if not 1


def check(data: bytes, expected: Expected) -> None:
    for outcome in (fast(data), reference(data)):
        assert outcome.lines == expected.lines
        assert outcome.row_sums == expected.row_sums
        assert outcome.rejected == expected.rejected
        assert outcome.rejected_lines == [expected.spans.get(n, 1) for n, _ in expected.rejected]
        assert outcome.blank == expected.blank
        assert outcome.adds_up()


def case(name: str, data: bytes, lines, row_sums, rejected=(), blank=0, spans=None):
    expected = Expected(list(lines), list(row_sums), list(rejected), blank, spans or {})
    return pytest.param(data, expected, id=name)


# --- encoding and line ends ---------------------------------------------------------------------

ENCODING_AND_LINE_ENDS = [
    case("lf", raw(row(), row(user="8")), [2, 3], [OK, OK + 1]),
    case("crlf", raw(row(), row(user="8"), newline="\r\n"), [2, 3], [OK, OK + 1]),
    case(
        "mixed-lf-crlf",
        f"{HEADER}\r\n{row()}\n{row(user='8')}\r\n{row(user='9')}\n".encode(),
        [2, 3, 4],
        [OK, OK + 1, OK + 2],
    ),
    case("bom", raw(row(), bom=True), [2], [OK]),
    case("bom-crlf", raw(row(), "", newline="\r\n", bom=True), [2], [OK], blank=1),
    case(
        "no-final-line-break", raw(row(), row(user="8")).removesuffix(b"\n"), [2, 3], [OK, OK + 1]
    ),
    case(
        "no-final-line-break-crlf",
        raw(row(), newline="\r\n").removesuffix(b"\r\n"),
        [2],
        [OK],
    ),
    case("nul-byte-in-a-value", raw(row(device="i\x00s")), [2], [OK]),
    case("non-ascii-values", raw(row(session="sé€😀", country="日本")), [2], [OK]),
    # a lone CR ends a line as LF and CRLF do
    case("lone-cr", raw(row(), row(user="8"), newline="\r"), [2, 3], [OK, OK + 1]),
    case(
        "lone-cr-blank-lines",
        raw("", row(), "", " ", row(user="8"), newline="\r"),
        [3, 6],
        [OK, OK + 1],
        blank=3,
    ),
    case(
        "cr-then-crlf-is-an-empty-line-between",
        f"{HEADER}\r\n{row()}\r\r\n{row(user='8')}\r".encode(),
        [2, 4],
        [OK, OK + 1],
        blank=1,
    ),
    case(
        "lone-cr-in-an-unquoted-value-ends-its-line",
        raw(row(device="i\ros"), row(user="8")),
        [4],
        [OK + 1],
        rejected=[(2, "field_count"), (3, "field_count")],
    ),
    case(
        "lone-cr-inside-quotes-is-a-line-break-of-the-value",
        raw(row(device='"i\ros"'), row(user="8")),
        [2, 4],
        [OK, OK + 1],
    ),
    # a BOM is dropped at the start of the file only; anywhere else it is data
    case(
        "bom-before-a-timestamp",
        raw(row(), "\ufeff" + row(user="8")),
        [2],
        [OK],
        rejected=[(3, "event_time_invalid")],
    ),
    case(
        "bom-before-a-quote-makes-the-quote-text",
        raw("\ufeff" + row(time='"2025-11-19T00:00:01Z"'), row(user="8")),
        [3],
        [OK + 1],
        rejected=[(2, "event_time_invalid")],
    ),
    case(
        "bom-in-a-text-value",
        raw(row(device="\ufeffios"), row(country="\ufeff")),
        [2, 3],
        [OK, OK],
    ),
    case("bom-alone-on-a-line", raw("\ufeff", row()), [3], [OK], rejected=[(2, "field_count")]),
    case(
        "bom-alone-on-the-last-line",
        raw(row()) + "\ufeff".encode(),
        [2],
        [OK],
        rejected=[(3, "field_count")],
    ),
]


# --- quoting --------------------------------------------------------------------------------------

QUOTING = [
    case("quoted-comma", raw(row(session='"s,1"', device='"a,b,c"')), [2], [OK]),
    case("doubled-quotes", raw(row(device='"say ""hi"""', country='""""')), [2], [OK]),
    case("every-field-quoted", raw(",".join(f'"{v}"' for v in row().split(","))), [2], [OK]),
    case("quoted-number", raw(row(amount='"5"', length='" 10 "')), [2], [OK + 5]),
    case(
        "line-break-in-quotes",
        raw(row(device='"a\nb"'), row(user="8")),
        [2, 4],
        [OK, OK + 1],
    ),
    case(
        "crlf-in-quotes",
        raw(row(device='"a\r\nb\r\nc"'), row(user="8"), newline="\r\n"),
        [2, 5],
        [OK, OK + 1],
    ),
    case(
        "line-breaks-then-every-kind-of-line",
        raw(
            row(device='"1\n2\n3"'),  # lines 2-4
            "",  # 5
            row(user="x"),  # 6
            row(country='"\n\n"', user="9"),  # 7-9
            "a,b",  # 10
            row(user="8"),  # 11
        ),
        [2, 7, 11],
        [OK, OK + 2, OK + 1],
        rejected=[(6, "user_id_invalid"), (10, "field_count")],
        blank=1,
    ),
    case(
        "quoted-blank-line-inside-a-value-is-not-blank",
        raw(row(device='"\n\n  \n"'), row(user="8")),
        [2, 6],
        [OK, OK + 1],
    ),
    case(
        "quoted-empty-required-is-missing",
        raw(row(session='""'), row(event='"  "')),
        [],
        [],
        rejected=[(2, "session_id_missing"), (3, "event_type_missing")],
    ),
    case(
        "line-break-in-quotes-of-a-short-row",
        raw('2025-11-19T00:00:01Z,7,"s\n1",click', row()),
        [4],
        [OK],
        rejected=[(2, "field_count")],
        spans={2: 2},
    ),
    case(
        "quote-inside-an-unquoted-value-is-text",
        raw(row(device='i"o"s'), row(user="8")),
        [2, 3],
        [OK, OK + 1],
    ),
    case(
        "unterminated-quote-costs-its-own-line",
        raw(row(), row(device='"ios'), row(user="8"), row(user="9")),
        [2, 4, 5],
        [OK, OK + 1, OK + 2],
        rejected=[(3, "unterminated_quote")],
    ),
    case(
        "unterminated-quote-on-the-last-line",
        raw(row(), row(length='"10')),
        [2],
        [OK],
        rejected=[(3, "unterminated_quote")],
    ),
    case(
        "unterminated-quote-without-a-final-line-break",
        raw(row(), row(length='"10')).removesuffix(b"\n"),
        [2],
        [OK],
        rejected=[(3, "unterminated_quote")],
    ),
    case(
        "unterminated-quote-in-a-record-of-many-lines",  # cut at the end of the quote's line
        raw(row(device='"a\nb"', country='"US'), row(user="8")),
        [4],
        [OK + 1],
        rejected=[(2, "unterminated_quote")],
        spans={2: 2},
    ),
    case(
        "unterminated-quote-crlf",
        raw(row(device='"ios'), row(user="8"), newline="\r\n"),
        [3],
        [OK + 1],
        rejected=[(2, "unterminated_quote")],
    ),
    case(
        "stray-quote-closed-by-a-later-one-is-one-record-of-many-lines",
        raw(row(), row(length='"10'), row(user="8"), row(length='"10'), row(user="9")),
        [2, 6],
        [OK, OK + 2],
        rejected=[(3, "line_break_in_value")],
        spans={3: 3},
    ),
    case(
        "line-break-in-event-time",
        raw(row(time='"2025-11-19T00:00:01Z\n"'), row(user="8")),
        [4],
        [OK + 1],
        rejected=[(2, "line_break_in_value")],
        spans={2: 2},
    ),
    case(
        "line-break-in-user-id",
        raw(row(user='"\r\n7"')),
        [],
        [],
        rejected=[(2, "line_break_in_value")],
        spans={2: 2},
    ),
    case(
        "line-break-in-a-number",
        raw(row(amount='"5\n\n"'), row(premium='"\r1"')),
        [],
        [],
        rejected=[(2, "line_break_in_value"), (5, "line_break_in_value")],
        spans={2: 3, 5: 2},
    ),
    case(
        "line-break-before-invalid-utf8-and-the-field-rules",
        raw(row(time='""', user='"\n"')) + row(length='"\n"').encode() + b"\xff\n",
        [],
        [],
        rejected=[(2, "line_break_in_value"), (4, "line_break_in_value")],
        spans={2: 2, 4: 2},
    ),
]


# --- header ---------------------------------------------------------------------------------------

HEADERS = [
    case(
        "reordered-columns",
        raw(
            "5,click,s1,2025-11-19T00:00:01Z,1.5",
            header="user_id,event_type,session_id,event_time,amount",
        ),
        [2],
        [6.5],
    ),
    case(
        "unknown-extra-columns",
        raw(row() + ",hello,10.0.0.1", header=HEADER + ",note,ip"),
        [2],
        [OK],
    ),
    case(
        "only-required-columns", raw("2025-11-19T00:00:01Z,7,s1,click", header=REQUIRED), [2], [7.0]
    ),
    case(
        "some-optional-columns",
        raw("2025-11-19T00:00:01Z,7,s1,click,3,x", header=REQUIRED + ",amount,event_value"),
        [2],
        [10.0],
    ),
    case("header-only", raw(), [], []),
    case("header-only-no-line-break", HEADER.encode(), [], []),
    case("header-only-crlf-bom", raw(newline="\r\n", bom=True), [], []),
    case(
        "padded-header-names",
        raw(
            row(), header=" event_time ,\tuser_id,session_id ,event_type," + HEADER.split(",", 4)[4]
        ),
        [2],
        [OK],
    ),
    case(
        "quoted-header-names",
        raw(row(), header=",".join(f'"{n}"' for n in HEADER.split(","))),
        [2],
        [OK],
    ),
    case(
        "header-of-many-lines",  # one record, its quoted line breaks trimmed off the names
        raw(row(), header=HEADER.replace("event_time", '"\nevent_time\r\n"')),
        [4],
        [OK],
    ),
    case("header-ends-in-a-lone-cr", raw(row(), newline="\r"), [2], [OK]),
    case(
        "header-of-many-lines-only",
        raw(header=HEADER.replace("amount", '"amount\n"')).removesuffix(b"\n"),
        [],
        [],
    ),
]


# --- blank lines ----------------------------------------------------------------------------------

BLANKS = [
    case("empty-lines", raw("", row(), "", ""), [3], [OK], blank=3),
    case("whitespace-lines", raw(" ", "\t", row(), "  \t ", "\x0b\x0c"), [4], [OK], blank=4),
    case("crlf-empty-lines", raw("", row(), "", newline="\r\n"), [3], [OK], blank=2),
    case("blank-last-line-without-break", raw(row()) + b"   ", [2], [OK], blank=1),
    case("only-blank-lines-after-header", raw("", " ", ""), [], [], blank=3),
    case(
        "commas-are-not-blank",
        raw(",,,,,,,,,", ","),
        [],
        [],
        rejected=[(2, "event_time_missing"), (3, "field_count")],
    ),
    case(
        "quoted-empty-line-is-not-blank",
        raw('""', '"  "', "\u00a0"),
        [],
        [],
        rejected=[(2, "field_count"), (3, "field_count"), (4, "field_count")],
    ),
]


# --- quarantine -----------------------------------------------------------------------------------

QUARANTINE = [
    case(
        "short-row", raw(row(), "2025-11-19T00:00:01Z,7,s1,click"), [2], [OK], [(3, "field_count")]
    ),
    case("long-row", raw(row() + ",extra", row()), [3], [OK], [(2, "field_count")]),
    case("one-field", raw("hello"), [], [], [(2, "field_count")]),
    case(
        "invalid-utf8",
        raw(row()) + row(device="\udcff").encode(errors="surrogateescape") + b"\n",
        [2],
        [OK],
        [(3, "invalid_utf8")],
    ),
    case(
        "event-time-missing",
        raw(row(time=""), row(time="  ")),
        [],
        [],
        [(2, "event_time_missing"), (3, "event_time_missing")],
    ),
    case("event-time-invalid", raw(row(time="yesterday")), [], [], [(2, "event_time_invalid")]),
    case(
        "user-id-missing",
        raw(row(user=""), row(user=" \t")),
        [],
        [],
        [(2, "user_id_missing"), (3, "user_id_missing")],
    ),
    case(
        "user-id-invalid",
        raw(row(user="u7"), row(user="7.0"), row(user="1e3"), row(user="7 7"), row(user="0x7")),
        [],
        [],
        [(n, "user_id_invalid") for n in range(2, 7)],
    ),
    case("session-id-missing", raw(row(session="")), [], [], [(2, "session_id_missing")]),
    case("event-type-missing", raw(row(event=" ")), [], [], [(2, "event_type_missing")]),
    case(
        "first-broken-rule-wins",
        raw(
            row(time="", user="", session="", event=""),
            row(time="bad", user=""),
            row(user="x", session=""),
            row(session="", event=""),
            row(time="", device="\x00") + ",extra",
        ),
        [],
        [],
        [
            (2, "event_time_missing"),
            (3, "event_time_invalid"),
            (4, "user_id_invalid"),
            (5, "session_id_missing"),
            (6, "field_count"),
        ],
    ),
    case(
        "invalid-utf8-before-the-field-rules",
        raw(row()) + row(time="", user="").encode() + b"\xff\n",
        [2],
        [OK],
        [(3, "invalid_utf8")],
    ),
    case(
        "field-count-before-invalid-utf8",
        raw(row()) + b"\xff,x\n",
        [2],
        [OK],
        [(3, "field_count")],
    ),
    case(
        "invalid-utf8-on-a-later-line-of-a-quoted-value",
        raw()
        + b'2025-11-19T00:00:01Z,7,s1,click,"a\nb\xe9\nc",US,1,2.5,,10\n'
        + raw(row())[len(raw()) :],
        [5],
        [OK],
        [(2, "invalid_utf8")],
        spans={2: 3},
    ),
    case(
        "surrounding-whitespace-ignored",
        raw(
            row(
                time=" 2025-11-19T00:00:01Z\t",
                user=" 7 ",
                session=" s1",
                event="click ",
                premium=" 1 ",
            )
        ),
        [2],
        [OK],
    ),
]


# --- optional numerics ----------------------------------------------------------------------------


def numeric(text: str) -> bytes:
    return raw(row(premium="", value=text, amount="", length=""))


NULL_NUMBERS = [
    "",
    " ",
    "abc",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "1e400",
    "-1e400",
    "0x10",
    "1_000",
    "1.5.2",
    "e5",
    "1e",
    ".",
    "+",
    "-",
    "١",
    "5 5",
]
NUMBERS = [
    ("1e3", 1000.0),
    ("1E3", 1000.0),
    ("-0", -0.0),
    ("+5", 5.0),
    (".5", 0.5),
    ("5.", 5.0),
    ("-.5e-1", -0.05),
    ("00012", 12.0),
    ("1e-400", 0.0),
    ("1.7976931348623157e308", 1.7976931348623157e308),
    ("0.1", 0.1),
]
OPTIONAL_NUMERICS = [
    *[case(f"null-{text!r}", numeric(text), [2], [7.0]) for text in NULL_NUMBERS],
    *[case(f"number-{text}", numeric(text), [2], [7.0 + value]) for text, value in NUMBERS],
    case("row-sum-overflows-to-inf", raw(row(value="1e308", amount="1e308")), [2], [math.inf]),
    case(
        "row-sum-adds-left-to-right",
        raw(row(user="0", premium="0.1", value="0.2", amount="0.3", length="")),
        [2],
        [0.1 + 0.2 + 0.3],
    ),
]


# --- user_id --------------------------------------------------------------------------------------

USER_IDS = [
    case("int64-max", raw(row(user=str(INT64_MAX))), [2], [float(INT64_MAX) + 13.5]),
    case("int64-min", raw(row(user=str(INT64_MIN))), [2], [float(INT64_MIN) + 13.5]),
    case("int64-max-plus-one", raw(row(user=str(INT64_MAX + 1))), [], [], [(2, "user_id_invalid")]),
    case(
        "int64-min-minus-one", raw(row(user=str(INT64_MIN - 1))), [], [], [(2, "user_id_invalid")]
    ),
    case("huge", raw(row(user="9" * 40)), [], [], [(2, "user_id_invalid")]),
    case(
        "overflow-among-valid",
        raw(row(), row(user="1" + "0" * 19), row()),
        [2, 4],
        [OK, OK],
        [(3, "user_id_invalid")],
    ),
    case("plus-sign", raw(row(user="+7")), [2], [OK]),
    case("minus-zero", raw(row(user="-0")), [2], [OK - 7]),
    case("leading-zeros", raw(row(user="0007")), [2], [OK]),
    case(
        "non-ascii-digits",  # Python's int() takes them; the contract does not
        raw(row(user="\u0667"), row(user="\uff17"), row(user="7\u00b2")),
        [],
        [],
        [(n, "user_id_invalid") for n in (2, 3, 4)],
    ),
]


# --- timestamps -----------------------------------------------------------------------------------

VALID_TIMES = [
    ("2025-11-19T10:00:00Z", dt.datetime(2025, 11, 19, 10, tzinfo=UTC)),
    ("2025-11-19T10:00:00+02:00", dt.datetime(2025, 11, 19, 8, tzinfo=UTC)),
    ("2025-11-19T10:00:00-02:00", dt.datetime(2025, 11, 19, 12, tzinfo=UTC)),
    ("2025-11-19T10:00:00+0530", dt.datetime(2025, 11, 19, 4, 30, tzinfo=UTC)),
    ("2025-11-19T10:00:00+05", dt.datetime(2025, 11, 19, 5, tzinfo=UTC)),
    ("2025-11-19T01:00:00+05", dt.datetime(2025, 11, 18, 20, tzinfo=UTC)),
    ("2025-11-19T10:00:00", dt.datetime(2025, 11, 19, 10, tzinfo=UTC)),
    ("2025-11-19 10:00:00", dt.datetime(2025, 11, 19, 10, tzinfo=UTC)),
    ("2025-11-19T10:00", dt.datetime(2025, 11, 19, 10, tzinfo=UTC)),
    ("2025-11-19T10:00Z", dt.datetime(2025, 11, 19, 10, tzinfo=UTC)),
    ("2025-11-19T10:00:00.5", dt.datetime(2025, 11, 19, 10, 0, 0, 500000, tzinfo=UTC)),
    ("2025-11-19T10:00:00.123456Z", dt.datetime(2025, 11, 19, 10, 0, 0, 123456, tzinfo=UTC)),
    ("2025-11-19T10:00:00.000001+01:00", dt.datetime(2025, 11, 19, 9, 0, 0, 1, tzinfo=UTC)),
    ("2024-02-29T00:00:00Z", dt.datetime(2024, 2, 29, tzinfo=UTC)),
    ("2000-02-29T00:00:00Z", dt.datetime(2000, 2, 29, tzinfo=UTC)),
    ("2025-12-31T23:30:00-01:00", dt.datetime(2026, 1, 1, 0, 30, tzinfo=UTC)),
    ("0001-01-01T00:00:00Z", dt.datetime(1, 1, 1, tzinfo=UTC)),
    ("0001-01-01T01:00:00+01:00", dt.datetime(1, 1, 1, tzinfo=UTC)),
    ("9999-12-31T23:59:59.999999Z", dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ("2025-11-19T10:00:00+23:59", dt.datetime(2025, 11, 18, 10, 1, tzinfo=UTC)),
]
INVALID_TIMES = [
    "2025-02-30T00:00:00",
    "2023-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2025-04-31T00:00:00Z",
    "2025-13-01T00:00:00Z",
    "2025-00-01T00:00:00Z",
    "2025-11-00T00:00:00Z",
    "2025-11-19T24:00:00",
    "2025-11-19T24:00:00Z",
    "2025-11-19T23:60:00Z",
    "2025-11-19T23:59:60Z",
    "2025-11-19T10:00:00.1234567Z",
    "2025-11-19T10:00:00.Z",
    "2025-11-19",
    "2025-11-19T10",
    "2025-11-19T1:00",
    "2025-11-19t10:00:00Z",
    "2025-11-19T10:00:00z",
    "2025-11-19T10:00:00UTC",
    "2025-11-19T10:00:00 +02:00",
    "2025-11-19T10:00:00+2:00",
    "2025-11-19T10:00:00+24:00",
    "2025-11-19T10:00:00+05:60",
    "2025-11-19T10:00:00+05:30:00",
    "20251119T100000Z",
    "0000-01-01T00:00:00Z",
    "0000-12-31T23:30:00-01:00",  # a written year 0000 is invalid, though in UTC it is year 1
    "0001-01-01T00:00:00+00:01",  # in UTC, before year 1
    "9999-12-31T23:59:59-00:01",  # in UTC, after 9999
    "1763546400",
]
TIMESTAMPS = [
    *[case(f"valid-{text}", raw(row(time=text)), [2], [OK]) for text, _ in VALID_TIMES],
    *[
        case(f"invalid-{text}", raw(row(time=text)), [], [], [(2, "event_time_invalid")])
        for text in INVALID_TIMES
    ],
]


# --- points the README pins ----------------------------------------------------------------------

PINNED = [
    case(
        "a-quote-after-leading-spaces-is-text-so-its-commas-split",
        raw(row(device=' "a,b"'), row(device=' "ios"')),
        [3],
        [OK],
        rejected=[(2, "field_count")],
    ),
    case(
        "text-after-a-closing-quote-is-appended",
        raw(row(device='"i"os'), row(user='"7"8', session='"s" 1')),
        [2, 3],
        [OK, OK + 71],
    ),
    case(
        "a-line-break-trimming-would-remove-still-counts",
        raw(row(amount='" 5\n"'), row(user='"\n7"')),
        [],
        [],
        rejected=[(2, "line_break_in_value"), (4, "line_break_in_value")],
        spans={2: 2, 4: 2},
    ),
]


@pytest.mark.parametrize(
    ("data", "expected"),
    ENCODING_AND_LINE_ENDS
    + QUOTING
    + HEADERS
    + BLANKS
    + QUARANTINE
    + OPTIONAL_NUMERICS
    + USER_IDS
    + TIMESTAMPS
    + PINNED,
)
def test_contract(data: bytes, expected: Expected):
    with pandera_off():
        check(data, expected)


# --- values the tables above do not show ----------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), VALID_TIMES)
def test_event_time_is_utc(text: str, expected: dt.datetime):
    with pandera_off():
        (event_time,) = validate(raw(row(time=text))).events["event_time"]
    assert event_time.to_pydatetime() == expected
    assert str(event_time.tz) == "UTC"
    assert reference(raw(row(time=text))).rows[0][1] == expected


@pytest.mark.parametrize(("text", "expected"), [(t, None) for t in NULL_NUMBERS] + NUMBERS)
def test_optional_numeric_value(text: str, expected: float | None):
    with pandera_off():
        events = validate(numeric(text)).events
    value = events["event_value"].iloc[0]
    if expected is None:
        assert math.isnan(value)
    else:
        assert value == expected
        assert math.copysign(1.0, value) == math.copysign(1.0, expected)  # -0 stays -0.0
    assert reference(numeric(text)).rows[0][8] == expected


def test_quoted_values_are_unquoted_and_trimmed():
    data = raw(
        row(session='" s,1 "', device='"say ""hi"""', country='"a\nb"'),
        row(session=" s2 ", device="", country="\t"),
    )
    events = validate(data).events
    assert events["session_id"].tolist() == ["s,1", "s2"]
    assert events["device"].tolist()[0] == 'say "hi"'
    assert events["country"].tolist()[0] == "a\nb"
    # an empty or whitespace-only text value is null
    assert events[["device", "country"]].iloc[1].isna().all()
    assert events["line"].tolist() == [2, 4]
    assert reference(data).rows[0][3] == "s,1"


def test_quotes_not_at_a_field_s_start_are_text():
    """A quote after leading spaces opens nothing; text after a closing quote is appended."""
    data = raw(row(device=' "ios"', country='"U"S', session='"s"" "1'))
    values = ['"ios"', "US", 's" 1']
    assert validate(data).events[["device", "country", "session_id"]].iloc[0].tolist() == values
    assert [reference(data).rows[0][i] for i in (5, 6, 3)] == values


def test_absent_columns_are_null_and_reported():
    day = validate(raw("2025-11-19T00:00:01Z,7,s1,click,3", header=REQUIRED + ",amount"))
    assert day.summary.absent_columns == [
        "device",
        "country",
        "is_premium",
        "event_value",
        "session_length_sec",
    ]
    assert day.summary.extra_columns == []
    for name in [*TEXT_COLUMNS, *OPTIONAL_NUMERIC_COLUMNS]:
        assert (name == "amount") == day.events[name].notna().all(), name


def test_extra_columns_are_reported_not_fatal():
    day = validate(raw(row() + ",hello,,x", header=HEADER + ",note, ip ,Event_Time"))
    assert day.summary.extra_columns == ["note", "ip", "Event_Time"]
    assert day.summary.absent_columns == []
    assert day.summary.valid == 1
    assert "note" not in day.events.columns


def test_header_only_is_a_valid_empty_day():
    day = validate(raw())
    summary = day.summary
    assert (summary.data_lines, summary.valid, summary.quarantined, summary.blank_lines) == (
        0,
        0,
        0,
        0,
    )
    assert day.events.empty and day.rejected.empty
    assert summary.reasons == {}


def test_rejected_rows_keep_line_reason_and_text():
    data = raw(row(user="u7"), "a,b", row(device='"x\ny"', session=""))
    rejected = validate(data).rejected
    assert rejected["line"].tolist() == [2, 3, 4]
    assert rejected["reason"].tolist() == ["user_id_invalid", "field_count", "session_id_missing"]
    assert rejected["lines"].tolist() == [1, 1, 2]
    first, short, multi = rejected.to_dict("records")
    assert first["user_id"] == "u7" and first["event_time"] == "2025-11-19T00:00:01Z"
    assert first["record"] == row(user="u7")
    assert short["record"].rstrip("\r\n") == "a,b"
    assert pd.isna(short["event_time"])
    assert multi["device"] == "x\ny"


def test_summary_counts_reasons():
    data = raw(row(user="u"), row(user="v"), row(time=""), "", "x", row())
    summary = validate(data).summary
    assert summary.reasons == {"user_id_invalid": 2, "event_time_missing": 1, "field_count": 1}
    assert (summary.data_lines, summary.valid, summary.quarantined, summary.blank_lines) == (
        6,
        1,
        4,
        1,
    )
    assert summary.quarantine_ratio == 4 / 5


def test_the_summary_counts_the_lines_records_cover():
    """A record of many lines counts as many lines, in the accounting and in the ratio."""
    data = raw(
        row(device='"a\nb"'),  # valid, lines 2-3
        row(user="u", device='"\n\n\n"'),  # rejected, lines 4-7
        row(length='"10'),  # unterminated, line 8
        row(),
        "",
    )
    summary = validate(data).summary
    assert (summary.valid, summary.valid_lines) == (2, 3)
    assert (summary.quarantined, summary.quarantined_lines) == (2, 5)
    assert (summary.blank_lines, summary.data_lines) == (1, 9)
    assert summary.reasons == {"user_id_invalid": 1, "unterminated_quote": 1}
    assert summary.quarantine_ratio == 5 / 8


# --- files refused as a whole ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error", "fragments"),
    [
        pytest.param(b"", EmptyFileError, ["empty"], id="zero-bytes"),
        pytest.param(
            b"\xef\xbb\xbf",
            HeaderError,
            ["line 1: the file holds only a UTF-8 BOM, no header"],
            id="bom-only",
        ),
        pytest.param(
            raw(header="event_time,session_id,event_type"),
            HeaderError,
            ["missing required columns: user_id"],
            id="missing-user-id",
        ),
        pytest.param(
            raw(row(), header="session_id,device"),
            HeaderError,
            ["missing required columns: event_time, user_id, event_type", "session_id, device"],
            id="missing-three",
        ),
        pytest.param(
            raw(header=HEADER.replace("event_time", "Event_Time")),
            HeaderError,
            ["missing required columns: event_time"],
            id="names-are-case-sensitive",
        ),
        pytest.param(
            raw(header=HEADER + ",user_id"),
            HeaderError,
            ["duplicated columns: user_id"],
            id="duplicated",
        ),
        pytest.param(
            raw(header=HEADER + ", amount ,note,note"),
            HeaderError,
            ["duplicated columns: amount, note"],
            id="duplicated-after-trimming",
        ),
        pytest.param(
            b"\n" + raw(row()), HeaderError, ["missing required columns"], id="blank-first-line"
        ),
        pytest.param(
            b"\n\n \n", HeaderError, ["missing required columns", "nothing"], id="only-blank-lines"
        ),
        pytest.param(b"\xff" + raw(), HeaderError, ["header is not UTF-8"], id="header-not-utf8"),
        pytest.param(
            raw(row(), bom=True).replace(b"event_time", b"\xef\xbb\xbfevent_time", 1),
            HeaderError,
            ["missing required columns: event_time"],
            id="a-second-bom-is-data",
        ),
        pytest.param(
            raw(row(), header=HEADER + ',"note'),
            HeaderError,
            ["line 1: a quote in the header is never closed"],
            id="header-quote-never-closed",
        ),
        pytest.param(
            raw(row(), header=HEADER + "," + "n" * MAX_HEADER_BYTES),
            HeaderError,
            ["line 1: the header is longer than 1,048,576 bytes"],
            id="header-too-long",
        ),
        pytest.param(
            raw(row(), header=HEADER + ',"' + "n\n" * (MAX_HEADER_BYTES // 2) + '"'),
            HeaderError,
            ["line 1: the header is longer than 1,048,576 bytes"],
            id="header-too-long-in-quotes",
        ),
    ],
)
def test_file_refused(data: bytes, error: type, fragments: list[str]):
    for run in (validate, reference):
        with pytest.raises(error) as raised:
            run(data)
        message = str(raised.value)
        assert message.startswith(f"{SOURCE}: ")
        for fragment in fragments:
            assert fragment in message


def test_a_file_in_another_encoding_is_quarantined_line_by_line():
    """Latin-1 text: every line with an accented letter is invalid_utf8, the rest are valid.
    (Large enough that retrying the decode after every bad byte would crawl.)"""
    lines = [row(user=str(n), country="Düsseldorf" if n % 3 else "Berlin") for n in range(30_000)]
    data = raw().decode().encode("latin-1") + "".join(f"{line}\n" for line in lines).encode(
        "latin-1"
    )
    with pandera_off():
        day = validate(data)
    quarantined = [n + 2 for n in range(30_000) if n % 3]
    assert day.rejected["line"].tolist() == quarantined
    assert set(day.rejected["reason"]) == {"invalid_utf8"}
    assert day.events["line"].tolist() == [n + 2 for n in range(0, 30_000, 3)]
