"""Stream a raw CSV object into Arrow batches of string fields, each record with its lines.

pyarrow parses the CSV (RFC 4180: quoted commas, quotes and line breaks). Around it, one job
a module: `header` reads the first record; `tap` cuts the stream into chunks of whole records,
`utf8` repairing invalid UTF-8 on the way and `records` finding where lines and records end
(LF, CRLF or a lone CR; a quote that never closes cut off at its line); `batches` has pyarrow
parse each chunk and gives every record the physical line it starts on and the lines it
covers, keeps rows with a wrong field count with their text and counts blank lines.
"""

from featurepipe.core.reading.batches import (
    DEFAULT_BLOCK_SIZE,
    Batch,
    ReadStats,
    Unparsed,
    read_batches,
)
from featurepipe.core.reading.header import Header, read_header

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "Batch",
    "Header",
    "ReadStats",
    "Unparsed",
    "read_batches",
    "read_header",
]
