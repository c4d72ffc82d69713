"""featurepipe silences exactly the Dagster warnings it means to (featurepipe/defs/__init__.py):
each one is really emitted by the Dagster API it is silenced for, as featurepipe uses that API,
so a stale silence fails here; with warnings as errors and only featurepipe's own filters,
building the definitions raises nothing; and any other beta, preview, superseded or deprecated
API still warns. (The command-line runs and `dagster dev` are checked for warning lines where
they run: test_dagster_cli, ui/.)"""

import importlib
import warnings
from pathlib import Path

import dagster as dg
import pytest

import featurepipe.defs
from featurepipe.definitions import IN_PROCESS_BY_DEFAULT, build
from featurepipe.settings import Settings
from featurepipe_tests.defs import user_project
from featurepipe_tests.defs.support import VENV_BIN, clean_env, run

README = Path(__file__).resolve().parents[2] / "README.md"
# What reaches the silenced APIs: featurepipe's definitions, in both backfill modes and with
# the optional legacy CSV asset, Dagster's own parser of `--select '*'` / `--assets '*'`, and a
# user's own asset as README's "Adding your own assets" writes it.
USES = (
    lambda: build(Settings(), IN_PROCESS_BY_DEFAULT),
    lambda: build(Settings(backfill_days_per_run=4, legacy_csv=True), IN_PROCESS_BY_DEFAULT),
    lambda: dg.AssetSelection.from_string("*"),
    lambda: importlib.reload(user_project),
)
OTHERS = (
    dg.BetaWarning("Function `another_api` is currently in beta"),
    dg.PreviewWarning("Parameter `x` of function `y` is currently in preview"),
    dg.SupersessionWarning("Function `old` is superseded"),
    DeprecationWarning("`older` is deprecated"),
)


def featurepipe_filters_only() -> None:
    """Drop pytest's filters and every other, and let featurepipe install its own again, with
    any warning they let through raised as an error."""
    warnings.resetwarnings()
    warnings.simplefilter("error")
    importlib.reload(featurepipe.defs)  # its filters go in front of "error"


def emitted_by_featurepipes_uses() -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        for use in USES:
            use()
    return caught


@pytest.fixture(scope="module")
def emitted() -> list[warnings.WarningMessage]:
    return emitted_by_featurepipes_uses()


@pytest.mark.parametrize("api", list(featurepipe.defs.DELIBERATE))
def test_each_silenced_warning_is_emitted_where_featurepipe_uses_its_api(emitted, api):
    category, message = featurepipe.defs.DELIBERATE[api]
    matching = [
        w
        for w in emitted
        if issubclass(w.category, category) and str(w.message).startswith(message)
    ]
    assert matching, f"{api}: no {category.__name__} starting {message!r} in {emitted}"


def test_featurepipes_uses_emit_no_other_warning(emitted):
    silenced = featurepipe.defs.DELIBERATE.values()
    others = [
        w
        for w in emitted
        if not any(
            issubclass(w.category, category) and str(w.message).startswith(message)
            for category, message in silenced
        )
    ]
    assert not others, others


def test_with_warnings_as_errors_building_the_definitions_raises_nothing():
    with warnings.catch_warnings():
        featurepipe_filters_only()
        for use in USES:
            use()


@pytest.mark.parametrize("warning", OTHERS, ids=lambda w: type(w).__name__)
def test_any_other_lifecycle_warning_still_raises(warning):
    with warnings.catch_warnings():
        featurepipe_filters_only()
        with pytest.raises(type(warning), match=str(warning)):
            warnings.warn(warning, stacklevel=1)


@pytest.mark.slow
def test_a_fresh_interpreter_loads_the_definitions_silently(tmp_path):
    """What a user's command does: import featurepipe.definitions with -W error."""
    code = "import featurepipe.definitions"
    proc = run([str(VENV_BIN / "python"), "-W", "error", "-c", code], cwd=tmp_path, env=clean_env())
    assert proc.stderr == ""


def test_the_readme_lists_each_silenced_api():
    text = README.read_text()
    section = text.split("### Dagster APIs in beta or preview", 1)[1].split("\n#", 1)[0]
    for api in featurepipe.defs.DELIBERATE:
        assert f"`{api}`" in section, api
