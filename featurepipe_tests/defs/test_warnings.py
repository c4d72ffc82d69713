"""No command warns: loading featurepipe's definitions raises on any warning, and only the beta
and preview APIs that featurepipe/defs/__init__.py lists are silenced (the command-line runs
and `dagster dev` are checked for warning lines where they run: test_dagster_cli, ui/)."""

import re
from pathlib import Path

from featurepipe.defs import DELIBERATE
from featurepipe_tests.defs.support import VENV_BIN, clean_env, run

README = Path(__file__).resolve().parents[2] / "README.md"


def python(code: str, cwd: Path, *options: str):
    return run([str(VENV_BIN / "python"), *options, "-c", code], cwd=cwd, env=clean_env())


def test_loading_the_definitions_warns_nothing(tmp_path):
    proc = python("import featurepipe.definitions", tmp_path, "-W", "error")
    assert proc.stderr == ""


def test_only_the_deliberate_warnings_are_silenced(tmp_path):
    """Each listed warning is silenced; the same kinds about any other API still show."""
    code = """
import warnings
import dagster as dg
from featurepipe.defs import DELIBERATE
for category, message in DELIBERATE.values():
    warnings.warn(category(message + " is currently in beta"))
warnings.warn(dg.BetaWarning("Function `another_api` is currently in beta"))
warnings.warn(dg.PreviewWarning("Parameter `x` of function `y` is currently in preview"))
warnings.warn(dg.SupersessionWarning("Function `old` is superseded"))
warnings.warn(DeprecationWarning("`older` is deprecated"))
"""
    stderr = python(code, tmp_path).stderr
    shown = re.findall(r"(\w+Warning): (.*)", stderr)
    assert shown == [
        ("BetaWarning", "Function `another_api` is currently in beta"),
        ("PreviewWarning", "Parameter `x` of function `y` is currently in preview"),
        ("SupersessionWarning", "Function `old` is superseded"),
        ("DeprecationWarning", "`older` is deprecated"),
    ]


def test_the_readme_lists_each_silenced_api():
    text = README.read_text()
    section = text.split("### Dagster APIs in beta or preview", 1)[1].split("\n#", 1)[0]
    for api in DELIBERATE:
        assert f"`{api}`" in section, api
