"""The real `featurepipe` and `dagster` command lines, in subprocesses, as a user runs them."""

import re
import shlex
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET
from featurepipe_tests.defs.support import (
    RANGE_END,
    RANGE_START,
    TABLES,
    VENV_BIN,
    clean_env,
    dagster_home,
    expected_keys,
    files_under,
    reasons,
    run,
)

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
DAYS = ["2025-11-17", "2025-11-18", "2025-11-19"]
RAW_FILES = {"user_events_20251117.csv", "user_events_20251118.csv", "user_events_20251119.csv"}
MATERIALIZE = [str(VENV_BIN / "dagster"), "asset", "materialize", "-m", "featurepipe.definitions"]


def metadata(instance: dg.DagsterInstance, asset: str, day: str):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[day]), limit=1
    ).records
    assert records, f"no materialization of {asset} {day}"
    return records[0].run_id, records[0].asset_materialization.metadata


def check_day(buckets: Path, instance: dg.DagsterInstance, day: str, rows: int, run_id: str):
    """Every data line of the day's file is a validated or a rejected row, and the metadata of
    each stored partition, recorded by run_id, says so."""
    tables = {
        t: pd.read_parquet(buckets / FEATURE_BUCKET / t / f"date={day}" / "part.parquet")
        for t in TABLES
    }
    validated, rejected = tables["validated_events"], tables["rejected_events"]
    assert sorted([*validated["line"], *rejected["line"]]) == list(range(2, rows + 2))
    assert len(tables["event_features"]) == len(validated)
    assert set(tables["event_features"]["event_time"].dt.strftime("%Y-%m-%d")) == {day}

    recorded_by, meta = metadata(instance, "validated_events", day)
    assert recorded_by == run_id
    assert meta["rows_in"].value == rows
    assert meta["valid"].value == len(validated)
    assert meta["quarantined"].value == len(rejected)
    assert meta["blank_lines"].value == 0
    assert sum(reasons(meta).values()) == len(rejected)
    for asset in ("raw_events", "rejected_events", "event_features"):
        assert metadata(instance, asset, day)[0] == run_id
    _, raw = metadata(instance, "raw_events", day)
    raw_file = buckets / RAW_BUCKET / f"user_events_{day.replace('-', '')}.csv"
    assert raw["source"].value == str(raw_file.resolve())
    assert raw["size_bytes"].value == raw_file.stat().st_size
    return meta


def test_sample_then_one_day(tmp_path):
    """`featurepipe sample` and `dagster asset materialize --partition`, with the buckets
    where FEATUREPIPE_LOCAL_ROOT says and nothing written to the working directory."""
    buckets = tmp_path / "buckets"
    home = dagster_home(tmp_path / "dagster_home")
    env = clean_env(FEATUREPIPE_LOCAL_ROOT=str(buckets), DAGSTER_HOME=str(home))
    work = tmp_path / "work"
    work.mkdir()

    sample = [str(VENV_BIN / "featurepipe"), "sample", "--end", "2025-11-19"]
    proc = run([*sample, "--days", "3", "--rows", "500"], cwd=work, env=env)
    assert proc.stdout.count("(500 rows)") == 3
    assert files_under(buckets / RAW_BUCKET) == RAW_FILES

    run([*MATERIALIZE, "--select", "*", "--partition", "2025-11-19"], cwd=work, env=env)
    assert files_under(buckets / FEATURE_BUCKET) == expected_keys("2025-11-19")
    assert files_under(buckets / RAW_BUCKET) == RAW_FILES
    assert list(work.iterdir()) == []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (one_day,) = instance.get_runs()
        assert one_day.tags["dagster/partition"] == "2025-11-19"
        check_day(buckets, instance, "2025-11-19", 500, one_day.run_id)


def readme_first_command() -> list[list[str]]:
    """The pipeline steps of README.md's set-up command, minus creating the venv and pip."""
    text = README.read_text()
    block = re.search(r"\*\*Set up on a fresh machine\*\*.*?```bash\n(.*?)```", text, re.S)
    assert block, "README.md lost its set-up command"
    steps = [shlex.split(step) for step in block.group(1).strip().split("&&")]
    pipeline = [s for s in steps if Path(s[0]).name not in ("python3", "pip")]
    assert [Path(s[0]).name for s in pipeline] == ["featurepipe", "dagster"], pipeline
    assert all(s[0].startswith(".venv/bin/") for s in pipeline)
    return [[str(VENV_BIN / Path(s[0]).name), *s[1:]] for s in pipeline]


def test_readme_first_command(tmp_path):
    """README: three days of sample data (0.1% malformed), materialized with
    --partition-range in ONE run, land under .featurepipe/buckets/ of the working directory."""
    sample, materialize = readme_first_command()
    assert materialize[materialize.index("--partition-range") + 1] == "2025-11-17...2025-11-19"
    home = dagster_home(tmp_path / "dagster_home")
    work = tmp_path / "checkout"
    work.mkdir()
    env = clean_env(DAGSTER_HOME=str(home))

    run(sample, cwd=work, env=env)
    buckets = work / ".featurepipe" / "buckets"
    assert files_under(buckets / "datapipeline-raw-data") == RAW_FILES
    run(materialize, cwd=work, env=env)
    assert files_under(buckets / "datapipeline-feature-data") == expected_keys(*DAYS)
    assert files_under(buckets / "datapipeline-raw-data") == RAW_FILES

    with dg.DagsterInstance.from_config(str(home)) as instance:
        (one_run,) = instance.get_runs()
        assert one_run.tags[RANGE_START] == "2025-11-17"
        assert one_run.tags[RANGE_END] == "2025-11-19"
        counts = [check_day(buckets, instance, day, 10_000, one_run.run_id) for day in DAYS]
    # "0.1% of lines malformed": some, and few; and each day counts its own file.
    assert all(0 < c["quarantined"].value < 50 for c in counts)
    assert len({c["quarantined"].value for c in counts}) > 1
