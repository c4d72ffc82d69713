"""Values at the limits of the libraries underneath, planted in every column: the fast path
must agree with the reference row by row, and no value may fail the day.

The limits: int64 (19 digits), Python's int() (4,300 digits), fast_float's exact digits (768,
Arrow's float parser), the csv module's field limit (131,072 characters), float64's range.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurepipe.core.contract import INT64_MAX, INT64_MIN, KNOWN_COLUMNS, REQUIRED_COLUMNS
from featurepipe_tests.core.support import assert_same, fast, pandera_off, reference

CSV_FIELD_LIMIT = 131_072
DIGIT_COUNTS = [1, 18, 19, 20, 767, 768, 769, 4_299, 4_300, 4_301, 5_000]
PADDING = [0, 1, 768, 4_300, 5_000]
EDGES = [str(INT64_MAX), str(INT64_MAX + 1), str(INT64_MIN)[1:], str(-INT64_MIN + 1), "0", "7"]
FLOATS = [
    "1.7976931348623157e308",  # the largest double
    "1.7976931348623158e308",  # still rounds to it
    "1.7976931348623159e308",  # rounds to inf: not finite
    "4.9406564584124654e-324",  # the smallest subnormal
    "2.4703282292062327e-324",  # just under half of it: 0.0
    "2.4703282292062328e-324",  # just over: the smallest subnormal
    "9007199254740993",  # 2**53 + 1: halfway, rounds to even
    "9007199254740993" + "0" * 760 + "1",  # the deciding digit past fast_float's 768
    "0." + "0" * 5_000 + "1",
    "1e" + "9" * 30,
    "-1e-" + "9" * 30,
    ".5",
    "5.",
]
TIMES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59.999999-00:01",
    "0001-01-01T00:30:00+01:00",
    "0000-12-31T23:30:00-01:00",
    "2024-02-29T12:00:00+23:59",
    "2025-02-30T00:00:00",
    "2025-11-19T00:00:00." + "1" * 5_000,
    "2025-11-19T00:00:00Z",
]


@st.composite
def digit_strings(draw) -> str:
    """Signed, zero-padded digit strings of every length around each limit."""
    count = draw(st.sampled_from(DIGIT_COUNTS))
    digits = draw(st.sampled_from([*EDGES, "9" * count, "1" + "0" * (count - 1)]))
    sign = draw(st.sampled_from(["", "", "+", "-"]))
    return sign + "0" * draw(st.sampled_from(PADDING)) + digits


def huge_texts() -> st.SearchStrategy[str]:
    """Around the csv module's field limit, plain or with the CSV's own characters in it."""
    return st.tuples(
        st.sampled_from([CSV_FIELD_LIMIT - 1, CSV_FIELD_LIMIT, CSV_FIELD_LIMIT + 1]),
        st.sampled_from(["x", "7", 'a,"', " \t"]),
    ).map(lambda pair: (pair[1] * pair[0])[: pair[0]])


@st.composite
def extremes(draw) -> str:
    if draw(st.integers(0, 7)) == 0:  # huge texts are rarer: the reference reads them slowly
        return draw(huge_texts())
    return draw(
        st.one_of(
            digit_strings(),
            digit_strings().map(lambda digits: digits + ".5e-3"),
            st.sampled_from(FLOATS),
            st.sampled_from(TIMES),
        )
    )


def ordinary(column: str) -> str:
    return {"event_time": "2025-11-19T00:00:01Z", "user_id": "7", "event_type": "click"}.get(
        column, "1"
    )


def field(value: str, quoted: bool) -> str:
    if quoted or any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def files(draw) -> bytes:
    extra = draw(st.sampled_from([[], [], ["n" * (CSV_FIELD_LIMIT + 1)], ['note,"x"' * 20_000]]))
    columns = draw(st.permutations([*KNOWN_COLUMNS, *extra]))
    header = ",".join(field(name, False) for name in columns)
    lines = [header]
    for _ in range(draw(st.integers(1, 4))):
        values = []
        for column in columns:
            value = draw(extremes()) if draw(st.integers(0, 2)) == 0 else ordinary(column)
            values.append(field(value, draw(st.integers(0, 5)) == 0))
        lines.append(",".join(values))
    assert set(REQUIRED_COLUMNS) <= set(columns)
    return "".join(line + "\n" for line in lines).encode()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=files(), block_size=st.sampled_from([None, None, 1 << 12, 1 << 17]))
def test_extreme_values_in_every_column(data: bytes, block_size: int | None):
    with pandera_off():
        got = fast(data, block_size=block_size)
    expected = reference(data)
    assert_same(got, expected)
    assert got.adds_up()


def test_every_extreme_in_every_column_passes_pandera_on_the_shipped_path():
    """What the rules let through, pandera's schemas take: each value above in each column,
    one row each, checked as shipped."""
    digits = [sign + "0" * 5_000 + edge for sign in ("", "+", "-") for edge in EDGES]
    values = [*FLOATS, *TIMES, *digits, "9" * 4_301, "x" * (CSV_FIELD_LIMIT + 1)]
    columns = list(KNOWN_COLUMNS)
    lines = [",".join(columns)]
    for column in columns:
        for value in values:
            lines.append(",".join(value if c == column else ordinary(c) for c in columns))
    data = "".join(line + "\n" for line in lines).encode()
    got = fast(data)
    assert_same(got, reference(data))
    assert got.valid + got.quarantined == len(lines) - 1
    assert got.valid > len(columns) * len(values) // 2
