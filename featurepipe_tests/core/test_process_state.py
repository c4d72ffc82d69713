"""Tests run the product in the state the CLI runs it: importing featurepipe, or the tests'
support modules, changes no process-wide setting a library's limits depend on."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import featurepipe
import featurepipe_tests

STATE = (
    "import csv, locale, sys\n"
    "def state():\n"
    "    return [csv.field_size_limit(), sys.get_int_max_str_digits(),"
    " locale.setlocale(locale.LC_ALL, None)]\n"
)


def modules() -> list[str]:
    """Every featurepipe module, and every module of featurepipe_tests but the tests."""
    found = []
    for package in (featurepipe, featurepipe_tests):
        path = [str(Path(package.__file__).parent)]
        for info in pkgutil.walk_packages(path, prefix=f"{package.__name__}."):
            if not info.name.rsplit(".", 1)[-1].startswith("test_"):
                found.append(info.name)
    return found


def test_the_module_list_holds_the_product_and_the_support_modules():
    names = modules()
    assert {
        "featurepipe.core.reference",
        "featurepipe.core.reading.header",
        "featurepipe.definitions",
        "featurepipe_tests.core.support",
        "featurepipe_tests.defs.support",
    } <= set(names)
    assert not [n for n in names if ".test_" in n]


def printed_last(script: str) -> str:
    """The last line `script` prints in a fresh interpreter, as the CLI's process starts."""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()[-1]


def test_importing_every_module_leaves_process_state_alone():
    """csv's field limit, Python's int digit limit and the locale, in a fresh interpreter,
    before and after importing every module."""
    script = (
        f"{STATE}"
        "import importlib, json\n"
        "before = state()\n"
        f"for name in {modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps([before, state()]))\n"
    )
    before, after = json.loads(printed_last(script))
    assert after == before


def test_importing_the_product_filters_no_warning_the_cli_shows():
    """The CLI loads featurepipe.definitions (its filters: featurepipe.defs.DELIBERATE);
    importing every other featurepipe module after it adds no filter."""
    product = [name for name in modules() if name.startswith("featurepipe.")]
    script = (
        "import importlib, warnings\n"
        "import featurepipe.definitions\n"
        "cli = [repr(f) for f in warnings.filters]\n"
        f"for name in {product!r}:\n"
        "    importlib.import_module(name)\n"
        "print([repr(f) for f in warnings.filters if repr(f) not in cli])\n"
    )
    assert printed_last(script) == "[]"
