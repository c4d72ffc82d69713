"""`dg` on the project, as CI and a user run it from the repository root: `dg check defs` loads
the definitions, `dg list defs` lists what featurepipe.definitions defines. (`dg launch` and
`dg dev` run in test_dagster_cli.py.)"""

import json
from pathlib import Path

import pytest

from featurepipe.definitions import defs
from featurepipe_tests.defs.support import VENV_BIN, clean_env, run, warning_lines

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DG = str(VENV_BIN / "dg")


def test_dg_check_defs():
    proc = run([DG, "check", "defs"], cwd=REPO, env=clean_env())
    assert "All definitions loaded successfully." in proc.stdout
    assert warning_lines(proc.stdout + proc.stderr) == []
    assert "virtual environment" not in proc.stderr  # the README runs .venv/bin/dg unactivated


def test_dg_list_defs_is_featurepipe_definitions():
    listed = json.loads(run([DG, "list", "defs", "--json"], cwd=REPO, env=clean_env()).stdout)
    graph = defs.resolve_asset_graph()
    assert {a["asset_key"] for a in listed["assets"]} == {
        key.to_user_string() for key in graph.get_all_asset_keys()
    }
    assert {c["key"] for c in listed["asset_checks"]} == {
        f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys
    }
    assert [j["name"] for j in listed["jobs"]] == ["featurepipe_daily"]
    assert [s["name"] for s in listed["schedules"]] == ["daily_schedule"]
    assert [s["name"] for s in listed["sensors"]] == ["raw_file_sensor"]
