"""Stored partitions load back through the project's own Definitions, configured by environment
as a user configures them; and raw_events runs on its own with build_asset_context."""

import json
import re
import runpy
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster import materialize

from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.config import quarantine_policy
from featurepipe.storage.keys import raw_key
from featurepipe.storage.objects import ObjectNotFound
from featurepipe.storage.verified import RawFile
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET, csv_bytes
from featurepipe_tests.defs.support import (
    ASSETS,
    TABLES,
    VENV_BIN,
    clean_env,
    dagster_home,
    filler,
    put_raw,
    resources,
    run,
    stored_table,
)

DAY = "2025-11-19"
README = Path(__file__).resolve().parents[2] / "README.md"


def project_defs() -> dg.Definitions:
    """featurepipe.definitions executed afresh, so it reads the environment as it is now;
    the imported module (and any other test's view of it) is left alone."""
    return runpy.run_module("featurepipe.definitions")["defs"]


@pytest.mark.parametrize("backend", ["local_storage", "s3_storage"])
def test_value_loader_loads_every_asset(backend, request):
    storage = request.getfixturevalue(backend)
    data = csv_bytes("not-a-time,8,s2,click,ios,US,0,1,1,1", *filler(DAY, 150))
    put_raw(storage, DAY, data)
    assert materialize(ASSETS, partition_key=DAY, resources=resources(storage)).success

    defs = project_defs()
    with defs.get_asset_value_loader() as loader:
        raw = loader.load_asset_value("raw_events", partition_key=DAY)
        tables = {t: loader.load_asset_value(t, partition_key=DAY) for t in TABLES}

    assert isinstance(raw, RawFile)
    assert raw.info.uri == storage.store.uri(RAW_BUCKET, raw_key(DAY))
    assert raw.info.size == len(data)
    with raw.open() as stream:
        assert stream.read() == data
    for table, frame in tables.items():
        pd.testing.assert_frame_equal(frame, stored_table(storage, table, DAY))
    assert list(tables["event_features"]["row_sum"]) == [1000 + i + 11.5 for i in range(150)]
    assert list(tables["rejected_events"]["line"]) == [2]


def test_value_loader_reports_a_partition_never_stored(local_storage):
    missing = local_storage.store.uri(FEATURE_BUCKET, "event_features/date=2025-11-18/part.parquet")
    defs = project_defs()
    with (
        defs.get_asset_value_loader() as loader,
        pytest.raises(ObjectNotFound, match=re.escape(f"{missing} does not exist")),
    ):
        loader.load_asset_value("event_features", partition_key="2025-11-18")


def test_the_step_run_directly_with_build_asset_context_names_every_missing_day(local_storage):
    # Direct invocation refuses check evaluations, so only the failure path runs this way.
    days = ["2025-11-17", "2025-11-18", "2025-11-19"]
    with (
        dg.build_asset_context(
            partition_key_range=dg.PartitionKeyRange(days[0], days[-1]),
            resources={"storage": local_storage},
        ) as context,
        pytest.raises(dg.Failure) as raised,
    ):
        list(build_daily_events()(context, quarantine_policy(0.01, 0.05)()))
    failed_days = raised.value.metadata["failed_days"].value
    for day in days:
        missing = local_storage.store.uri(RAW_BUCKET, raw_key(day))
        assert f"| {day} | failed | ObjectNotFound: head_object: {missing} does not exist |" in (
            failed_days
        )
    assert raised.value.description.startswith("3 of 3 days failed: 2025-11-17: ObjectNotFound: ")


def readme_loader_snippet() -> str:
    """The Python block README.md gives for loading a stored partition back."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    snippets = [b for b in blocks if "get_asset_value_loader" in b]
    assert len(snippets) == 1, "README.md should show one get_asset_value_loader example"
    return re.sub(r"^ {2}", "", snippets[0], flags=re.M)


@pytest.mark.slow
def test_readme_loader_snippet_in_a_fresh_interpreter(local_storage, tmp_path):
    """The README's snippet, verbatim, in a new process that only has the environment."""
    put_raw(local_storage, DAY, csv_bytes(*filler(DAY, 130)))
    assert materialize(ASSETS, partition_key=DAY, resources=resources(local_storage)).success

    snippet = readme_loader_snippet()
    assert f'partition_key="{DAY}"' in snippet
    script = tmp_path / "load.py"
    script.write_text(
        snippet
        + "\nimport json\n"
        + "with defs.get_asset_value_loader() as loader:\n"
        + "    raw = loader.load_asset_value('raw_events', partition_key='2025-11-19')\n"
        + "print(json.dumps({'rows': len(features), 'first': float(features['row_sum'][0]),"
        + " 'raw': raw.info.uri}))\n"
    )
    env = clean_env(
        FEATUREPIPE_LOCAL_ROOT=str(local_storage.store.root),
        DAGSTER_HOME=str(dagster_home(tmp_path / "dagster_home")),
    )
    proc = run([str(VENV_BIN / "python"), str(script)], cwd=tmp_path, env=env)
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == {
        "rows": 130,
        "first": 1000 + 11.5,
        "raw": local_storage.store.uri(RAW_BUCKET, raw_key(DAY)),
    }
