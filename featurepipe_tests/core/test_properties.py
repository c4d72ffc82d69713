"""Random raw files, valid and broken lines mixed: the fast path must agree with the reference.

Line ends are LF, CRLF and lone CRs; stray quotes, BOMs and quoted line breaks anywhere; the
bound on a quoted value's line breaks often tiny, so that it is crossed.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurepipe.core import contract
from featurepipe.core.contract import (
    KNOWN_COLUMNS,
    OPTIONAL_NUMERIC_COLUMNS,
    REQUIRED_COLUMNS,
    ContractError,
    Reason,
)
from featurepipe_tests.core.support import (
    assert_same,
    fast,
    outcome_or_error,
    pandera_off,
    reference,
)

REASONS = {r.value for r in Reason}

# --- values -----------------------------------------------------------------------------------

ODD_TIMES = [
    "",
    " ",
    "2025-02-30T00:00:00",
    "2024-02-29T12:00:00Z",
    "2023-02-29T12:00:00Z",
    "2025-13-01T00:00",
    "2025-01-01T24:00",
    "2025-01-01T23:60",
    "2025-01-01T00:00:60",
    "2025-01-01",
    "2025-01-01T1:00",
    "0000-01-01T00:00",
    "0001-01-01T00:00+01:00",
    "0001-01-01T00:00-01:00",
    "9999-12-31T23:59:59.999999-00:01",
    "9999-12-31T23:59:59.999999+00:01",
    "2025-01-01T00:00+24:00",
    "2025-01-01T00:00+05:60",
    "2025-01-01T00:00:00.1234567",
    "2025-01-01T00:00:00.",
    "2025-01-01t00:00:00",
    "2025-01-01T00:00:00z",
    "20250101T000000",
    "2025-1-01T00:00",
    "not a time",
    "2025-01-01T00:00:00+05:30:00",
    "2025-01-01T00:00:00 +05:30",
    "2025-01-01T00:00:00UTC",
    "١٢٣٤-01-01T00:00",
]
ODD_NUMBERS = [
    "",
    "1e3",
    "-0",
    "+5",
    ".5",
    "5.",
    ".",
    "-",
    "+",
    "e5",
    "1e",
    "1e+",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "0x10",
    "1_000",
    "1,5",
    "1.5.2",
    "١",
    "1e308",
    "1.7976931348623157e308",
    "4.9e-324",
    "00012",
    "+.5e-3",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
]


@st.composite
def timestamps(draw) -> str:
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(ODD_TIMES))
    moment = draw(st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)))
    text = moment.strftime("%Y-%m-%d") + draw(st.sampled_from("T ")) + moment.strftime("%H:%M")
    if draw(st.booleans()):
        text += moment.strftime(":%S")
        digits = draw(st.integers(0, 7))
        if digits:
            text += "." + f"{moment.microsecond:06d}{draw(st.integers(0, 9))}"[:digits]
    offset = draw(st.sampled_from(["", "Z", "+HH:MM", "-HHMM", "+HH", "-HH:MM"]))
    hours, minutes = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    text += offset.replace("HH", f"{hours:02d}").replace("MM", f"{minutes:02d}")
    return text


def integers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-(2**64), 2**64).map(str),
        st.integers(0, 10**6).map(lambda n: f"+{n:07d}"),
        st.sampled_from(ODD_NUMBERS),
    )


def numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(-(10**20), 10**20).map(str),
        st.sampled_from(ODD_NUMBERS),
        st.text(alphabet="0123456789+-.eEnaifINF_x ", max_size=8),
    )


def texts() -> st.SearchStrategy[str]:
    """Free text: commas, quotes, line breaks (LF, CRLF, CR), NUL, tabs, BOMs, non-ASCII."""
    return st.one_of(
        st.sampled_from(["", " ", "s1", "click", "ios", "DE", "é", "\u00a0", "😀", "\ufeff"]),
        st.text(alphabet='ab ,"\n\t\x00é€😀', max_size=10).map(lambda s: s.replace("\n", "\r\n"))
        | st.text(alphabet='ab ,"\n\r\t\x00é€😀\ufeff', max_size=10),
    )


def pad(value: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Sometimes surround a value with whitespace, which the contract ignores."""
    return st.tuples(
        st.sampled_from(["", "", " ", "\t"]), value, st.sampled_from(["", "", " "])
    ).map("".join)


def value_for(column: str) -> st.SearchStrategy[str]:
    if column == "event_time":
        return pad(timestamps())
    if column == "user_id":
        return pad(integers())
    if column in OPTIONAL_NUMERIC_COLUMNS:
        return pad(numbers())
    return texts()


def quote(value: str, always: bool) -> str:
    if always or any(c in value for c in ',"\r\n') or value[:1].isspace():
        return '"' + value.replace('"', '""') + '"'
    return value


# --- files ------------------------------------------------------------------------------------


@st.composite
def headers(draw) -> list[str]:
    optional = draw(st.lists(st.sampled_from(KNOWN_COLUMNS[4:]), unique=True))
    extra = draw(st.lists(st.sampled_from(["note", "ip", "Event_Time"]), unique=True, max_size=2))
    columns = [*REQUIRED_COLUMNS, *optional, *extra]
    if draw(st.integers(0, 40)) == 0:  # now and then a header the contract refuses
        columns = draw(st.sampled_from([columns[1:], [*columns, columns[0]], []]))
    return draw(st.permutations(columns))


@st.composite
def records(draw, columns: list[str]) -> bytes:
    """One line (or more, when a quoted field holds line breaks), without its line end."""
    kind = draw(
        st.sampled_from(
            ["row"] * 6 + ["short", "long", "blank", "garbage", "bytes", "stray", "bom"]
        )
    )
    if kind == "blank":
        return draw(st.sampled_from(["", " ", "\t", "  \t ", "\x0b", "\x0c"])).encode()
    if kind == "garbage":
        return draw(st.text(alphabet='a1 ,"-:.\n\r\t\ufeff', max_size=30)).encode()
    fields = [quote(draw(value_for(c)), draw(st.integers(0, 9)) == 0) for c in columns]
    if kind == "short" and fields:
        del fields[draw(st.integers(0, len(fields) - 1))]
    elif kind == "long":
        fields.insert(draw(st.integers(0, len(fields))), draw(st.sampled_from(["", "x", '"a,b"'])))
    line = ",".join(fields).encode()
    if kind in ("stray", "bom"):  # a quote or a BOM anywhere, a field's start most likely
        starts = [0] + [i + 1 for i, byte in enumerate(line) if byte == b","[0]]
        at = draw(st.sampled_from(starts) | st.integers(0, len(line)))
        line = line[:at] + (b'"' if kind == "stray" else b"\xef\xbb\xbf") + line[at:]
    if kind == "bytes":  # invalid UTF-8 somewhere: a stray byte, a cut sequence, a surrogate
        bad = draw(st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80"]))
        at = draw(st.integers(0, len(line)))
        line = line[:at] + bad + line[at:]
    return line


@st.composite
def raw_files(draw) -> bytes:
    columns = draw(headers())
    header = ",".join(
        draw(st.sampled_from(["{}", " {} ", '"{}"', '"{}\n"', '"\r\n{}"'])).format(name)
        for name in columns
    )
    lines = [header.encode(), *draw(st.lists(records(columns), max_size=12))]
    ends = draw(
        st.lists(
            st.sampled_from([b"\n", b"\n", b"\r\n", b"\r"]),
            min_size=len(lines),
            max_size=len(lines),
        )
    )
    data = b"".join(line + end for line, end in zip(lines, ends, strict=True))
    if draw(st.booleans()):  # no line break at the very end
        data = data.removesuffix(b"\n").removesuffix(b"\r")
    if draw(st.integers(0, 4)) == 0:
        data = b"\xef\xbb\xbf" + data
    return data


def _block_sizes() -> st.SearchStrategy[int | None]:
    """Mostly the default; otherwise tiny blocks that cut records, characters and CRLFs."""
    return st.sampled_from([None, None, None, 1, 7, 64])


@pytest.fixture(scope="module", autouse=True)
def _no_pandera():
    with pandera_off():
        yield


# Slow: hypothesis runs many files through both implementations.
@pytest.mark.slow
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=raw_files(),
    block_size=_block_sizes(),
    step=st.sampled_from([None, None, 3]),
    bound=st.sampled_from([None, 0, 1, 2, 3]),
)
def test_fast_path_equals_reference(
    data: bytes, block_size: int | None, step: int | None, bound: int | None
):
    """`step`: the source gives at most that many bytes a read, as network streams may.
    `bound`: MAX_QUOTED_LINE_BREAKS for this file (None: as shipped)."""
    with pytest.MonkeyPatch.context() as patch:
        if bound is not None:
            patch.setattr(contract, "MAX_QUOTED_LINE_BREAKS", bound)
        expected = outcome_or_error(reference, data)
        got = outcome_or_error(lambda data: fast(data, block_size=block_size, step=step), data)
    if isinstance(expected, tuple):  # the whole file refused: the same error, the same words
        assert got == expected
        assert issubclass(expected[0], ContractError)
        return
    assert not isinstance(got, tuple), got
    for outcome in (got, expected):
        assert outcome.adds_up()
        assert all(line >= 2 and reason in REASONS for line, reason in outcome.rejected)
    assert_same(got, expected)
