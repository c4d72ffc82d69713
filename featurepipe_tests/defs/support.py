"""Helpers shared by the Dagster-shell tests: raw files, resources, runs and what they stored."""

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq

from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.io_managers import ParquetIOManager, RawFileIOManager
from featurepipe.defs.names import STEP
from featurepipe.storage.keys import raw_key
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET

ASSETS = [build_daily_events()]
TABLES = ("validated_events", "rejected_events", "event_features")


def definition_metadata(asset: str) -> dict:
    """The metadata an asset carries in the definitions, before any run."""
    (assets,) = ASSETS
    return assets.specs_by_key[dg.AssetKey(asset)].metadata


# What Python prints for a warning: `<file>:<line>: <Category>Warning: <message>`.
WARNING_LINE = re.compile(r":\d+: \w*Warning: ")
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
VENV_BIN = Path(sys.executable).parent


def resources(storage) -> dict:
    return {
        "storage": storage,
        "io_manager": ParquetIOManager(storage=storage),
        "raw_io_manager": RawFileIOManager(storage=storage),
    }


def filler(day: str, n: int, first_user: int = 1000) -> list[str]:
    """n valid lines for `day`; line i has user_id first_user + i and row_sum user_id + 11.5."""
    return [
        f"{day}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z,"
        f"{first_user + i},f{i},view,web,US,0,1.5,,10"
        for i in range(n)
    ]


def put_raw(storage, day: str, data: bytes) -> None:
    with storage.store.staged(RAW_BUCKET, raw_key(day)) as path:
        path.write_bytes(data)


def stored_keys(storage, bucket: str = FEATURE_BUCKET) -> set[str]:
    return {info.key for info in storage.store.list(bucket)}


def expected_keys(*days: str, tables=TABLES) -> set[str]:
    return {f"{table}/date={day}/part.parquet" for table in tables for day in days}


def stored_table(storage, table: str, day: str) -> pd.DataFrame:
    """A stored partition, read straight from the bucket (not through the IO manager)."""
    with storage.store.local_copy(FEATURE_BUCKET, f"{table}/date={day}/part.parquet") as path:
        return pq.read_table(path).to_pandas()


def stored_bytes(storage, key: str, bucket: str = FEATURE_BUCKET) -> bytes:
    with storage.store.local_copy(bucket, key) as path:
        return path.read_bytes()


def materialize_range(storage, start: str, end: str, instance: dg.DagsterInstance, **kwargs):
    """One run over the days start..end, the way a single-run backfill launches it."""
    job = dg.Definitions(
        assets=ASSETS, resources=resources(storage)
    ).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        tags={RANGE_START: start, RANGE_END: end}, instance=instance, **kwargs
    )


def materializations(result, asset: str) -> dict[str, dict]:
    """{partition: metadata} of the run's materializations of one asset; each partition once."""
    found: dict[str, dict] = {}
    for event in result.get_asset_materialization_events():
        if event.asset_key == dg.AssetKey(asset):
            assert event.partition not in found, f"{asset} {event.partition} materialized twice"
            found[event.partition] = event.materialization.metadata
    return found


def latest_metadata(instance: dg.DagsterInstance, asset: str, day: str):
    """The latest stored materialization record of one partition of one asset."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[day]), limit=1
    ).records
    assert records, f"no materialization of {asset} {day}"
    return records[0]


def reasons(metadata, key: str = "quarantine_reasons") -> dict[str, int]:
    """{reason: rows} from a quarantine reasons table in metadata."""
    table = metadata[key]
    return {record.data["reason"]: record.data["rows"] for record in table.records}


def failed_day(storage, day: str, assets=ASSETS, **kwargs):
    """A one-day materialization that must fail, in the pipeline step; its result."""
    result = dg.materialize(
        assets, partition_key=day, resources=resources(storage), raise_on_error=False, **kwargs
    )
    assert not result.success
    assert result.get_failed_step_keys() == {STEP}
    return result


def failure_text(result) -> str:
    """Every step failure of a run, with the causes, as text."""
    failures = result.get_step_failure_events()
    assert failures, "expected a failed step"
    return "\n".join(event.event_specific_data.error.to_string() for event in failures)


def clean_env(**settings: str) -> dict[str, str]:
    """The environment for a subprocess: ours, minus any FEATUREPIPE_/AWS_/DAGSTER_ settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FEATUREPIPE_", "AWS_", "DAGSTER_"))
    }
    env.update(settings)
    return env


def dagster_home(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return path


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f"{args} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    return proc


def warning_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if WARNING_LINE.search(line)]


def files_under(root: Path) -> set[str]:
    """Every file under a local bucket, hidden ones included (a stray temp file is a bug)."""
    if not root.is_dir():
        return set()
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
