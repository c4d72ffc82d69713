"""The header: the file's first CSV record (quoted line breaks allowed), at most
MAX_HEADER_BYTES, after a BOM at the very start of the file if there is one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from featurepipe.core.contract import BOM, MAX_HEADER_BYTES, check_header, parse_header
from featurepipe.core.reading.records import count_lines, first_record_end

READ_SIZE = 64 << 10


@dataclass(frozen=True)
class Header:
    columns: list[str]
    absent: list[str]  # known optional columns the file does not have
    extra: list[str]  # columns the contract does not know (schema drift)
    lines: int  # physical lines the header covers; data starts on the line after
    size: int  # bytes of the header, the BOM and its line end included


def read_header(stream: BinaryIO, source: str) -> tuple[Header, bytes]:
    """Read and check the header; return it with the bytes read past it."""
    head, end, final = b"", None, False
    while True:
        bom = len(BOM) if head.startswith(BOM) else 0
        end = first_record_end(head[bom:], final)
        if end is not None or final or len(head) - bom > MAX_HEADER_BYTES:
            break
        part = stream.read(READ_SIZE)
        final = not part
        head += part
    record = head[bom : bom + end] if end is not None else head[bom:]
    names = parse_header(record, source, closed=end is not None or not final, bom=bom > 0)
    absent, extra = check_header(names, source)
    header = Header(names, absent, extra, count_lines(record), bom + len(record))
    return header, head[bom + len(record) :]
