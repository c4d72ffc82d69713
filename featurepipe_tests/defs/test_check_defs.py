"""The settings as the command lines load the definitions: `dg check defs` (what CI and a deploy
run) refuses every FEATUREPIPE_* variable's bad value, naming it; a `--partition-range` run from
the command line is one run whatever FEATUREPIPE_BACKFILL_DAYS_PER_RUN is."""

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pytest

from featurepipe_tests.defs.support import (
    RANGE_END,
    RANGE_START,
    VENV_BIN,
    clean_env,
    dagster_home,
    run,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DG_CHECK_DEFS = [str(VENV_BIN / "dg"), "check", "defs"]

# One bad value per variable, and what the refusal says beyond "<variable> must be".
BAD_VALUES = {
    "FEATUREPIPE_STORAGE": ("gcs", "one of local, s3"),
    "FEATUREPIPE_LOCAL_ROOT": ("/dev/null/x", "a directory or a path where one can be created"),
    "FEATUREPIPE_RAW_BUCKET": ("UPPER", "an S3 bucket name (3 to 63 lowercase letters"),
    "FEATUREPIPE_FEATURE_BUCKET": ("10.0.0.1", "an S3 bucket name (3 to 63 lowercase letters"),
    "FEATUREPIPE_STAGING_DIR": ("/dev/null/x", "a writable directory or a path where one can"),
    "FEATUREPIPE_START_DATE": ("2025-02-30", "a date (YYYY-MM-DD)"),
    "FEATUREPIPE_END_DATE": ("2024-12-31", "on or after the first partition (2025-01-01)"),
    "FEATUREPIPE_SCHEDULE_CRON": ("0 0 30 2 *", "a cron expression of 5 fields"),
    "FEATUREPIPE_SCHEDULE_TIMEZONE": ("Mars/Olympus", "an IANA time zone name"),
    "FEATUREPIPE_RAW_DEADLINE_HOUR": ("0", "a whole number from 1 to 23"),
    "FEATUREPIPE_QUARANTINE_WARN_RATIO": ("0.5", "at most FEATUREPIPE_QUARANTINE_ERROR_RATIO"),
    "FEATUREPIPE_QUARANTINE_ERROR_RATIO": ("-1", "a number from 0 to 1"),
    "FEATUREPIPE_LEGACY_CSV": ("maybe", "true or false"),
    "FEATUREPIPE_BACKFILL_DAYS_PER_RUN": ("many", "a whole number >= 1"),
    "FEATUREPIPE_DAYS_STAGED_AHEAD": ("9", "a whole number from 1 to 8"),
}
GOOD_VALUES = {
    "FEATUREPIPE_STORAGE": "s3",
    "FEATUREPIPE_LOCAL_ROOT": "/tmp/featurepipe-check-defs/buckets",
    "FEATUREPIPE_RAW_BUCKET": "raw.bucket-1",
    "FEATUREPIPE_FEATURE_BUCKET": "feature-bucket",
    "FEATUREPIPE_STAGING_DIR": "/tmp/featurepipe-check-defs/staging",
    "FEATUREPIPE_START_DATE": "2024-02-29",
    "FEATUREPIPE_END_DATE": "2024-03-31",
    "FEATUREPIPE_SCHEDULE_CRON": "30 1 * * 1-5",
    "FEATUREPIPE_SCHEDULE_TIMEZONE": "Europe/Berlin",
    "FEATUREPIPE_RAW_DEADLINE_HOUR": "23",
    "FEATUREPIPE_QUARANTINE_WARN_RATIO": "0.2",
    "FEATUREPIPE_QUARANTINE_ERROR_RATIO": "0.2",
    "FEATUREPIPE_LEGACY_CSV": "yes",
    "FEATUREPIPE_BACKFILL_DAYS_PER_RUN": "5",
    "FEATUREPIPE_DAYS_STAGED_AHEAD": "8",
}


def check_defs(env: dict[str, str]) -> tuple[int, str]:
    proc = subprocess.run(
        DG_CHECK_DEFS, cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_dg_check_defs_refuses_each_variables_bad_value_naming_it():
    """Every variable, alone with a bad value, fails the load with its name, its value and what
    is allowed; all of them set to good values load. (About 5 s of CPU per load: they run side
    by side.)"""
    envs = {name: clean_env(**{name: value}) for name, (value, _) in BAD_VALUES.items()}
    envs["all good"] = clean_env(**GOOD_VALUES)
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        results = dict(zip(envs, pool.map(check_defs, envs.values()), strict=True))

    code, output = results.pop("all good")
    assert (code, "All definitions loaded successfully." in output) == (0, True), output[-3000:]
    refused = {}  # {variable: True, or the output that did not refuse it as it should}
    for name, (code, output) in results.items():
        value, allowed = BAD_VALUES[name]
        said = f"{name} must be {allowed}" in output and f"got {value!r}" in output
        refused[name] = True if code != 0 and said else output[-2000:]
    assert refused == dict.fromkeys(BAD_VALUES, True)


COMMANDS = {
    "dg launch": [str(VENV_BIN / "dg"), "launch", "--target-path", str(REPO), "--assets", "*"],
    "dagster asset materialize": [
        *(str(VENV_BIN / "dagster"), "asset", "materialize", "-m", "featurepipe.definitions"),
        *("--select", "*"),
    ],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_partition_range_from_the_command_line_is_one_run_whatever_k_is(tmp_path, command):
    """With FEATUREPIPE_BACKFILL_DAYS_PER_RUN=2 (UI backfills in runs of 2 days), three days
    given to the command line still run, as one run that records each of them."""
    home = dagster_home(tmp_path / "dagster_home")
    env = clean_env(
        FEATUREPIPE_LOCAL_ROOT=str(tmp_path / "buckets"),
        DAGSTER_HOME=str(home),
        FEATUREPIPE_BACKFILL_DAYS_PER_RUN="2",
    )
    sample = [str(VENV_BIN / "featurepipe"), "sample", "--end", "2025-11-19", "--days", "3"]
    run([*sample, "--rows", "50"], cwd=tmp_path, env=env)
    run([*COMMANDS[command], "--partition-range", "2025-11-17...2025-11-19"], tmp_path, env)

    days = ["2025-11-17", "2025-11-18", "2025-11-19"]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (one_run,) = instance.get_runs()
        assert (one_run.tags[RANGE_START], one_run.tags[RANGE_END]) == (days[0], days[-1])
        assert one_run.status == dg.DagsterRunStatus.SUCCESS
        recorded = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("validated_events")), limit=10
        ).records
        assert sorted((r.partition_key, r.run_id) for r in recorded) == [
            (day, one_run.run_id) for day in days
        ]
