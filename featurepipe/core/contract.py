"""The row contract: column names, the rules a row must pass, and why a row is rejected.

This module is the single statement of the contract, its columns declared in `columns`. `rules`
applies it to Arrow batches, `reference` applies it one row at a time; tests hold the two to the
same answers.
"""

from __future__ import annotations

import re
from collections import Counter

from featurepipe.core.columns import TABLES, Role
from featurepipe.core.reasons import Reason as Reason  # the contract names why a row fails

REQUIRED_COLUMNS = TABLES.names(Role.REQUIRED)
TEXT_COLUMNS = TABLES.names(Role.TEXT)
OPTIONAL_NUMERIC_COLUMNS = TABLES.names(Role.NUMBER)
KNOWN_COLUMNS = TABLES.known
ROW_SUM_COLUMNS = TABLES.row_sum
# Values that are one line: a line break in one means a quote opened where none belongs.
SINGLE_LINE_COLUMNS = TABLES.single_line

# Only a BOM at the very start of the file is dropped; anywhere else it is data.
BOM = b"\xef\xbb\xbf"
# A quoted value may hold this many line breaks. A quote that does not close by then (a stray
# quote) costs its own line only, not every line up to the next quote in the file.
MAX_QUOTED_LINE_BREAKS = 10_000
# The header record, its line end included.
MAX_HEADER_BYTES = 1 << 20

# Surrounding ASCII whitespace is not part of a value.
WHITESPACE = " \t\n\r\x0b\x0c"

# ISO-8601 date and time to the microsecond, with an optional offset (none means UTC).
# A written year 0000 is excluded, as Python cannot represent it, even where an offset would
# carry its UTC time into year 1; days past the month's end, and offsets that carry the UTC
# time out of years 1-9999, are caught after matching. Upper-case T and Z only, no 24:00, no
# leap second.
TIMESTAMP_PATTERN = (
    r"^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?$"
)
INTEGER_PATTERN = r"^[+-]?[0-9]+$"
NUMBER_PATTERN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"

TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)
INTEGER_RE = re.compile(INTEGER_PATTERN)
NUMBER_RE = re.compile(NUMBER_PATTERN)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# More significant digits than this cannot be in the int64 range. Python's int() refuses
# strings of over 4,300 digits, leading zeros included: it is given at most these.
INT64_DIGITS = len(str(INT64_MAX))


class ContractError(ValueError):
    """The file as a whole breaks the contract: nothing is stored for its partition."""


class EmptyFileError(ContractError):
    pass


class HeaderError(ContractError):
    pass


class ReadError(ContractError):
    """A library underneath failed on part of the file: the error, named with the file and,
    where known, the lines."""


# Arrow quotes the whole value it refuses, however long: a ReadError quotes the start.
QUOTED_ERROR_CHARS = 500


def quoted(err: BaseException) -> str:
    """A library's error as a ReadError quotes it: its type and the start of its message."""
    text = f"{type(err).__name__}: {err}"
    if len(text) <= QUOTED_ERROR_CHARS:
        return text
    return f"{text[:QUOTED_ERROR_CHARS]}… ({len(text):,} characters)"


def parse_header(record: bytes, source: str, closed: bool = True, bom: bool = False) -> list[str]:
    """The column names of the header record: the file's first record, BOM dropped, line end
    included; `closed` is False when a quote in it never closes, `bom` True when the file
    started with a BOM."""
    if not record:
        if bom:
            raise HeaderError(f"{source}: line 1: the file holds only a UTF-8 BOM, no header")
        raise EmptyFileError(f"{source}: the file is empty (0 bytes); expected at least a header")
    if len(record) > MAX_HEADER_BYTES:
        raise HeaderError(
            f"{source}: line 1: the header is longer than {MAX_HEADER_BYTES:,} bytes"
            " (a header is one CSV record; is a quote in it never closed?)"
        )
    if not closed:
        raise HeaderError(f"{source}: line 1: a quote in the header is never closed")
    try:
        text = record.decode("utf-8")
    except UnicodeDecodeError as err:
        raise HeaderError(f"{source}: line 1: the header is not UTF-8 ({err.reason})") from None
    text = text.removesuffix("\n").removesuffix("\r")
    return [name.strip(WHITESPACE) for name in split_record(text)]


def split_record(text: str) -> list[str]:
    """The fields of one whole CSV record, its line end removed, as Python's csv module reads
    them but with no limit on a field's length: a quote opens a quoted value only as a field's
    first character, two quotes in one stand for a quote, and text after the closing quote,
    up to the next comma, is appended to the value."""
    if '"' not in text:
        return text.split(",")
    fields, at, size = [], 0, len(text)
    while True:
        parts = []
        if text.startswith('"', at):
            at += 1
            while True:
                close = text.find('"', at)
                if close < 0:  # never closed: the value runs to the end of the record
                    close = size
                parts.append(text[at:close])
                at = close + 1
                if not text.startswith('"', at):
                    break
                parts.append('"')
                at += 1
            at = min(at, size)
        comma = text.find(",", at)
        end = size if comma < 0 else comma
        parts.append(text[at:end])
        fields.append("".join(parts))
        if comma < 0:
            return fields
        at = comma + 1


def check_header(names: list[str], source: str) -> tuple[list[str], list[str]]:
    """Validate a parsed header; return (missing optional columns, unknown extra columns)."""
    duplicated = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicated:
        raise HeaderError(f"{source}: line 1: duplicated columns: {_listed(duplicated)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise HeaderError(
            f"{source}: line 1: missing required columns: {', '.join(missing)}"
            f" (header has: {_listed(names) or 'nothing'})"
        )
    absent = [c for c in KNOWN_COLUMNS if c not in names]
    extra = [n for n in names if n not in KNOWN_COLUMNS]
    return absent, extra


# A header may be 1 MiB of names: an error quotes the start of it.
LISTED_NAMES, LISTED_CHARS = 20, 100


def _listed(names: list[str]) -> str:
    shown = [
        name if len(name) <= LISTED_CHARS else f"{name[:LISTED_CHARS]}… ({len(name):,} characters)"
        for name in names[:LISTED_NAMES]
    ]
    more = len(names) - LISTED_NAMES
    return ", ".join(shown) + (f", … ({more:,} more)" if more > 0 else "")
