"""reading.utf8: characters cut at a read's end held back; invalid UTF-8 replaced, noted."""

from __future__ import annotations

import pytest

from featurepipe.core.reading.utf8 import REPLACEMENT, complete_prefix, repair


@pytest.mark.parametrize(
    ("data", "prefix"),
    [
        (b"abc", 3),
        ("aé".encode(), 3),
        ("aé".encode()[:-1], 1),  # é cut after its first byte
        ("a€".encode()[:-1], 1),
        ("a😀".encode()[:-2], 1),
        ("a😀".encode(), 5),
        (b"a\xff", 1),  # held back like a lead byte: the next read or the end settles it
        (b"", 0),
    ],
)
def test_complete_prefix(data: bytes, prefix: int):
    assert complete_prefix(data) == prefix


@pytest.mark.parametrize(
    ("data", "fixed", "at"),
    [
        (b"plain ascii", b"plain ascii", []),
        ("é€".encode(), "é€".encode(), []),
        (b"a\xffb\xfe", b"a" + REPLACEMENT + b"b" + REPLACEMENT, [1, 5]),
        (b"\xe2\x82,x", REPLACEMENT + b",x", [0]),  # a cut sequence: one replacement
        (b"\xed\xa0\x80\n", REPLACEMENT * 3 + b"\n", [0, 3, 6]),  # a surrogate
        (b"\xc0\xaf", REPLACEMENT * 2, [0, 3]),  # overlong
    ],
)
def test_repair_replaces_and_notes_where(data: bytes, fixed: bytes, at: list[int]):
    got, where = repair(data)
    assert (got, where.tolist()) == (fixed, at)
    assert got.decode("utf-8") == data.decode("utf-8", errors="replace")
