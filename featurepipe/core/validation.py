"""Turn one raw file into validated events and quarantined rows, every line accounted for."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import BinaryIO

import pandas as pd
import pyarrow as pa

from featurepipe.core.contract import ReadError, quoted
from featurepipe.core.prefetch import map_in_order, prefetch
from featurepipe.core.reading import DEFAULT_BLOCK_SIZE, Batch, read_batches
from featurepipe.core.rules import REJECTED_SCHEMA, VALID_SCHEMA, Ruled, apply_rules
from featurepipe.core.schemas import CHECK, RejectedEvents, ValidatedEvents


class AccountingError(RuntimeError):
    """Lines were lost or counted twice: a bug, never a property of the input."""


@dataclass(frozen=True)
class DaySummary:
    """What a file came to. Lines are physical lines after the header: a record whose quoted
    values hold line breaks covers several, and each is accounted for:
    data_lines = valid_lines + quarantined_lines + blank_lines."""

    source: str
    data_lines: int
    valid: int  # events
    valid_lines: int  # the lines they cover
    quarantined: int  # records, the rows of rejected_events
    quarantined_lines: int  # the lines they cover
    blank_lines: int
    bytes_read: int  # the whole file
    reasons: dict[str, int] = field(default_factory=dict)  # quarantined records by reason
    absent_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)

    @property
    def quarantine_ratio(self) -> float:
        """Share of the non-blank lines that were quarantined."""
        lines = self.valid_lines + self.quarantined_lines
        return self.quarantined_lines / lines if lines else 0.0


@dataclass(frozen=True)
class ValidatedDay:
    events: pd.DataFrame
    rejected: pd.DataFrame
    summary: DaySummary


# Rows per yielded frame: each frame costs pandera a fixed ~10 ms per schema, so frames are
# larger than pyarrow's blocks; memory grows with this, not with the file.
FRAME_ROWS = 100_000
RULE_THREADS = 2  # blocks checked at once


class EventValidation:
    """One raw file validated block by block: iterate `batches()` for (events, rejected)
    DataFrames, each checked by its pandera schema; `summary()` once they are consumed.

    Rejected rows are few, so they are held back until FRAME_ROWS of them (or the file's
    end) and most frames come with no rejected rows: pandera's fixed cost per frame is then
    paid once for many blocks.

    Raises ContractError at construction when the file as a whole is unusable (empty, bad
    header), before any batch is produced; ReadError from batches() when a library under it
    fails on part of it, named with the file and, where known, the lines.
    """

    def __init__(self, stream: BinaryIO, source: str, block_size: int = DEFAULT_BLOCK_SIZE):
        self.source = source
        self.header, self._stats, self._batches = read_batches(stream, source, block_size)
        self._valid = self._valid_lines = self._quarantined = self._quarantined_lines = 0
        self._reasons: Counter[str] = Counter()
        self._done = False

    def batches(self) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
        try:
            yield from self._frames()
        except pa.ArrowException as err:  # never unnamed: the user must see which file
            raise ReadError(f"{self.source}: pyarrow failed: {quoted(err)}") from err

    def _frames(self) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
        # Parsing runs on a thread of its own and the Arrow rules on two more, a block each,
        # while this one converts, validates and hands on the previous frame.
        held: list[pa.Table] = []
        with ThreadPoolExecutor(max_workers=RULE_THREADS, thread_name_prefix="rules") as rules:
            ruled = map_in_order(rules, _apply_rules, self._batches, RULE_THREADS)
            for valid, rejected, lines in prefetch(partial(_next_group, ruled), "csv-reader"):
                self._valid_lines += lines
                held += rejected
                if sum(t.num_rows for t in held) < FRAME_ROWS:
                    yield self._events(valid), EMPTY_REJECTED
                else:
                    yield self._events(valid), self._rejected(held)
                    held = []
        if any(t.num_rows for t in held):
            yield EMPTY_EVENTS, self._rejected(held)
        self._done = True

    def _events(self, valid: list[pa.Table]) -> pd.DataFrame:
        events = ValidatedEvents.validate(_to_pandas(pa.concat_tables(valid)), **CHECK)
        self._valid += len(events)
        return events

    def _rejected(self, rejected: list[pa.Table]) -> pd.DataFrame:
        quarantined = RejectedEvents.validate(_to_pandas(pa.concat_tables(rejected)), **CHECK)
        self._quarantined += len(quarantined)
        self._quarantined_lines += int(quarantined["lines"].sum())
        self._reasons.update(quarantined["reason"])
        return quarantined

    def summary(self) -> DaySummary:
        if not self._done:
            raise RuntimeError("summary() before all batches were consumed")
        summary = DaySummary(
            source=self.source,
            data_lines=self._stats.data_lines,
            valid=self._valid,
            valid_lines=self._valid_lines,
            quarantined=self._quarantined,
            quarantined_lines=self._quarantined_lines,
            blank_lines=self._stats.blank_lines,
            bytes_read=self._stats.bytes_read,
            reasons=dict(self._reasons.most_common()),
            absent_columns=self.header.absent,
            extra_columns=self.header.extra,
        )
        lines = summary.valid_lines + summary.quarantined_lines + summary.blank_lines
        if summary.data_lines != lines:
            raise AccountingError(f"{self.source}: lines do not add up: {summary}")
        return summary


EMPTY_EVENTS = VALID_SCHEMA.empty_table().to_pandas()
EMPTY_REJECTED = REJECTED_SCHEMA.empty_table().to_pandas()


def validate_events(
    stream: BinaryIO, source: str, block_size: int = DEFAULT_BLOCK_SIZE
) -> ValidatedDay:
    """The whole file in memory: validated events, rejected rows and the summary."""
    validation = EventValidation(stream, source, block_size)
    events, rejected = [EMPTY_EVENTS], [EMPTY_REJECTED]
    for valid, quarantined in validation.batches():
        events.append(valid)
        rejected.append(quarantined)
    return ValidatedDay(
        events=_concat(events), rejected=_concat(rejected), summary=validation.summary()
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames[1:] if len(f)] or frames[:1]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _apply_rules(batch: Batch) -> Ruled:
    """apply_rules; should a library under it still fail on a value, the error names the file
    and the lines of the batch, as every error that fails a day must."""
    try:
        return apply_rules(batch)
    except Exception as err:
        raise ReadError(f"{batch.where}: checking the row contract failed: {quoted(err)}") from err


def _next_group(ruled: Iterator[Ruled]) -> tuple[list[pa.Table], list[pa.Table], int] | None:
    """Rule-checked blocks until FRAME_ROWS rows, with the lines of their valid rows; None
    once the file is done."""
    valid_parts, rejected_parts, rows, lines = [], [], 0, 0
    for valid, rejected, valid_lines in ruled:
        valid_parts.append(valid)
        rejected_parts.append(rejected)
        rows += valid.num_rows + rejected.num_rows
        lines += valid_lines
        if rows >= FRAME_ROWS:
            break
    return (valid_parts, rejected_parts, lines) if valid_parts else None


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(self_destruct=True, split_blocks=True)
