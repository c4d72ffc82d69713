"""The real `featurepipe`, `dagster` and `dg` command lines, in subprocesses, as users run them."""

import re
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from featurepipe.cli import INSTANCE_YAML
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET
from featurepipe_tests.defs.support import (
    RANGE_END,
    RANGE_START,
    TABLES,
    VENV_BIN,
    clean_env,
    expected_keys,
    files_under,
    reasons,
    run,
    warning_lines,
)
from featurepipe_tests.ui.devserver import serving

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DAYS = ["2025-11-17", "2025-11-18", "2025-11-19"]
RAW_FILES = {"user_events_20251117.csv", "user_events_20251118.csv", "user_events_20251119.csv"}
MATERIALIZE = [str(VENV_BIN / "dagster"), "asset", "materialize", "-m", "featurepipe.definitions"]
LAUNCH = [str(VENV_BIN / "dg"), "launch", "--target-path", str(REPO)]


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


# One day, in each command family the README shows. `dagster asset materialize` may only say
# that Dagster now prefers `dg launch`.
ONE_DAY = {
    "dagster": (
        [*MATERIALIZE, "--select", "*", "--partition", "2025-11-19"],
        "SupersessionWarning: Function `asset_materialize_command` is superseded",
    ),
    "dg": (
        [*LAUNCH, "--assets", "*", "--partition", "2025-11-19"],
        None,
    ),
}


# What Dagster prints when DAGSTER_HOME has no dagster.yaml.
NO_INSTANCE_YAML = "No dagster instance configuration file (dagster.yaml) found"
DEBUG_LINE = " - dagster - DEBUG - "
DEBUG_CONSOLE = '{"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}'


def init_instance(home: Path, cwd: Path, env: dict[str, str]) -> None:
    """`featurepipe init`, then telemetry off as the README says: loopback only."""
    proc = run([str(VENV_BIN / "featurepipe"), "init"], cwd=cwd, env=env)
    assert proc.stdout == f"wrote {home / 'dagster.yaml'}\n"
    yaml = home / "dagster.yaml"
    yaml.write_text(yaml.read_text().replace("enabled: true", "enabled: false"))


def log_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " - dagster - " in line]


@pytest.mark.parametrize("family", sorted(ONE_DAY))
def test_sample_then_one_day(tmp_path, family):
    """`featurepipe init` and `featurepipe sample`, then one day with `dagster asset materialize
    --partition` or `dg launch --partition`: the buckets where FEATUREPIPE_LOCAL_ROOT says,
    nothing written to the working directory, no warning, and on the console featurepipe's own
    lines without Dagster's debug stream, which the run config brings back."""
    buckets = tmp_path / "buckets"
    home = tmp_path / "dagster_home"
    env = clean_env(FEATUREPIPE_LOCAL_ROOT=str(buckets), DAGSTER_HOME=str(home))
    work = tmp_path / "work"
    work.mkdir()
    init_instance(home, work, env)

    sample = [str(VENV_BIN / "featurepipe"), "sample", "--end", "2025-11-19"]
    proc = run([*sample, "--days", "3", "--rows", "500"], cwd=work, env=env)
    assert proc.stdout.count("(500 rows)") == 3
    assert warning_lines(proc.stderr) == []
    assert files_under(buckets / RAW_BUCKET) == RAW_FILES

    command, notice = ONE_DAY[family]
    proc = run(command, cwd=work, env=env)
    warnings = [line for line in warning_lines(proc.stderr) if not notice or notice not in line]
    assert warnings == []
    assert NO_INSTANCE_YAML not in proc.stderr
    quiet = log_lines(proc.stderr)
    assert not [line for line in quiet if DEBUG_LINE in line]
    assert [line for line in quiet if " outcome=stored read=" in line and " stored=" in line]
    assert files_under(buckets / FEATURE_BUCKET) == expected_keys("2025-11-19")
    assert files_under(buckets / RAW_BUCKET) == RAW_FILES
    assert list(work.iterdir()) == []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (one_day,) = instance.get_runs()
        assert one_day.tags["dagster/partition"] == "2025-11-19"
        check_day(buckets, instance, "2025-11-19", 500, one_day.run_id)
        assert step_processes(instance, one_day.run_id) == {run_process(instance, one_day.run_id)}

    # The README's way back to the debug stream, for one run.
    proc = run([*command, "--config-json", DEBUG_CONSOLE], cwd=work, env=env)
    verbose = log_lines(proc.stderr)
    assert [line for line in verbose if DEBUG_LINE in line and "STEP_START" in line]
    assert len(verbose) > len(quiet) + 10


def step_processes(instance: dg.DagsterInstance, run_id: str) -> set[int]:
    """The process ids that ran the run's steps."""
    starts = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
    assert starts, "expected a run with steps"
    return {event.dagster_event.pid for event in starts}


def run_process(instance: dg.DagsterInstance, run_id: str) -> int:
    (start,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_START)
    return start.dagster_event.pid


def test_loading_the_definitions_leaves_dagster_aws_and_pandera_backends_unimported(tmp_path):
    """Every run and every code-server start loads the definitions: dagster_aws would load all
    of that package's components, and pandera's first validation registers its backends and
    imports hypothesis where it is installed (about 0.1 s); the definitions need neither."""
    code = (
        "import sys\n"
        "import featurepipe.definitions\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster_aws', 'hypothesis')"
        " or m.startswith('pandera.backends.pandas.')))"
    )
    proc = run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env())
    assert proc.stdout.strip() == "[]"


def readme_first_command() -> str:
    """README.md's set-up command after creating the venv and installing into it."""
    block = re.search(
        r"\*\*Set up on a fresh machine\*\*.*?```bash\n(.*?)```", README.read_text(), re.S
    )
    assert block, "README.md lost its set-up command"
    command = block.group(1).strip()
    install = "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && "
    assert command.startswith(install), command
    return command.removeprefix(install)


PARTITION_STATS = """
query Stats($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      partitionStats { numMaterialized numPartitions }
      partitionKeyConnection(limit: 1, ascending: true) { results }
    }
  }
}"""


def test_readme_first_command_then_the_ui(tmp_path):
    """README: three days of sample data (0.1% malformed), materialized with --partition-range
    in ONE run, land under .featurepipe/ of the checkout, with no warning and no debug stream;
    the run is in the instance at .featurepipe/dagster/, whose dagster.yaml the command wrote,
    and `dg dev` started in the same shell shows it with the partitions the sample fills: the
    three sample days, all of them materialized."""
    command = readme_first_command()
    assert "--partition-range 2025-11-17...2025-11-19" in command
    # A checkout: the project's files and its venv.
    work = tmp_path / "checkout"
    work.mkdir()
    (work / ".venv").symlink_to(VENV_BIN.parent)
    (work / "featurepipe").symlink_to(REPO / "featurepipe")
    (work / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    instance_dir = work / ".featurepipe" / "dagster"
    # The instance as the command writes it, telemetry on: Dagster's switch for its own test
    # runs keeps it from uploading (loopback only), and its user id goes to a home of its own.
    env = clean_env(DAGSTER_DISABLE_TELEMETRY="1", HOME=str(tmp_path / "home"))
    env.pop("PWD", None)  # bash sets it to the working directory, as a terminal's shell has it

    # The command as written, then `dg dev` in the same shell.
    script = f'{command} && exec .venv/bin/dg dev "$@"'
    shell = ["bash", "-c", script, "bash"]
    with serving(shell, work, env, tmp_path / "dev.log", startup_by=300) as server:
        assert warning_lines(server.text()) == []
        assert NO_INSTANCE_YAML not in server.text()
        assert DEBUG_LINE not in server.text()
        assert (instance_dir / "dagster.yaml").read_text() == INSTANCE_YAML
        buckets = work / ".featurepipe" / "buckets"
        assert files_under(buckets / "datapipeline-raw-data") == RAW_FILES
        assert files_under(buckets / "datapipeline-feature-data") == expected_keys(*DAYS)
        # The partitions are the sample's days, every one materialized: "100% filled".
        for asset in ("raw_events", *TABLES):
            node = server.graphql(PARTITION_STATS, {"path": [asset]})["assetNodeOrError"]
            stats = node["partitionStats"]
            assert (stats["numMaterialized"], stats["numPartitions"]) == (3, 3), asset
            assert node["partitionKeyConnection"]["results"] == [DAYS[0]], asset

    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        (one_run,) = instance.get_runs()
        assert one_run.tags[RANGE_START] == "2025-11-17"
        assert one_run.tags[RANGE_END] == "2025-11-19"
        counts = [check_day(buckets, instance, day, 10_000, one_run.run_id) for day in DAYS]
    # "0.1% of lines malformed": some, and few; and each day counts its own file.
    assert all(0 < c["quarantined"].value < 50 for c in counts)
    assert len({c["quarantined"].value for c in counts}) > 1
