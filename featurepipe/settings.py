"""Every FEATUREPIPE_* setting, read and checked in one place, once.

`Settings.from_env()` is what `featurepipe.definitions` builds the definitions from; a test
builds its own `Settings` instead of changing the environment. Nothing else reads os.environ
(boto3 reads its own AWS_* variables).

The storage settings are the exception that proves the rule: the ones that are set go to
Dagster as `EnvVar`s (read at run launch, hidden in the UI), so they are kept by name here.
"""

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

# Storage: StorageResource field -> (variable, default).
STORAGE = {
    "backend": ("FEATUREPIPE_STORAGE", "local"),
    "local_root": ("FEATUREPIPE_LOCAL_ROOT", ".featurepipe/buckets"),
    "raw_bucket": ("FEATUREPIPE_RAW_BUCKET", "datapipeline-raw-data"),
    "feature_bucket": ("FEATUREPIPE_FEATURE_BUCKET", "datapipeline-feature-data"),
    "staging_dir": ("FEATUREPIPE_STAGING_DIR", ""),
}


class SettingError(ValueError):
    """A FEATUREPIPE_* variable has a value featurepipe cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    start_date: str = "2025-01-01"
    schedule_cron: str = "15 0 * * *"
    schedule_timezone: str = "UTC"
    raw_deadline_hour: int = 6
    quarantine_warn_ratio: float = 0.01
    quarantine_error_ratio: float = 0.05
    legacy_csv: bool = False
    backfill_days_per_run: int | None = None
    # Days a range run stages ahead of the one it commits: working memory is about that many
    # days' pipelines; 2 keeps both cores busy.
    days_staged_ahead: int = 2
    # The storage variables that are set: {variable: value}.
    storage_set: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        def get(name: str) -> str | None:
            value = environ.get(name)
            return value if value not in (None, "") else None

        values = {}
        if (start := get("FEATUREPIPE_START_DATE")) is not None:
            values["start_date"] = _date("FEATUREPIPE_START_DATE", start)
        if (cron := get("FEATUREPIPE_SCHEDULE_CRON")) is not None:
            values["schedule_cron"] = cron
        if (zone := get("FEATUREPIPE_SCHEDULE_TIMEZONE")) is not None:
            values["schedule_timezone"] = zone
        if (hour := get("FEATUREPIPE_RAW_DEADLINE_HOUR")) is not None:
            values["raw_deadline_hour"] = _whole("FEATUREPIPE_RAW_DEADLINE_HOUR", hour, 1, 23)
        if (warn := get("FEATUREPIPE_QUARANTINE_WARN_RATIO")) is not None:
            values["quarantine_warn_ratio"] = _ratio("FEATUREPIPE_QUARANTINE_WARN_RATIO", warn)
        if (error := get("FEATUREPIPE_QUARANTINE_ERROR_RATIO")) is not None:
            values["quarantine_error_ratio"] = _ratio("FEATUREPIPE_QUARANTINE_ERROR_RATIO", error)
        if (legacy := get("FEATUREPIPE_LEGACY_CSV")) is not None:
            values["legacy_csv"] = _flag("FEATUREPIPE_LEGACY_CSV", legacy)
        if (days := get("FEATUREPIPE_BACKFILL_DAYS_PER_RUN")) is not None:
            values["backfill_days_per_run"] = _whole(
                "FEATUREPIPE_BACKFILL_DAYS_PER_RUN", days, 1, None
            )
        if (ahead := get("FEATUREPIPE_DAYS_STAGED_AHEAD")) is not None:
            values["days_staged_ahead"] = _whole("FEATUREPIPE_DAYS_STAGED_AHEAD", ahead, 1, 8)
        values["storage_set"] = {
            name: environ[name] for name, _ in STORAGE.values() if get(name) is not None
        }
        return cls(**values)

    def storage_values(self) -> dict[str, str]:
        """The storage settings resolved now, for tools that run outside a Dagster run."""
        return {
            field_name: self.storage_set.get(name, default)
            for field_name, (name, default) in STORAGE.items()
        }


def _date(name: str, value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise SettingError(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from None


def _whole(name: str, value: str, low: int, high: int | None) -> int:
    number = int(value) if value.isdigit() else -1
    if number < low or (high is not None and number > high):
        span = f"from {low} to {high}" if high is not None else f">= {low}"
        raise SettingError(f"{name} must be a whole number {span}, got {value!r}")
    return number


def _ratio(name: str, value: str) -> float:
    try:
        ratio = float(value)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise SettingError(f"{name} must be a number from 0 to 1, got {value!r}")
    return ratio


def _flag(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise SettingError(f"{name} must be true or false, got {value!r}")
