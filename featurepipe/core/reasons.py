"""Why a record is quarantined: the values of rejected_events' `reason` column."""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """Why a record was quarantined: the first rule it fails, in this order."""

    UNTERMINATED_QUOTE = "unterminated_quote"  # cut at the end of the quote's line
    FIELD_COUNT = "field_count"
    LINE_BREAK_IN_VALUE = "line_break_in_value"  # in one of SINGLE_LINE_COLUMNS
    INVALID_UTF8 = "invalid_utf8"
    EVENT_TIME_MISSING = "event_time_missing"
    EVENT_TIME_INVALID = "event_time_invalid"
    USER_ID_MISSING = "user_id_missing"
    USER_ID_INVALID = "user_id_invalid"
    SESSION_ID_MISSING = "session_id_missing"
    EVENT_TYPE_MISSING = "event_type_missing"
