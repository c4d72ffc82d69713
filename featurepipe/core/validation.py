"""Turn one raw file into validated events and quarantined rows, every line accounted for."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO

import pandas as pd
import pyarrow as pa

from featurepipe.core.reading import DEFAULT_BLOCK_SIZE, read_batches
from featurepipe.core.rules import REJECTED_SCHEMA, VALID_SCHEMA, apply_rules
from featurepipe.core.schemas import RejectedEvents, ValidatedEvents


class AccountingError(RuntimeError):
    """Lines were lost or counted twice: a bug, never a property of the input."""


@dataclass(frozen=True)
class DaySummary:
    source: str
    data_lines: int
    valid: int
    quarantined: int
    blank_lines: int
    bytes_read: int
    reasons: dict[str, int] = field(default_factory=dict)
    absent_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)

    @property
    def quarantine_ratio(self) -> float:
        rows = self.valid + self.quarantined
        return self.quarantined / rows if rows else 0.0


@dataclass(frozen=True)
class ValidatedDay:
    events: pd.DataFrame
    rejected: pd.DataFrame
    summary: DaySummary


def validate_events(
    stream: BinaryIO, source: str, block_size: int = DEFAULT_BLOCK_SIZE
) -> ValidatedDay:
    """Read a raw CSV stream block by block and apply the row contract.

    Raises ContractError when the file as a whole is unusable (empty, bad header).
    """
    header, stats, batches = read_batches(stream, source, block_size)
    valid_parts, rejected_parts = [], []
    for batch in batches:
        valid, rejected = apply_rules(batch)
        valid_parts.append(valid)
        rejected_parts.append(rejected)
    events = _to_pandas(valid_parts, VALID_SCHEMA)
    rejected = _to_pandas(rejected_parts, REJECTED_SCHEMA)
    summary = DaySummary(
        source=source,
        data_lines=stats.data_lines,
        valid=len(events),
        quarantined=len(rejected),
        blank_lines=stats.blank_lines,
        bytes_read=stats.bytes_read,
        reasons=dict(Counter(rejected["reason"]).most_common()),
        absent_columns=header.absent,
        extra_columns=header.extra,
    )
    if summary.data_lines != summary.valid + summary.quarantined + summary.blank_lines:
        raise AccountingError(f"{source}: lines do not add up: {summary}")
    return ValidatedDay(
        events=ValidatedEvents.validate(events, lazy=True),
        rejected=RejectedEvents.validate(rejected, lazy=True),
        summary=summary,
    )


def _to_pandas(parts: list[pa.Table], schema: pa.Schema) -> pd.DataFrame:
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    return table.to_pandas(self_destruct=True, split_blocks=True)
