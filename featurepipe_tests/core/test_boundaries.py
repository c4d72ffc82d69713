"""featurepipe.core and featurepipe.storage must work without Dagster: only defs/ may import it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import featurepipe

PACKAGE = Path(featurepipe.__file__).parent
DAGSTER_FREE = ("core", "storage")
# Inside featurepipe, a Dagster-free module may import only these (and so nothing of defs/).
ALLOWED_INTERNAL = ("featurepipe.core", "featurepipe.storage")


def imported_modules(source: str, module: str) -> set[str]:
    """Absolute names of the modules a source file imports, at any depth of its code."""
    found = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from ..defs import y
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def forbidden(names: set[str]) -> set[str]:
    bad = {n for n in names if n.split(".")[0] == "dagster" or n.startswith("dagster_")}
    bad |= {
        n
        for n in names
        if n.split(".")[0] == "featurepipe"
        and n != "featurepipe"
        and not n.startswith(ALLOWED_INTERNAL)
    }
    return bad


def dagster_free_sources() -> list[tuple[str, Path]]:
    modules = []
    for sub in DAGSTER_FREE:
        for path in sorted((PACKAGE / sub).rglob("*.py")):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = (*parts[:-1], "__init__")
            modules.append((".".join(parts), path))
    return modules


def test_the_checker_sees_every_kind_of_import():
    source = (
        "import dagster\n"
        "from dagster_aws.s3 import S3Resource\n"
        "def f():\n"
        "    from ..defs import assets\n"
        "    importlib.import_module('dagster')\n"
        "from featurepipe.definitions import defs\n"
        "from . import reading\n"
        "import numpy\n"
    )
    names = imported_modules(source, "featurepipe.core.x")
    assert forbidden(names) == {
        "dagster",
        "dagster_aws.s3",
        "dagster_aws.s3.S3Resource",
        "featurepipe.defs",
        "featurepipe.defs.assets",
        "featurepipe.definitions",
        "featurepipe.definitions.defs",
    }
    assert "featurepipe.core.reading" in names


def test_core_and_storage_sources_import_no_dagster():
    sources = dagster_free_sources()
    assert {m for m, _ in sources} >= {
        "featurepipe.core.validation",
        "featurepipe.core.reading.__init__",
        "featurepipe.core.reading.tap",
        "featurepipe.storage.objects",
    }
    offenders = {
        module: sorted(forbidden(imported_modules(path.read_text(), module)))
        for module, path in sources
    }
    assert {m: names for m, names in offenders.items() if names} == {}


# Slow: a fresh interpreter; the source scan above holds the same line in the fast loop.
@pytest.mark.slow
def test_importing_core_and_storage_loads_no_dagster():
    """The same, as Python sees it: import every module in a fresh interpreter."""
    modules = [m.removesuffix(".__init__") for m, _ in dagster_free_sources()]
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster')"
        " or m.startswith('featurepipe.defs') or m == 'featurepipe.definitions')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(result.stdout) == []
