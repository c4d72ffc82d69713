"""Every FEATUREPIPE_* setting, read and checked in one place, once.

`Settings.from_env()` is what `featurepipe.definitions` builds the definitions from; a test
builds its own `Settings` instead of changing the environment. Nothing else reads os.environ
(boto3 reads its own AWS_* variables).

The storage settings are the exception that proves the rule: the ones that are set go to
Dagster as `EnvVar`s (read at run launch, hidden in the UI), so they are kept by name here;
they are still checked here, so a bad value fails the load (`dg check defs`), not the first run.

One fact besides the environment is read: whether a command line that runs a partition range in
one run is loading the definitions, which FEATUREPIPE_BACKFILL_DAYS_PER_RUN then leaves alone.
"""

import datetime as dt
import os
import sys
import warnings
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from featurepipe.storage.keys import BUCKET_RULES, bucket_is_valid
from featurepipe.storage.objects import BACKENDS

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
    # The last daily partition, for an instance that holds a fixed span of days (a trial on
    # sample data, a replay); unset, the days run up to yesterday.
    end_date: str | None = None
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
        if (end := get("FEATUREPIPE_END_DATE")) is not None:
            values["end_date"] = _date("FEATUREPIPE_END_DATE", end)
            first = values.get("start_date", cls.start_date)
            if values["end_date"] < first:
                raise SettingError(
                    f"FEATUREPIPE_END_DATE must be on or after the first partition ({first}), "
                    f"got {end!r}"
                )
        if (cron := get("FEATUREPIPE_SCHEDULE_CRON")) is not None:
            values["schedule_cron"] = _cron("FEATUREPIPE_SCHEDULE_CRON", cron)
        if (zone := get("FEATUREPIPE_SCHEDULE_TIMEZONE")) is not None:
            values["schedule_timezone"] = _zone("FEATUREPIPE_SCHEDULE_TIMEZONE", zone)
        if (hour := get("FEATUREPIPE_RAW_DEADLINE_HOUR")) is not None:
            values["raw_deadline_hour"] = _whole("FEATUREPIPE_RAW_DEADLINE_HOUR", hour, 1, 23)
        if (warn := get("FEATUREPIPE_QUARANTINE_WARN_RATIO")) is not None:
            values["quarantine_warn_ratio"] = _ratio("FEATUREPIPE_QUARANTINE_WARN_RATIO", warn)
        if (error := get("FEATUREPIPE_QUARANTINE_ERROR_RATIO")) is not None:
            values["quarantine_error_ratio"] = _ratio("FEATUREPIPE_QUARANTINE_ERROR_RATIO", error)
        if (legacy := get("FEATUREPIPE_LEGACY_CSV")) is not None:
            values["legacy_csv"] = _flag("FEATUREPIPE_LEGACY_CSV", legacy)
        if (days := get("FEATUREPIPE_BACKFILL_DAYS_PER_RUN")) is not None:
            days_per_run = _whole("FEATUREPIPE_BACKFILL_DAYS_PER_RUN", days, 1, None)
            # K splits the backfills the daemon launches; a range run from the command line
            # is one run whatever K is (and Dagster's CLI refuses a range unless it is).
            if not cli_runs_a_partition_range():
                values["backfill_days_per_run"] = days_per_run
        if (ahead := get("FEATUREPIPE_DAYS_STAGED_AHEAD")) is not None:
            values["days_staged_ahead"] = _whole("FEATUREPIPE_DAYS_STAGED_AHEAD", ahead, 1, 8)
        if values.get("quarantine_warn_ratio", cls.quarantine_warn_ratio) > values.get(
            "quarantine_error_ratio", cls.quarantine_error_ratio
        ):
            warn = repr(warn) if warn else f"{cls.quarantine_warn_ratio} (the default)"
            error = repr(error) if error else f"{cls.quarantine_error_ratio} (the default)"
            raise SettingError(
                "FEATUREPIPE_QUARANTINE_WARN_RATIO must be at most "
                f"FEATUREPIPE_QUARANTINE_ERROR_RATIO, got {warn} and {error}"
            )
        values["storage_set"] = {}
        for field_name, (name, _) in STORAGE.items():
            if (value := get(name)) is not None:
                values["storage_set"][name] = check_storage(field_name, value)
        return cls(**values)

    def storage_values(self) -> dict[str, str]:
        """The storage settings resolved now, for tools that run outside a Dagster run."""
        return {
            field_name: self.storage_set.get(name, default)
            for field_name, (name, default) in STORAGE.items()
        }


def cli_runs_a_partition_range() -> bool:
    """Whether this process is a command that runs a partition range itself, in one run:
    `dg launch` (with --assets or --job) or `dagster asset materialize`, with --partition-range.
    These load the definitions inside their click command, whose parameters say so."""
    click = sys.modules.get("click")  # not imported: no click command is running
    context = click.get_current_context(silent=True) if click else None
    return bool(context and context.params.get("partition_range"))


def check_storage(field_name: str, value: str) -> str:
    """A storage setting's value, refused with its variable named if it cannot be used."""
    name = STORAGE[field_name][0]
    STORAGE_CHECKS[field_name](name, value)
    return value


def _backend(name: str, value: str) -> None:
    if value not in BACKENDS:
        raise SettingError(f"{name} must be one of {', '.join(BACKENDS)}, got {value!r}")


def _bucket(name: str, value: str) -> None:
    if not bucket_is_valid(value):
        raise SettingError(f"{name} must be an S3 bucket name ({BUCKET_RULES}), got {value!r}")


def _directory(name: str, value: str, writable: bool) -> None:
    """An existing directory (writable, if asked), or a path whose nearest existing parent is
    a directory where it can be created."""
    path = Path(value).absolute()
    existing = next(p for p in (path, *path.parents) if _exists(p))
    need = "a writable directory" if writable else "a directory"
    allowed = f"{need} or a path where one can be created"
    if not existing.is_dir():
        problem = f"{existing} is not a directory"
    elif (writable or existing != path) and not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable"
    else:
        return
    raise SettingError(f"{name} must be {allowed}, got {value!r}: {problem}")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a parent that may not be searched: that parent is the one to report
        return False


STORAGE_CHECKS: dict[str, Callable[[str, str], None]] = {
    "backend": _backend,
    "local_root": lambda name, value: _directory(name, value, writable=False),
    "raw_bucket": _bucket,
    "feature_bucket": _bucket,
    "staging_dir": lambda name, value: _directory(name, value, writable=True),
}


def _cron(name: str, value: str) -> str:
    import dagster as dg  # Dagster's own rule, through its public API; loaded only when set

    try:
        # The schedule built from the value warns about what it accepts; this probe need not.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dg.ScheduleDefinition(name="probe", cron_schedule=value, job_name="probe")
    except dg.DagsterInvalidDefinitionError:
        raise SettingError(
            f"{name} must be a cron expression of 5 fields (minute hour day-of-month month "
            f"day-of-week, e.g. '15 0 * * *'), got {value!r}"
        ) from None
    return value


def _zone(name: str, value: str) -> str:
    if value in ("UTC", "utc"):  # as Dagster, which accepts both without the tz database
        return value
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise SettingError(
            f"{name} must be an IANA time zone name (e.g. 'UTC', 'Europe/Berlin'), got {value!r}"
        ) from None
    return value


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
