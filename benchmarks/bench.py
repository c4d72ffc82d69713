"""featurepipe benchmark: start-up, throughput and memory, side by side with the best
hand-written peer and the plain-Python reference, and the per-day cost inside a range run.

    .venv/bin/python benchmarks/bench.py                 # 100k, 1M, 10M rows; 30-day range
    .venv/bin/python benchmarks/bench.py --sizes 100000 --range-days 5 --repeat 1   # a quick look
    .venv/bin/python benchmarks/bench.py --profile 1000000   # top costs of a day, with py-spy

featurepipe is driven only through `featurepipe.definitions.defs`: its whole asset job (every
asset and check of a day, as `dagster asset materialize --select '*'` runs them), executed in
process on an in-memory instance and local buckets. Each measurement runs in fresh
processes, featurepipe, the peer and the reference taking turns, and the median of --repeat
is kept. Throughput is measured on two shapes of data (--shapes): featurepipe's sample, whose
malformed lines include impossible dates, and the same with every event time real; the
plain-Python reference runs only up to --reference-rows rows. Start-up is also given as a
multiple of Dagster's own no-op, and the range section counts the events each run records by
type. Results are printed and written to benchmarks/results.md.
"""

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# The repository is cloned with ../shared beside it.
PEER = REPO.parent / "shared" / "peers" / "p3_pyarrow.py"
RAW_BUCKET, FEATURE_BUCKET = "datapipeline-raw-data", "datapipeline-feature-data"
MALFORMED = 0.001
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
IMPORT_FLOOR = "import dagster, pandas, pyarrow.csv, pyarrow.parquet, pandera.pandas, boto3"
EMPTY_DAY = dt.date(2025, 1, 1)  # header only
# A small day with rows, run first in each worker: a process pays the first-call costs of
# Dagster, pandas and pandera (its backends register on the first validation) once, and they
# belong to start-up, not to the day measured.
WARM_UP_DAY, WARM_UP_ROWS = dt.date(2025, 1, 2), 2_000
# The throughput section's shapes of data: name -> (label, generate_day's impossible_dates).
SHAPES = {
    "sample": ("sample (impossible dates)", True),
    "real-times": ("real times only", False),
}
GOAL_RATIO, GOAL_SIZES = 0.8, (1_000_000, 10_000_000)  # issue 24: featurepipe net ÷ peer
STARTUP_GOAL = 1.10  # featurepipe's header-only day ÷ Dagster's no-op


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def reset_peak() -> None:
    """Start the peak over from the memory resident now (Linux 4.0+)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    """This process's peak resident memory since reset_peak(). Not ru_maxrss: Linux carries
    that over from the parent through fork and exec."""
    return _status_mb("VmHWM")


def cpu_seconds() -> float:
    """User and system CPU time of this process, all threads."""
    times = os.times()
    return times.user + times.system


def timed_process(argv: list[str], **popen) -> dict:
    """Wall and CPU seconds and peak memory of a whole child process, imports included.

    The child's ru_maxrss counts what this process had resident when it forked, so callers
    that need its memory run it from a small worker process (worker_peer)."""
    with tempfile.TemporaryFile() as log:  # a pipe could fill up while nobody reads it
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, **popen)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            log.seek(0)
            raise RuntimeError(f"{argv} failed:\n{log.read()[-3000:].decode(errors='replace')}")
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak": usage.ru_maxrss / 1024,
    }


# --- workers: each runs in its own process and prints one JSON line ----------------------


def worker_featurepipe(root: str, partitions: str, mode: str = "measure") -> dict:
    """A header-only day's run, then the run of `partitions` (a day, or FIRST...LAST in one
    run), in one process after a warm-up run: wall and CPU seconds, peak memory and events
    recorded of each, also counted by event type; then `events_seconds`, what recording that
    run's events costs alone.

    The instance is in memory, as `dagster.materialize()`'s: a SQLite instance's cost per
    event varied by a factor of two from one run to the next here, more than the work
    measured; the start-up figures show what SQLite costs, and `events` what it is paid for.

    With mode "profile" (bench.py --profile) it prints "ready" before the day's run and "done"
    after it, each time waiting for a line on stdin, so that py-spy samples the day's run
    alone; no replay."""
    os.environ.update(FEATUREPIPE_STORAGE="local", FEATUREPIPE_LOCAL_ROOT=root)
    import dagster as dg

    from featurepipe.definitions import defs
    from featurepipe.defs.day_run import DayRun

    yielded: dict[str, list] = {}
    commit = DayRun.commit

    def kept(run, staging):  # the events each day's commit yields, kept for the replay
        events = yielded.setdefault(run.day, [])
        for event in commit(run, staging):
            events.append(event)
            yield event

    DayRun.commit = kept
    job = defs.resolve_implicit_global_asset_job_def()
    first, _, last = partitions.partition("...")
    run_args = {"tags": {RANGE_START: first, RANGE_END: last}} if last else {"partition_key": first}
    with dg.DagsterInstance.ephemeral() as instance:

        def run(job=job, profiled=False, **kwargs) -> dict:
            reset_peak()
            if profiled:
                handshake("ready")  # py-spy attaches
            started, cpu = time.perf_counter(), cpu_seconds()
            result = job.execute_in_process(instance=instance, **kwargs)
            seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            if profiled:
                handshake("done")  # py-spy stops
            assert result.success
            logs = instance.all_logs(result.run_id)
            by_type = Counter(
                entry.dagster_event_type.value if entry.dagster_event_type else "log message"
                for entry in logs
            )
            return {
                "seconds": seconds,
                "cpu": cpu,
                "peak": peak_mb(),
                "events": len(logs),
                "event_types": dict(by_type),
            }

        run(partition_key=WARM_UP_DAY.isoformat())  # first-call costs (WARM_UP_DAY)
        empty = run(partition_key=EMPTY_DAY.isoformat())
        yielded.clear()
        if mode == "profile":
            allow_any_tracer()
        ours = run(profiled=mode == "profile", **run_args)
        if mode != "profile":
            ours["events_seconds"] = run(replay_job(yielded), **run_args)["seconds"]
    return {
        **ours,
        "overhead": empty["seconds"],
        "empty_peak": empty["peak"],
        "empty_events": empty["events"],
        "empty_event_types": empty["event_types"],
    }


def handshake(word: str) -> None:
    """Tell the driver `word` and wait for its answer (bench.py --profile)."""
    print(word, flush=True)
    sys.stdin.readline()


def allow_any_tracer() -> None:
    """Let a process that is not this one's parent (py-spy --pid) read it where Yama's
    ptrace_scope is 1; elsewhere this changes nothing."""
    import ctypes

    pr_set_ptracer, any_process = ctypes.c_int(0x59616D61), ctypes.c_ulong(-1)
    zero = ctypes.c_ulong(0)
    with contextlib.suppress(OSError, AttributeError):  # not Linux
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_ptracer, any_process, zero, zero, zero)


def replay_job(yielded: dict[str, list]):
    """A job of one step with the pipeline's assets and checks that does no work: for each day
    it yields the events featurepipe's step yielded, each check result against the day's latest
    materialization, looked up as featurepipe looks it up."""
    import dagster as dg

    from featurepipe.defs.assets import asset_specs, check_specs
    from featurepipe.defs.dagster_internals import check_target
    from featurepipe.defs.derived import DERIVED
    from featurepipe.defs.partitions import daily_partitions
    from featurepipe.settings import Settings

    settings = Settings.from_env()
    partitions = daily_partitions(settings.start_date, settings.end_date)

    @dg.multi_asset(
        name="daily_events",
        specs=asset_specs(DERIVED, settings.legacy_csv),
        check_specs=check_specs(partitions, DERIVED),
        can_subset=True,
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def replay(context: dg.AssetExecutionContext):
        for day in context.partition_keys:
            targets = {}
            for event in yielded[day]:
                if isinstance(event, dg.AssetMaterialization):
                    targets.pop(event.asset_key, None)
                    yield event
                    continue
                if event.asset_key not in targets:
                    (latest,) = context.instance.fetch_materializations(
                        dg.AssetRecordsFilter(asset_key=event.asset_key, asset_partitions=[day]),
                        limit=1,
                    ).records
                    targets[event.asset_key] = check_target(latest)
                yield dg.AssetCheckEvaluation(
                    asset_key=event.asset_key,
                    check_name=event.check_name,
                    passed=event.passed,
                    metadata=event.metadata,
                    severity=event.severity,
                    description=event.description,
                    blocking=event.blocking,
                    partition=day,
                    target_materialization_data=targets[event.asset_key],
                )

    defs = dg.Definitions(assets=[replay], resources={"raw_io_manager": dg.mem_io_manager})
    return defs.resolve_implicit_global_asset_job_def()


def worker_reference(root: str, day: str, out: str) -> dict:
    """The plain-Python reference of the row contract (the csv module, row by row), writing
    features and rejects as CSV: the old way."""
    from featurepipe.core.reference import reference_validate

    key = f"user_events_{day.replace('-', '')}.csv"
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
    return {"seconds": time.perf_counter() - started}


def worker_peer(raw: str, out: str) -> dict:
    """The peer script as its own whole process, threaded parser, timed from start to exit.
    Run from here, a process with little resident, so that its ru_maxrss is its own."""
    return timed_process([sys.executable, str(PEER), raw, out, "--threads"])


def worker_sensor(files: str, days_per_run: str) -> dict:
    """The raw-file sensor's ticks over `files` header-only daily files, the newest two days
    ago, in a bucket of a moto S3 server on loopback, with an in-memory instance: the first
    tick (no cursor), the next one after one more file lands, and a sweep. Each: wall seconds,
    LIST calls, the cursor's bytes and the runs requested."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    import boto3
    import dagster as dg
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    from featurepipe.core.sample import generate_day
    from featurepipe.defs import sensors
    from featurepipe.defs.partitions import daily_partitions
    from featurepipe.defs.resources import S3Connection, StorageResource
    from featurepipe.storage.objects import S3Store

    count, per_run = int(files), int(days_per_run) or None
    newest = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    first = newest - dt.timedelta(days=count - 1)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=RAW_BUCKET)
        # Straight into moto's store, dated a day back: filling it over HTTP would take minutes.
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        landed = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=1)
        header = b"".join(generate_day(first, 0, MALFORMED))

        def land(day: dt.date, when: dt.datetime = landed) -> None:
            key = backend.put_object(RAW_BUCKET, f"user_events_{day:%Y%m%d}.csv", header)
            key.last_modified = when

        for n in range(count):
            land(first + dt.timedelta(days=n))
        storage = StorageResource(
            backend="s3", raw_bucket=RAW_BUCKET, s3=S3Connection(endpoint_url=endpoint)
        )
        calls, listing, hooked = [0], S3Store.list, []

        def count_call(**_):
            calls[0] += 1

        def counted(store, *args, **kwargs):
            if store.client not in hooked:  # the sensor's copy of the resource has its own
                store.client.meta.events.register("before-call.s3.ListObjectsV2", count_call)
                hooked.append(store.client)
            return listing(store, *args, **kwargs)

        S3Store.list = counted
        sensor = sensors.raw_file_sensor(daily_partitions(first.isoformat()), per_run)
        with dg.DagsterInstance.ephemeral() as instance:

            def tick(cursor: str | None) -> dict:
                calls[0] = 0
                context = dg.build_sensor_context(
                    cursor=cursor, resources={"storage": storage}, instance=instance
                )
                with context:
                    started = time.perf_counter()
                    result = sensor(context)
                    seconds = time.perf_counter() - started
                return {
                    "seconds": seconds,
                    "lists": calls[0],
                    "cursor": result.cursor,
                    "runs": len(result.run_requests),
                }

            first_tick = tick(None)
            land(newest + dt.timedelta(days=1), dt.datetime.now(dt.UTC).replace(tzinfo=None))
            next_tick = tick(first_tick["cursor"])
            state = sensors.Cursor.load(next_tick["cursor"])
            state.swept -= sensors.SWEEP_EVERY
            sweep = tick(state.dump())
        every_key = {
            info.key: info.etag for info in storage.store.list(RAW_BUCKET, prefix="user_events_")
        }
    finally:
        server.stop()
    return {
        "ticks": {
            name: {**found, "cursor": len(found["cursor"])}
            for name, found in (("first", first_tick), ("next", next_tick), ("sweep", sweep))
        },
        # What the sensor kept before issue 25: every key to its ETag.
        "every_key_bytes": len(json.dumps(every_key, sort_keys=True)),
    }


def worker_days(root: str, first: str, last: str) -> dict:
    """Header-only days in process on an in-memory instance, after a warm-up run: one day's
    run, and one run of first...last; and what creating that range's run costs (Dagster
    records a planned materialization for each asset and day), as the daemon creates it."""
    os.environ.update(FEATUREPIPE_STORAGE="local", FEATUREPIPE_LOCAL_ROOT=root)
    import dagster as dg

    from featurepipe.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    tags = {RANGE_START: first, RANGE_END: last}
    with dg.DagsterInstance.ephemeral() as instance:

        def run(**kwargs) -> float:
            started = time.perf_counter()
            assert job.execute_in_process(instance=instance, **kwargs).success
            return time.perf_counter() - started

        run(partition_key=first)  # first-call costs of Dagster, pandas, pandera
        one = run(partition_key=first)
        days = run(tags=tags)
        started = time.perf_counter()
        instance.create_run_for_job(defs.resolve_job_def("featurepipe_daily"), tags=tags)
        created = time.perf_counter() - started
    return {"one": one, "range": days, "create": created}


WORKERS = {
    "featurepipe": worker_featurepipe,
    "reference": worker_reference,
    "peer": worker_peer,
    "sensor": worker_sensor,
    "days": worker_days,
}


def spawn(name: str, *args: str) -> dict:
    argv = [sys.executable, __file__, "--worker", name, *args]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{argv} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_by(runs: list[dict], key) -> dict:
    """The run with the median of `key`: this machine's timings vary from one process to the
    next, and more while other work shares its two cores."""
    return sorted(runs, key=key)[len(runs) // 2]


def net(run: dict) -> float:
    return run["seconds"] - run["overhead"]


def events_alone(run: dict) -> float:
    return run["events_seconds"]


# --- the driver ------------------------------------------------------------------------


def write_raw(root: Path, day: dt.date, rows: int, impossible_dates: bool = True) -> Path:
    from featurepipe.core.sample import generate_day

    path = root / RAW_BUCKET / f"user_events_{day:%Y%m%d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for chunk in generate_day(day, rows, MALFORMED, impossible_dates=impossible_dates):
            out.write(chunk)
    return path


def row_sums_agree(root: Path, day: str, reference_dir: Path | None, peer_dir: Path | None) -> str:
    """Whether featurepipe's stored row_sum values, in order, equal the reference's and the
    peer's (those of them that ran)."""
    import numpy as np
    import pyarrow.parquet as pq

    others = {}
    if reference_dir is not None:
        with open(reference_dir / f"features_{day}.csv", newline="") as file:
            rows = csv.reader(file)
            next(rows)
            others["reference"] = np.array([float(row[0]) for row in rows])
    if peer_dir is not None:
        peer = pq.read_table(peer_dir / "valid.parquet", columns=["row_sum"])["row_sum"]
        others["peer"] = peer.to_numpy()
    if not others:
        return "not checked (no reference, no peer)"
    ours = pq.read_table(
        root / FEATURE_BUCKET / f"event_features/date={day}/part.parquet", columns=["row_sum"]
    )["row_sum"].to_numpy()
    agree = all(ours.shape == o.shape and bool(np.array_equal(ours, o)) for o in others.values())
    return str(agree) if len(others) == 2 else f"{agree} ({next(iter(others))} only)"


def throughput(args, root: Path, work: Path) -> list[str]:
    """Each size in each shape: its own raw file (its own day), featurepipe, the peer and the
    reference taking turns on it in every repeat; then featurepipe net ÷ peer against issue
    24's goal."""
    has_peer = PEER.exists()
    if not has_peer:
        print(f"peer column skipped: {PEER} is absent (clone ../shared beside the repository)")
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = args.shapes.split(",")
    files = {}  # (rows, shape) -> (day, raw file)
    for i, rows in enumerate(sizes):
        for j, shape in enumerate(shapes):
            day = dt.date(2025, 6, 1) + dt.timedelta(days=i * len(shapes) + j)
            files[rows, shape] = day.isoformat(), write_raw(root, day, rows, SHAPES[shape][1])
    lines = [
        "| rows | shape | raw MB | featurepipe s: net (whole run, CPU) | peer s (CPU) "
        "| featurepipe net ÷ peer | reference s | reference ÷ featurepipe net | featurepipe "
        "peak MB (extra over a header-only run) | extra ÷ raw size | peer peak MB "
        "| featurepipe peak ÷ peer peak | row_sum equal |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratios = {shape: {} for shape in shapes}  # featurepipe net ÷ peer, by shape and size
    reference_rate = None  # seconds per million rows, at the largest size it ran
    for rows in sizes:
        with_reference = rows <= args.reference_rows
        ours, peers, references = ({shape: [] for shape in shapes} for _ in range(3))
        for _ in range(args.repeat):  # taking turns, so that each sees the same machine
            for shape in shapes:
                day, raw = files[rows, shape]
                ours[shape].append(spawn("featurepipe", str(root), day))
                if has_peer:
                    peers[shape].append(spawn("peer", str(raw), str(work / "peer" / day)))
                if with_reference:
                    reference_dir = work / "reference" / day
                    reference_dir.mkdir(parents=True, exist_ok=True)
                    references[shape].append(spawn("reference", str(root), day, str(reference_dir)))
        for shape in shapes:
            day, raw = files[rows, shape]
            raw_mb = raw.stat().st_size / 2**20
            fp = median_by(ours[shape], net)
            extra = fp["peak"] - fp["empty_peak"]
            if has_peer:
                peer = median_by(peers[shape], lambda r: r["seconds"])
                ratios[shape][rows] = net(fp) / peer["seconds"]
                peer_cells = (
                    f"{peer['seconds']:.2f} ({peer['cpu']:.2f}) | {ratios[shape][rows]:.2f}",
                    f"{peer['peak']:.0f} | {fp['peak'] / peer['peak']:.2f}",
                )
            else:
                peer_cells = ("— | —", "— | —")
            if with_reference:
                ref = median_by(references[shape], lambda r: r["seconds"])
                reference_cells = f"{ref['seconds']:.2f} | {ref['seconds'] / net(fp):.1f}"
                reference_rate = ref["seconds"] / rows * 1e6
            else:
                reference_cells = "— | —"
            agree = row_sums_agree(
                root,
                day,
                work / "reference" / day if with_reference else None,
                work / "peer" / day if has_peer else None,
            )
            row = (
                f"| {rows:,} | {SHAPES[shape][0]} | {raw_mb:.0f} "
                f"| {net(fp):.2f} ({fp['seconds']:.2f}, {fp['cpu']:.2f}) | {peer_cells[0]} "
                f"| {reference_cells} "
                f"| {fp['peak']:.0f} ({extra:.0f}) | {extra / raw_mb:.2f} | {peer_cells[1]} "
                f"| {agree} |"
            )
            print(row, flush=True)
            lines.append(row)
    lines.append("")
    if any(rows > args.reference_rows for rows in sizes):
        rate = (
            f"; it took {reference_rate:.0f} s per million rows at the largest size it ran"
            if reference_rate is not None
            else ""
        )
        lines.append(
            f"The reference runs only up to {args.reference_rows:,} rows (`--reference-rows`)"
            f"{rate}. Above that its cells are —, and row_sum is "
            + ("compared with the peer alone." if has_peer else "not checked (no peer either).")
        )
        lines.append("")
    lines += goal_lines(ratios) if has_peer else ["No peer, so no featurepipe net ÷ peer."]
    print("\n".join(lines[lines.index("") :]), flush=True)
    return lines


def goal_lines(ratios: dict[str, dict[int, float]]) -> list[str]:
    """featurepipe net ÷ peer per shape and size, against issue 24's goal (≤ 0.8 at the
    sizes in GOAL_SIZES), from the measured ratios."""
    lines = []
    for shape, by_size in ratios.items():
        measured = ", ".join(
            f"{ratio:.2f} at {rows:,} rows ({'≤' if ratio <= GOAL_RATIO else '>'} {GOAL_RATIO})"
            for rows, ratio in by_size.items()
        )
        missing = [rows for rows in GOAL_SIZES if rows not in by_size]
        missed = [rows for rows in GOAL_SIZES if by_size.get(rows, 0) > GOAL_RATIO]
        if missed:
            verdict = "not met at " + ", ".join(f"{rows:,}" for rows in missed) + " rows"
        elif missing:
            verdict = "not judged" if len(missing) == len(GOAL_SIZES) else "met where measured"
        else:
            verdict = "met"
        if missing:
            verdict += " (" + ", ".join(f"{rows:,}" for rows in missing) + " not measured)"
        lines.append(
            f"- {SHAPES[shape][0]}: featurepipe net ÷ peer {measured}. Issue 24's goal, "
            f"≤ {GOAL_RATIO} at "
            + " and ".join(f"{rows:,}" for rows in GOAL_SIZES)
            + f" rows: {verdict}."
        )
    return lines


def startup(args, root: Path, work: Path) -> list[str]:
    """A header-only day through the real command line, against the imports it cannot avoid.
    No DAGSTER_HOME: the command makes its temporary SQLite instance, as on a fresh checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "FEATUREPIPE_"))}
    env.update(FEATUREPIPE_STORAGE="local", FEATUREPIPE_LOCAL_ROOT=str(root))
    in_process = work / "in_process.yaml"
    in_process.write_text("execution:\n  config:\n    in_process: {}\n")
    dagster = [str(Path(sys.executable).parent / "dagster"), "asset", "materialize"]
    dagster += ["-m", "featurepipe.definitions", "--select", "*", "--partition", str(EMPTY_DAY)]
    home = work / "dagster_home"  # an instance that exists, as after a first run
    home.mkdir()
    floor = f'import floor: `python -c "{IMPORT_FLOOR}"`'
    noop = [str(Path(sys.executable).parent / "dagster"), "asset", "materialize"]
    noop += ["-m", "noop_definitions", "--select", "*", "--partition", str(EMPTY_DAY)]
    noop_name = (
        "Dagster's own: the same command on one asset that does nothing, the floor's imports, "
        "in process (`benchmarks/noop_definitions.py`)"
    )
    shape = [*noop[:4], "noop_shape_definitions", *noop[5:]]
    shape_name = (
        "Dagster's own for featurepipe's shape: a step with its four assets and five checks that "
        "does nothing but record what featurepipe records for the day "
        "(`benchmarks/noop_shape_definitions.py`)"
    )
    defaults = "`dagster asset materialize` with the defaults"
    commands = {
        floor: ([sys.executable, "-c", IMPORT_FLOOR], {}),
        noop_name: (noop, {"PYTHONPATH": str(HERE)}),
        shape_name: (shape, {"PYTHONPATH": str(HERE)}),
        defaults: (dagster, {}),
        "the same, `-c` in_process": ([*dagster, "-c", str(in_process)], {}),
        "the same, `-c deploy/run-config/multiprocess.yaml` (CPU: without the step processes, "
        "which the command does not wait for)": (
            [*dagster, "-c", str(REPO / "deploy" / "run-config" / "multiprocess.yaml")],
            {},
        ),
        "the defaults, with DAGSTER_HOME holding an existing SQLite instance": (
            dagster,
            {"DAGSTER_HOME": str(home)},
        ),
    }
    runs = {name: [] for name in commands}
    for argv, extra in commands.values():  # warm the page cache and the bytecode
        timed_process(argv, env={**env, **extra}, cwd=work)
    for _ in range(args.startup_repeat):
        for name, (argv, extra) in commands.items():
            runs[name].append(timed_process(argv, env={**env, **extra}, cwd=work))
    medians = {
        name: (
            statistics.median(r["seconds"] for r in found),
            statistics.median(r["cpu"] for r in found),
        )
        for name, found in runs.items()
    }
    floor_s, floor_cpu = medians[floor]
    noop_s, noop_cpu = medians[noop_name]
    lines = [
        "| a header-only day | wall s | CPU s | ÷ import floor (wall) | ÷ import floor (CPU) "
        "| ÷ Dagster's no-op (wall, CPU) |",
        "|---|---|---|---|---|---|",
    ]
    for name, (seconds, cpu) in medians.items():
        lines.append(
            f"| {name} | {seconds:.2f} | {cpu:.2f} | {seconds / floor_s:.2f} "
            f"| {cpu / floor_cpu:.2f} | {seconds / noop_s:.2f}, {cpu / noop_cpu:.2f} |"
        )
    wall, cpu = (
        mine / theirs for mine, theirs in zip(medians[defaults], medians[noop_name], strict=True)
    )
    (ours_s, ours_cpu), (shape_s, shape_cpu) = medians[defaults], medians[shape_name]
    lines += [
        "",
        f"- featurepipe's header-only day with the defaults ÷ Dagster's no-op: wall {wall:.2f}, "
        f"CPU {cpu:.2f}; goal ≤ {STARTUP_GOAL:.2f}: "
        + ", ".join(
            f"{'met' if ratio <= STARTUP_GOAL else 'not met'} on {what}"
            for what, ratio in (("wall", wall), ("CPU", cpu))
        )
        + ".",
        f"- where the difference goes: Dagster recording featurepipe's shape (four assets, five "
        f"checks, the same events) {shape_s - noop_s:+.2f} s wall ({shape_cpu - noop_cpu:+.2f} s "
        f"CPU); featurepipe's own imports and work (reading the raw file, writing three tables, "
        f"looking up what it records against) {ours_s - shape_s:+.2f} s wall "
        f"({ours_cpu - shape_cpu:+.2f} s CPU).",
    ]
    print("\n".join(lines), flush=True)
    return lines


def range_cost(args, root: Path) -> list[str]:
    """Issue 12's per-day cost: N days of R rows in one run against one day of N*R rows, each
    net of a header-only day's run in the same process."""
    first = dt.date(2025, 9, 1)
    last = first + dt.timedelta(days=args.range_days - 1)
    for i in range(args.range_days):
        write_raw(root, first + dt.timedelta(days=i), args.range_rows)
    whole = dt.date(2025, 8, 1)
    write_raw(root, whole, args.range_days * args.range_rows)
    ranges, singles = [], []
    for _ in range(args.repeat):
        ranges.append(spawn("featurepipe", str(root), f"{first}...{last}"))
        singles.append(spawn("featurepipe", str(root), str(whole)))
    days, one = median_by(ranges, net), median_by(singles, net)
    per_day = (net(days) - net(one)) / args.range_days
    events = (days["events"] - one["events"]) / args.range_days
    recording = (
        median_by(ranges, events_alone)["events_seconds"]
        - median_by(singles, events_alone)["events_seconds"]
    )
    allowance = 0.3 * net(one)
    lines = [
        f"- {args.range_days} days × {args.range_rows:,} rows in one run: {net(days):.2f} s net "
        f"({days['seconds']:.2f} s less {days['overhead']:.2f} s for a header-only day; CPU "
        f"{days['cpu']:.2f} s; peak {days['peak']:.0f} MB)",
        f"- one day of {args.range_days * args.range_rows:,} rows: {net(one):.2f} s net "
        f"({one['seconds']:.2f} s less {one['overhead']:.2f} s; CPU {one['cpu']:.2f} s; peak "
        f"{one['peak']:.0f} MB)",
        f"- **range ÷ single day = {net(days) / net(one):.2f}** (goal ≤ 1.3): {per_day:.3f} s "
        f"and {events:.0f} more recorded events per day beyond its rows",
        f"- recording those events alone (a step that does no work and yields the same events "
        f"again, each check against its day's materialization) takes {recording:.2f} s more for "
        f"the range than for the single day: **{recording / allowance:.1f} × the goal's whole "
        f"allowance** (0.3 × the single day's net = {allowance:.2f} s); it is Python under the "
        f"GIL, so it overlaps little with the rows' work",
        "",
        f"Events each run records, by type (a log message is an entry with no Dagster event); "
        f"range ÷ days = the range run's total ÷ {args.range_days}; per day extra = (range − "
        f"single day) ÷ {args.range_days}, as above:",
        "",
        "| event type | range run total | single-day run total | range ÷ days | per day extra |",
        "|---|---|---|---|---|",
    ]
    ranged, single = days["event_types"], one["event_types"]
    kinds = sorted(
        ranged.keys() | single.keys(),
        key=lambda kind: (single.get(kind, 0) - ranged.get(kind, 0), kind),
    )
    totals = {kind: (ranged.get(kind, 0), single.get(kind, 0)) for kind in kinds}
    totals["all"] = days["events"], one["events"]
    for kind, (in_range, in_single) in totals.items():
        lines.append(
            f"| {kind} | {in_range:,} | {in_single:,} | {in_range / args.range_days:.1f} "
            f"| {(in_range - in_single) / args.range_days:.1f} |"
        )
    print("\n".join(lines), flush=True)
    return lines


def sensor_scale(args, root: Path, work: Path) -> list[str]:
    """Issue 25: the raw-file sensor's ticks over years of files on S3, and what ten years of
    small days cost as ranges against a run per day."""
    lines = [
        "| files | FEATUREPIPE_BACKFILL_DAYS_PER_RUN | tick | wall s | LIST calls | cursor bytes "
        "| runs requested |",
        "|---|---|---|---|---|---|---|",
    ]
    every_key = {}
    # Unset, contiguous days are one run whatever their number: shown for the first size.
    cases = [(args.sensor_files[0], 0)] + [(n, 30) for n in args.sensor_files]
    for files, per_run in cases:
        found = spawn("sensor", str(files), str(per_run))
        every_key[files] = found["every_key_bytes"]
        for name, tick in found["ticks"].items():
            lines.append(
                f"| {files:,} | {per_run or 'unset'} | {name} | {tick['seconds']:.2f} "
                f"| {tick['lists']} | {tick['cursor']} | {tick['runs']} |"
            )
    lines += [
        "",
        "Ticks: *first*, no cursor, nothing materialized; *next*, one more file landed; "
        "*sweep*, the hourly full listing. The cursor before issue 25 (every key to its ETag) "
        "would be "
        + ", ".join(f"{b / 1000:,.0f} KB for {n:,} files" for n, b in every_key.items())
        + ".",
        "",
    ]
    first = dt.date(2025, 2, 1)  # within the default partitions, after EMPTY_DAY
    days = [first + dt.timedelta(days=n) for n in range(args.sensor_days)]
    for day in days:
        write_raw(root, day, 0)
    found = spawn("days", str(root), str(days[0]), str(days[-1]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "FEATUREPIPE_"))}
    env.update(FEATUREPIPE_STORAGE="local", FEATUREPIPE_LOCAL_ROOT=str(root))
    dagster = [str(Path(sys.executable).parent / "dagster"), "asset", "materialize"]
    dagster += ["-m", "featurepipe.definitions", "--select", "*", "--partition", str(first)]
    cli = timed_process(dagster, env=env, cwd=work)["seconds"]
    extra = (found["range"] - found["one"]) / (len(days) - 1)
    create = found["create"] / len(days)
    years = 3650

    def total(runs: int) -> float:
        return runs * cli + (years - runs) * extra

    lines += [
        f"- a header-only day through `dagster asset materialize` (a run's process, start-up "
        f"included): {cli:.2f} s; in process, one day's run {found['one']:.2f} s and one run of "
        f"{len(days)} days {found['range']:.2f} s: **{extra:.3f} s for each day after the "
        f"first**",
        f"- creating a run (as the daemon does on the sensor's tick) costs about "
        f"{create * 1000:.0f} ms per day of its range: Dagster records a planned "
        f"materialization for each asset and day ({found['create']:.2f} s for {len(days)} days)",
        f"- ten years of small days ({years:,}), run-seconds, from these figures: a run per day "
        f"{total(years) / 3600:.1f} h; runs of 30 days {total(-(-years // 30)) / 60:.1f} min; "
        f"runs of 365 days {total(10) / 60:.1f} min; one run {total(1) / 60:.1f} min",
    ]
    print("\n".join(lines), flush=True)
    return lines


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profile(args, root: Path, work: Path) -> list[str]:
    """One featurepipe day of --profile rows (the sample shape) under py-spy: the worker makes
    its warm-up and header-only runs, then py-spy attaches (--pid) for the day's run alone,
    sampling every thread 200 times a second, and is stopped when the run returns."""
    spy = find_py_spy()
    if spy is None:
        sys.exit(
            "--profile needs py-spy, which is not a dependency of featurepipe: install it with "
            "`.venv/bin/pip install py-spy`"
        )
    day = dt.date(2025, 7, 1)
    write_raw(root, day, args.profile)
    samples = work / "profile.txt"
    argv = [sys.executable, __file__, "--worker", "featurepipe", str(root), str(day), "profile"]
    record = [spy, "record", "--pid", "PID", "-o", str(samples), "--format", "raw"]
    record += ["--threads", "-r", "200"]
    with tempfile.TemporaryFile() as log:
        worker = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
        )
        spying = None

        def wait_for(stream, word: str) -> list[str]:
            said = []
            for line in stream:
                said.append(line)
                if word in line:
                    return said
            log.seek(0)
            raise RuntimeError(f"{''.join(said)}\n{log.read()[-3000:].decode()}")

        try:
            wait_for(worker.stdout, "ready")  # after the warm-up and header-only runs
            record[3] = str(worker.pid)
            spying = subprocess.Popen(
                record, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            wait_for(spying.stdout, "Sampling process")  # printed once it samples
            worker.stdin.write("go\n")
            worker.stdin.flush()
            wait_for(worker.stdout, "done")  # the day's run has returned
            spying.send_signal(signal.SIGINT)  # py-spy writes its file and exits
            said = spying.stdout.read()
            if spying.wait() != 0:
                raise RuntimeError(f"{record} failed:\n{said}")
            worker.stdin.write("go\n")
            worker.stdin.close()
            found = json.loads(worker.stdout.read().strip().splitlines()[-1])
            if worker.wait() != 0:
                log.seek(0)
                raise RuntimeError(f"{argv} failed:\n{log.read()[-3000:].decode()}")
        finally:
            for child in (spying, worker):
                if child is not None and child.poll() is None:
                    child.kill()
    return profile_tables(args.profile, found, samples)


# Leaf frames of a thread that waits; py-spy, without --idle, does not always drop them.
WAITS = (
    "Condition.wait (threading.py)",
    "Event.wait (threading.py)",
    "Thread._wait_for_tstate_lock (threading.py)",
    "Thread.join (threading.py)",
    "Queue.get (queue.py)",
    "_worker (concurrent/futures/thread.py)",  # an idle pool thread, in SimpleQueue.get
)
LIBRARIES = ("pyarrow", "pandas", "pandera", "numpy")


def profile_tables(rows: int, found: dict, samples: Path, top: int = 15) -> list[str]:
    """Parse py-spy's raw output (a line per stack: `thread (id): name;frame;...;leaf count`,
    a frame being `function (package/file.py:line)`), frames taken by function, lines dropped:
    functions by their own samples, packages by their own samples, featurepipe's functions by
    inclusive samples, and the entry points into the LIBRARIES (a function of one called from
    outside it: from featurepipe, another library or a pool thread), inclusive."""
    own, packages, inclusive, entries, threads = (Counter() for _ in range(5))
    total = waiting = 0
    for line in samples.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        thread, *frames = stack.split(";")
        count = int(count)
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in frames]
        if frames and frames[-1] in WAITS:
            waiting += count
            continue
        total += count
        threads[thread.partition(": ")[2] or thread] += count
        leaf = frames[-1] if frames else "(no Python frame)"
        own[leaf] += count
        packages[frame_package(leaf) if frames else leaf] += count
        caller = None
        for frame in dict.fromkeys(frames):  # each function once per stack, outermost first
            package = frame_package(frame)
            if package == "featurepipe":
                inclusive[frame] += count
            if package in LIBRARIES and caller != package:
                entries[frame] += count
            caller = package
    if not total:
        raise RuntimeError(f"py-spy recorded no samples in {samples}")

    def table(title: str, counter: Counter, limit: int | None = top) -> list[str]:
        return [
            f"| {title} | samples | share |",
            "|---|---|---|",
            *(f"| `{key}` | {n:,} | {n / total:.1%} |" for key, n in counter.most_common(limit)),
            "",
        ]

    return [
        f"One featurepipe day of {rows:,} rows (sample shape), the day's run alone, under "
        f"`py-spy record --threads -r 200` (attached after the warm-up and header-only runs): "
        f"{found['seconds']:.2f} s wall and {found['cpu']:.2f} s CPU while sampled. {total:,} "
        f"samples of busy threads ("
        + ", ".join(f"{n} {k:,}" for n, k in threads.most_common())
        + f"); {waiting:,} more whose thread waits (in threading, queue or an idle pool "
        f"thread) are left out. py-spy sees only Python threads, and counts a thread waiting "
        f"for the GIL as busy. Raw samples: {samples}",
        "",
        *table("function, by its own samples (all threads)", own),
        *table("package, by its own samples", packages, 10),
        *table("featurepipe function, inclusive", inclusive),
        *table(
            "entry point into " + ", ".join(LIBRARIES) + " (called from outside it), inclusive",
            entries,
        ),
    ]


def frame_package(frame: str) -> str:
    """`function (package/module.py)` -> package; a module outside any package, its file."""
    where = frame.rpartition(" (")[2].removesuffix(")")
    return where.split("/")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument(
        "--shapes",
        default=",".join(SHAPES),
        help="the throughput section's shapes of data, from: " + ", ".join(SHAPES),
    )
    parser.add_argument(
        "--reference-rows",
        type=int,
        default=1_000_000,
        help="run the plain-Python reference only for sizes up to this many rows",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="ROWS",
        help="only profile one featurepipe day of ROWS rows with py-spy and print its top costs",
    )
    parser.add_argument("--range-days", type=int, default=30)
    parser.add_argument("--range-rows", type=int, default=100_000)
    parser.add_argument(
        "--sensor-files",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[3650, 36500],
    )
    parser.add_argument("--sensor-days", type=int, default=60)
    parser.add_argument(
        "--only", choices=["sensor"], help="only the sensor's section, into results-sensor.md"
    )
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--repeat", type=int, default=3, help="fresh processes per measurement; medians kept"
    )
    parser.add_argument(
        "--startup-repeat",
        type=int,
        default=9,
        help="processes per start-up command; medians kept (its differences are tenths of a "
        "second, within one process's noise)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](*rest)))
        return
    unknown = set(args.shapes.split(",")) - set(SHAPES)
    if unknown:
        parser.error(f"--shapes: unknown {', '.join(sorted(unknown))}; known: {', '.join(SHAPES)}")

    shutil.rmtree(args.work, ignore_errors=True)
    root = args.work / "buckets"
    write_raw(root, EMPTY_DAY, 0)
    write_raw(root, WARM_UP_DAY, WARM_UP_ROWS)
    started = dt.datetime.now(dt.UTC)
    load = os.getloadavg()[0]
    args.work.mkdir(parents=True, exist_ok=True)
    if args.profile is not None:
        lines = profile(args, root, args.work)
        print("\n".join(lines))
        if args.out:
            args.out.write_text("\n".join(lines) + "\n")
            print(f"wrote {args.out}")
        return
    if args.only == "sensor":
        out = args.out or HERE / "results-sensor.md"
        lines = sensor_scale(args, root, args.work)
        out.write_text(
            "\n".join(
                [
                    "# The raw-file sensor at scale",
                    "",
                    f"{started:%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores (load average "
                    f"{load:.1f} at the start) · `benchmarks/bench.py --only sensor "
                    f"--sensor-files {','.join(map(str, args.sensor_files))} --sensor-days "
                    f"{args.sensor_days}` · one measurement each",
                    "",
                    *lines,
                ]
            )
            + "\n"
        )
        print(f"wrote {out}")
        return
    sections = [
        "## Start-up",
        "",
        *startup(args, root, args.work),
        "",
        "## Throughput and memory",
        "",
        *throughput(args, root, args.work),
        "",
        "## A range in one run",
        "",
        *range_cost(args, root),
        "",
        "## The raw-file sensor at scale",
        "",
        *sensor_scale(args, root, args.work),
    ]
    header = [
        "# Benchmark results",
        "",
        f"{started:%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores (load average {load:.1f} at "
        f"the start) · {platform.python_implementation()} {platform.python_version()} · "
        f"{MALFORMED:.1%} malformed lines · `benchmarks/bench.py --sizes {args.sizes} "
        f"--shapes {args.shapes} --reference-rows {args.reference_rows} --range-days "
        f"{args.range_days} --range-rows {args.range_rows} --repeat {args.repeat} "
        f"--startup-repeat {args.startup_repeat}`",
        "",
        f"Each figure is the median of {args.repeat} fresh processes ({args.startup_repeat} for "
        "start-up). Start-up: wall and CPU seconds of whole processes on a header-only day, no "
        "DAGSTER_HOME (a temporary SQLite instance). featurepipe: its whole asset job from "
        "`featurepipe.definitions.defs`, in process, on an in-memory instance and local "
        "buckets; net = the day's run minus a header-only day's run in the same process (after "
        "a warm-up run of 2,000 rows); CPU = user + system seconds of all its threads during "
        "the run. Peer: `../shared/peers/p3_pyarrow.py --threads`, the whole process, imports "
        "included. Shapes: *sample (impossible dates)* is featurepipe's sample, whose malformed "
        "lines include impossible dates such as `2025-13-45T99:00:00`; *real times only* breaks "
        "the same lines in the other ways, so every event time is real (the peer's fast path). "
        "Reference: the plain-Python row contract writing CSV, only up to --reference-rows "
        "rows. Peak MB: the process's peak resident memory during the run (VmHWM, reset just "
        "before it; the peer's ru_maxrss); "
        "extra = that minus the same for the header-only run.",
        "",
    ]
    out = args.out or HERE / "results.md"
    out.write_text("\n".join(header + sections) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
