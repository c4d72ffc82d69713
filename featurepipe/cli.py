"""`featurepipe`: command-line tools around the pipeline (the pipeline itself runs in Dagster)."""

import argparse
import csv
import datetime as dt
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from featurepipe.core.columns import TABLES
from featurepipe.core.sample import generate_day
from featurepipe.defs.resources import storage_now
from featurepipe.settings import Settings
from featurepipe.storage.keys import asset_key_path, raw_key
from featurepipe.storage.objects import StorageError
from featurepipe.storage.tables import iter_frames
from featurepipe.storage.verified import parquet_copy

REJECTS_ASSET = TABLES.rejected.name
REJECTS_COLUMNS = ["line", "lines", "reason", "record"]
# A record may hold line breaks and other control characters: shown escaped, one row a line.
ESCAPES = {c: f"\\x{c:02x}" for c in [*range(32), 127]} | {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}


# The local instance's settings (`featurepipe init`); the instance is Dagster's, the file the
# user's to edit.
INSTANCE_YAML = """\
# The Dagster instance of featurepipe's local set-up, written by `featurepipe init`: runs, their
# events and schedule and sensor state are stored in this directory (SQLite). Yours to edit:
# https://docs.dagster.io/deployment/oss/dagster-yaml

# The console shows featurepipe's own lines, warnings and errors, and the UI every event.
# DEBUG brings Dagster's event stream (step started, asset materialized, ...) back to the console.
python_logs:
  python_log_level: INFO

# Dagster collects anonymous usage statistics (https://docs.dagster.io/about/telemetry);
# `enabled: false` turns that off.
telemetry:
  enabled: true
"""


class CommandError(Exception):
    """What a command cannot do, said in one line."""


def _count(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="featurepipe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser(
        "sample",
        help="write realistic raw event files into the raw bucket",
        description="Write user_events_YYYYMMDD.csv files for a range of days into the raw "
        "bucket configured by FEATUREPIPE_STORAGE and friends (local buckets by default).",
    )
    sample.add_argument("--end", type=dt.date.fromisoformat, required=True, help="last day")
    sample.add_argument("--days", type=_count(1), default=1, help="how many days, ending at --end")
    sample.add_argument("--rows", type=_count(0), default=10_000, help="data lines per day")
    sample.add_argument(
        "--malformed",
        type=fraction,
        default=0.001,
        help="fraction of lines that break the contract",
    )
    sample.add_argument("--seed", type=int, default=None, help="random seed (default: the date)")
    commands.add_parser(
        "init",
        help="create the Dagster instance in $DAGSTER_HOME with a dagster.yaml",
        description="Create the directory $DAGSTER_HOME names and write a dagster.yaml into it "
        "for local use (the console at INFO, the telemetry switch), unless it has one.",
    )
    rejects = commands.add_parser(
        "rejects",
        help="print a day's rejected rows: line, lines, reason and record",
        description="Print the rows of a day's stored rejected_events table (in the feature "
        "bucket configured by FEATUREPIPE_STORAGE and friends), in file order: the line each "
        "record starts on, the lines it covers, the rule it broke and the record. "
        "Line breaks and control characters in a record show as \\n, \\r, \\t, \\xNN.",
    )
    rejects.add_argument("day", type=dt.date.fromisoformat, help="the day, YYYY-MM-DD")
    rejects.add_argument("--reason", help="only the rows quarantined for this reason")
    rejects.add_argument("--limit", type=_count(1), default=None, help="at most this many rows")
    rejects.add_argument(
        "--csv", action="store_true", help="CSV with a header row, records unescaped"
    )
    args = parser.parse_args(argv)
    command = {"init": _init, "sample": _sample, "rejects": _rejects}[args.command]
    try:
        return command(args)
    except BrokenPipeError:
        # The reader (`| head`) has had enough. Python would complain again when it flushes
        # stdout at exit: point stdout at /dev/null, and exit as a process killed by SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except (CommandError, StorageError, ValueError, OSError) as err:
        # Bad settings (FEATUREPIPE_*), an unreachable bucket, a missing table, a directory
        # that cannot be written: one line, not a traceback.
        parser.exit(1, f"featurepipe {args.command}: error: {err}\n")


def _init(args: argparse.Namespace) -> int:
    # Dagster's own variable, read as Dagster reads it: FEATUREPIPE_* settings are not involved.
    home = os.path.expanduser(os.environ.get("DAGSTER_HOME", ""))
    if not home:
        raise CommandError(
            'DAGSTER_HOME is not set: `export DAGSTER_HOME="$PWD/.featurepipe/dagster"` names '
            "the directory where Dagster keeps runs and their events"
        )
    if not os.path.isabs(home):
        raise CommandError(f"DAGSTER_HOME must be an absolute path, got {home!r}")
    path = Path(home, "dagster.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x") as file:
            file.write(INSTANCE_YAML)
    except FileExistsError:
        print(f"kept {path}: it exists")
    else:
        print(f"wrote {path}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    storage = storage_now(Settings.from_env())
    store, bucket = storage.store, storage.raw_bucket
    for offset in range(args.days - 1, -1, -1):
        day = args.end - dt.timedelta(days=offset)
        key = raw_key(day.isoformat())
        with store.staged(bucket, key) as path, path.open("wb") as out:
            for chunk in generate_day(day, args.rows, args.malformed, args.seed):
                out.write(chunk)
        print(f"wrote {store.uri(bucket, key)} ({args.rows} rows)")
    return 0


def _rejects(args: argparse.Namespace) -> int:
    storage = storage_now(Settings.from_env())
    store, bucket = storage.store, storage.feature_bucket
    day = args.day.isoformat()
    key = asset_key_path(REJECTS_ASSET, day)
    uri = store.uri(bucket, key)
    if store.head(bucket, key) is None:
        raise CommandError(
            f"{REJECTS_ASSET} of {day} is not stored: bucket {bucket} has no key {key} ({uri}); "
            f"`dg launch --assets '*' --partition {day}` materializes the day"
        )
    with parquet_copy(store, bucket, key) as path:
        # One pass over the small columns first: the reasons present and the column widths.
        counts: Counter[str] = Counter()
        widest = {"line": len("line"), "lines": len("lines"), "reason": len("reason")}
        for frame in iter_frames(path, ["line", "lines", "reason"]):
            counts.update(frame["reason"].value_counts().to_dict())
            for name in ("line", "lines"):
                if not frame.empty:
                    widest[name] = max(widest[name], len(str(frame[name].max())))
        widest["reason"] = max([widest["reason"], *map(len, counts)])
        if args.reason is not None and args.reason not in counts:
            present = ", ".join(f"{r} ({n})" for r, n in sorted(counts.items())) or "none"
            raise CommandError(
                f"no row of {uri} has reason {args.reason!r}; reasons present on {day}: {present}"
            )
        rows = _selected(path, args.reason, args.limit)
        shown = _write_csv(rows) if args.csv else _write_table(rows, widest)
    if not args.csv:
        total = counts[args.reason] if args.reason else sum(counts.values())
        which = f" with reason {args.reason}" if args.reason else ""
        print(f"{shown} of {total} rejected rows{which} of {day}, from {uri}")
    return 0


def _selected(path: Path, reason: str | None, limit: int | None) -> Iterator[pd.DataFrame]:
    """The rows to print, a batch at a time, stopping once `limit` are out."""
    left = limit
    for frame in iter_frames(path, REJECTS_COLUMNS):
        if reason is not None:
            frame = frame[frame["reason"] == reason]
        if left is not None:
            frame = frame.head(left)
            left -= len(frame)
        yield frame
        if left == 0:
            return


def _write_table(frames: Iterator[pd.DataFrame], widest: dict[str, int]) -> int:
    line, lines, reason = widest["line"], widest["lines"], widest["reason"]
    print(f"{'line':>{line}}  {'lines':>{lines}}  {'reason':<{reason}}  record")
    shown = 0
    for frame in frames:
        for row in frame.itertuples(index=False):
            record = row.record.translate(ESCAPES)
            print(f"{row.line:>{line}}  {row.lines:>{lines}}  {row.reason:<{reason}}  {record}")
        shown += len(frame)
    return shown


def _write_csv(frames: Iterator[pd.DataFrame]) -> int:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(REJECTS_COLUMNS)
    shown = 0
    for frame in frames:
        out.writerows(frame.itertuples(index=False))
        shown += len(frame)
    return shown


if __name__ == "__main__":
    sys.exit(main())
