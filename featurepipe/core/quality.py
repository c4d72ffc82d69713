"""Data-quality decisions and statistics: plain values in, plain values out."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import pandas as pd


class Verdict(enum.StrEnum):
    PASS = "pass"
    WARN = "warn"  # recorded, the day goes on
    BLOCK = "block"  # the day's features are not built


@dataclass(frozen=True)
class QuarantineJudgement:
    ratio: float
    verdict: Verdict
    warn_ratio: float
    error_ratio: float

    @property
    def summary(self) -> str:
        return (
            f"{self.ratio:.2%} of rows quarantined "
            f"(warn above {self.warn_ratio:.2%}, fail above {self.error_ratio:.2%})"
        )


def judge_quarantine(ratio: float, warn_ratio: float, error_ratio: float) -> QuarantineJudgement:
    """A day's quarantine ratio against the policy: above `error_ratio` blocks the day."""
    if ratio > error_ratio:
        verdict = Verdict.BLOCK
    elif ratio > warn_ratio:
        verdict = Verdict.WARN
    else:
        verdict = Verdict.PASS
    return QuarantineJudgement(round(ratio, 6), verdict, warn_ratio, error_ratio)


class RowSumStats:
    """Count, mean, min, max and nulls of row_sum, gathered frame by frame."""

    def __init__(self):
        self.count, self.total, self.nulls = 0, 0.0, 0
        self.low, self.high = math.inf, -math.inf

    def add(self, row_sum: pd.Series) -> None:
        self.nulls += int(row_sum.isna().sum())
        values = row_sum.dropna()
        if not values.empty:
            self.count += len(values)
            self.total += float(values.sum())
            self.low = min(self.low, float(values.min()))
            self.high = max(self.high, float(values.max()))

    def summary(self) -> dict[str, float]:
        """mean, min and max of the non-null values; empty when there are none."""
        if not self.count:
            return {}
        return {"mean": self.total / self.count, "min": self.low, "max": self.high}
