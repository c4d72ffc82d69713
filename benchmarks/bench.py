"""featurepipe benchmark: throughput and memory against the pure-Python baseline, and the
cost of a single-run backfill against one run per day.

    .venv/bin/python benchmarks/bench.py                       # 100k, 1M, 10M rows; 30-day backfill
    .venv/bin/python benchmarks/bench.py --sizes 100000 --backfill-days 5   # a quick look

Each measurement runs in fresh subprocesses (--repeat of them, the median kept), each with
its own peak memory. Results are printed and written to benchmarks/results.md with the
machine's core count.
"""

import argparse
import csv
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW_BUCKET, FEATURE_BUCKET = "datapipeline-raw-data", "datapipeline-feature-data"
MALFORMED = 0.001
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def rss_mb() -> float:
    """Resident memory now."""
    return _status_mb("VmRSS")


def cpu_seconds() -> float:
    """User and system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reset_peak() -> None:
    """Start the peak over from the memory resident now (Linux 4.0+)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    """This process's peak resident memory since reset_peak(). Not ru_maxrss: Linux carries
    that over from the parent through fork and exec, so a worker spawned by a driver that
    has just generated a 1M-row file would report the driver's size."""
    return _status_mb("VmHWM")


# --- workers: each runs in its own process and prints one JSON line ----------------------


def materializer(root: str):
    """materialize() of the three assets on local buckets under `root`, timed."""
    import dagster as dg
    from dagster_aws.s3 import S3Resource

    from featurepipe.defs.assets import event_features, raw_events, validate_raw_events
    from featurepipe.defs.io_managers import ParquetIOManager, RawFileIOManager
    from featurepipe.defs.resources import StorageResource

    storage = StorageResource(backend="local", local_root=root, s3=S3Resource())
    resources = {
        "storage": storage,
        "io_manager": ParquetIOManager(storage=storage),
        "raw_io_manager": RawFileIOManager(storage=storage),
    }
    assets = [raw_events, validate_raw_events, event_features]
    instance = dg.DagsterInstance.ephemeral()

    def run(**kwargs) -> float:
        started = time.perf_counter()
        assert dg.materialize(assets, resources=resources, instance=instance, **kwargs).success
        return time.perf_counter() - started

    return run


def worker_featurepipe(root: str, day: str, empty_day: str) -> dict:
    """The assets as Dagster runs them: materialize() of raw_events -> validated/rejected ->
    event_features on local buckets, Parquet written and read back through the IO manager."""
    run = materializer(root)
    run(partition_key=empty_day)  # warm-up: first-call costs of Dagster, pandas and pandera
    overhead = run(partition_key=empty_day)
    reset_peak()
    before, cpu = rss_mb(), cpu_seconds()
    seconds = run(partition_key=day)
    return {
        "seconds": seconds,
        "overhead": overhead,
        "cpu": cpu_seconds() - cpu,
        "rss_before": before,
        "peak": peak_mb(),
    }


def worker_baseline(root: str, day: str, out: str) -> dict:
    """The old way: the csv module row by row, same contract, features and rejects as CSV."""
    from featurepipe.core.reference import reference_validate

    key = f"user_events_{day.replace('-', '')}.csv"
    reset_peak()
    before = rss_mb()
    started = time.perf_counter()
    with open(Path(root) / RAW_BUCKET / key, "rb") as stream:
        result = reference_validate(stream, key)
    with open(Path(out) / f"features_{day}.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["row_sum", "event_time", "user_id", "session_id", "event_type"])
        for row in result.valid:
            writer.writerow(
                [
                    repr(row["row_sum"]),
                    row["event_time"].isoformat(),
                    row["user_id"],
                    row["session_id"],
                    row["event_type"],
                ]
            )
    with open(Path(out) / f"rejected_{day}.csv", "w", newline="") as file:
        csv.writer(file).writerows(result.rejected)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rss_before": before, "peak": peak_mb()}


def worker_backfill(root: str, first: str, last: str, empty_day: str) -> dict:
    """One run over the whole range against one run per day, in one process."""
    run = materializer(root)
    run(partition_key=empty_day)
    days = [
        (dt.date.fromisoformat(first) + dt.timedelta(days=i)).isoformat()
        for i in range((dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days + 1)
    ]
    # The fixed cost is taken from every day once, so its error would count once a day: an
    # empty-day run beside each day's run, and their median.
    empty, per_day = [], []
    for day in days:
        empty.append(run(partition_key=empty_day))
        per_day.append(run(partition_key=day))
    overhead = statistics.median(empty)
    single = run(tags={RANGE_START: first, RANGE_END: last})
    return {"overhead": overhead, "per_day": per_day, "single_run": single, "days": len(days)}


def worker_cli_overhead(root: str, empty_day: str) -> dict:
    """Wall time of `dagster asset materialize` on an empty day: a real run's fixed cost."""
    env = {**os.environ, "FEATUREPIPE_LOCAL_ROOT": root, "FEATUREPIPE_STORAGE": "local"}
    dagster = str(Path(sys.executable).parent / "dagster")
    args = [dagster, "asset", "materialize", "-m", "featurepipe.definitions"]
    args += ["--select", "raw_events*", "--partition", empty_day]
    times = []
    for _ in range(2):  # the first also creates the instance's storage
        started = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return {"seconds": times[-1]}


WORKERS = {
    "featurepipe": worker_featurepipe,
    "baseline": worker_baseline,
    "backfill": worker_backfill,
    "cli_overhead": worker_cli_overhead,
}


def spawn(name: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", name, *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_run(repeat: int, name: str, *args: str) -> dict:
    """The run with the median time of `repeat` fresh processes: this machine's timings vary
    by 10-20% from one process to the next."""
    runs = sorted((spawn(name, *args) for _ in range(repeat)), key=net_seconds)
    return runs[len(runs) // 2]


def net_seconds(run: dict) -> float:
    return run["seconds"] - run.get("overhead", 0.0)


# --- the driver ------------------------------------------------------------------------


def write_raw(root: Path, day: dt.date, rows: int) -> Path:
    from featurepipe.core.sample import generate_day

    path = root / RAW_BUCKET / f"user_events_{day:%Y%m%d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for chunk in generate_day(day, rows, MALFORMED):
            out.write(chunk)
    return path


def same_row_sums(root: Path, day: str, baseline_dir: Path) -> bool:
    import numpy as np
    import pyarrow.parquet as pq

    ours = pq.read_table(
        root / FEATURE_BUCKET / f"event_features/date={day}/part.parquet", columns=["row_sum"]
    )["row_sum"].to_numpy()
    with open(baseline_dir / f"features_{day}.csv", newline="") as file:
        rows = csv.reader(file)
        next(rows)
        theirs = np.array([float(row[0]) for row in rows])
    return ours.shape == theirs.shape and bool(np.array_equal(ours, theirs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--backfill-days", type=int, default=30)
    parser.add_argument("--backfill-rows", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    parser.add_argument(
        "--repeat", type=int, default=3, help="fresh processes per measurement; medians kept"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](*rest)))
        return

    shutil.rmtree(args.work, ignore_errors=True)
    root, baseline_dir = args.work / "buckets", args.work / "baseline"
    baseline_dir.mkdir(parents=True)
    empty = dt.date(2025, 1, 1)
    write_raw(root, empty, 0)
    lines = [
        "| rows | raw MB | featurepipe s | baseline s | throughput × | featurepipe peak MB "
        "(processing) | baseline peak MB | memory ÷ raw size | row_sum equal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, rows in enumerate(int(s) for s in args.sizes.split(",")):
        day = dt.date(2025, 6, 1) + dt.timedelta(days=i)
        raw = write_raw(root, day, rows)
        raw_mb = raw.stat().st_size / 2**20
        ours = median_run(args.repeat, "featurepipe", str(root), day.isoformat(), empty.isoformat())
        theirs = median_run(args.repeat, "baseline", str(root), day.isoformat(), str(baseline_dir))
        net = net_seconds(ours)
        processing_mb = ours["peak"] - ours["rss_before"]
        row = (
            f"| {rows:,} | {raw_mb:.0f} "
            f"| {ours['seconds']:.2f} (net {net:.2f}, CPU {ours['cpu']:.2f}) "
            f"| {theirs['seconds']:.2f} | {theirs['seconds'] / net:.1f} "
            f"| {ours['peak']:.0f} ({processing_mb:.0f}) | {theirs['peak']:.0f} "
            f"| {processing_mb / raw_mb:.2f} "
            f"| {same_row_sums(root, day.isoformat(), baseline_dir)} |"
        )
        print(row, flush=True)
        lines.append(row)

    first = dt.date(2025, 9, 1)
    last = first + dt.timedelta(days=args.backfill_days - 1)
    for i in range(args.backfill_days):
        write_raw(root, first + dt.timedelta(days=i), args.backfill_rows)
    fill = spawn("backfill", str(root), first.isoformat(), last.isoformat(), empty.isoformat())
    cli = spawn("cli_overhead", str(root), empty.isoformat())
    processing = sum(t - fill["overhead"] for t in fill["per_day"])
    budget = processing + fill["overhead"]
    backfill = [
        "",
        f"Backfill of {fill['days']} days × {args.backfill_rows:,} rows:",
        f"- one run per day: {sum(fill['per_day']):.1f} s in all "
        f"({fill['overhead']:.2f} s of each run is fixed cost: the median of an empty-day run "
        "beside each day's)",
        f"- one single run over the range: {fill['single_run']:.1f} s",
        f"- days' processing + one run's start-up: {budget:.1f} s; "
        f"single run ÷ that = {fill['single_run'] / budget:.2f} (goal ≤ 1.3)",
        f"- a `dagster asset materialize` CLI run on an empty day (process start, imports, "
        f"one subprocess per step): {cli['seconds']:.1f} s",
    ]
    print("\n".join(backfill))
    header = [
        "# Benchmark results",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
        f"{platform.python_implementation()} {platform.python_version()} · "
        f"{MALFORMED:.1%} malformed lines · `benchmarks/bench.py --sizes {args.sizes} "
        f"--backfill-days {args.backfill_days} --backfill-rows {args.backfill_rows} "
        f"--repeat {args.repeat}`",
        "",
        f"Each figure is the median of {args.repeat} fresh processes. "
        "featurepipe s: a whole in-process `materialize()` of the three assets; net = minus the "
        "same run on an empty day (Dagster's fixed cost); CPU = user + system seconds of all "
        "its threads during the run. Throughput × = baseline s ÷ net s. "
        "Peak MB = the worker's own peak RSS during the run (VmHWM, reset just before it); "
        "processing MB = that minus RSS before the run (after imports and warm-up).",
        "",
    ]
    args.out.write_text("\n".join(header + lines + backfill) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
