"""Invalid UTF-8 replaced by U+FFFD, with where each replacement stands, so that pyarrow never
sees it and the records it was in are quarantined rather than the file failing."""

from __future__ import annotations

import codecs
import threading

import numpy as np

REPLACEMENT = "\ufffd".encode()


def complete_prefix(data: bytes) -> int:
    """Length of `data` without a multi-byte character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if need <= back else len(data) - back
    return len(data)


def repair(data: bytes) -> tuple[bytes, np.ndarray]:
    """Replace invalid UTF-8 with U+FFFD; return the new bytes and where replacements stand."""
    try:
        if not data.isascii():  # ASCII is UTF-8; decoding would build a string to throw away
            data.decode("utf-8")
        return data, NONE
    except UnicodeDecodeError:
        pass
    # One decoding pass that notes each invalid span: retrying the rest of the data after
    # every error would take quadratic time on a file in another encoding.
    _invalid.spans = spans = []
    text = data.decode("utf-8", _NOTE_INVALID)
    starts, ends = np.asarray(spans, np.int64).T
    grown = np.cumsum(len(REPLACEMENT) - (ends - starts))  # each span becomes U+FFFD
    return text.encode("utf-8"), starts + np.concatenate(([0], grown[:-1]))


NONE = np.empty(0, np.int64)


class _InvalidSpans(threading.local):
    spans: list[tuple[int, int]]


_invalid = _InvalidSpans()
_NOTE_INVALID = "featurepipe.note_invalid_utf8"


def _note_invalid(err: UnicodeError) -> tuple[str, int]:
    _invalid.spans.append((err.start, err.end))
    return "\ufffd", err.end


codecs.register_error(_NOTE_INVALID, _note_invalid)
