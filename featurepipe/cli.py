"""`featurepipe`: command-line tools around the pipeline (the pipeline itself runs in Dagster)."""

import argparse
import datetime as dt
import sys

from featurepipe.core.sample import generate_day
from featurepipe.defs.resources import storage_now
from featurepipe.settings import Settings
from featurepipe.storage.keys import raw_key
from featurepipe.storage.objects import StorageError


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
    args = parser.parse_args(argv)
    try:
        return _sample(args)
    except (StorageError, ValueError) as err:
        # Bad settings (FEATUREPIPE_*) or an unreachable bucket: one line, not a traceback.
        parser.exit(1, f"featurepipe sample: error: {err}\n")


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


if __name__ == "__main__":
    sys.exit(main())
