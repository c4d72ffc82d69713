"""Each asset, check and step name is declared once (`featurepipe/defs/names.py`, the tables'
in `core/columns.py`, a derived table's own checks where it is declared) and imported
everywhere else: a name written out again as a string literal fails here."""

import ast
from pathlib import Path

import featurepipe
from featurepipe.defs import names
from featurepipe.defs.derived import DERIVED
from featurepipe.defs.names import GROUP, LEGACY, QUARANTINE_RATIO, RAW, STEP, VALIDATED_SCHEMA

ROOT = Path(featurepipe.__file__).parent
DECLARED_IN = {
    "defs/names.py",
    "core/columns.py",
    "defs/schema_checks.py",  # pandera_schema, the name every table's schema check has
    "defs/derived.py",  # each derived table's own checks
}
NAMES = {
    GROUP,
    STEP,
    RAW.path[-1],
    LEGACY.path[-1],
    names.VALIDATED.path[-1],
    names.REJECTED.path[-1],
    QUARANTINE_RATIO.name,
    VALIDATED_SCHEMA.name,
    *(t.key.path[-1] for t in DERIVED),
    *(name for t in DERIVED for name in t.checks),
}


def literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_names_are_written_out_only_where_they_are_declared():
    again = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for path in sorted(ROOT.rglob("*.py"))
        if path.relative_to(ROOT).as_posix() not in DECLARED_IN
        for line, value in literals(path)
        if value in NAMES
    ]
    assert again == []


def test_the_test_sees_a_name_written_out(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text('KEY = "validated_events"\n')
    assert [value for _, value in literals(planted) if value in NAMES] == ["validated_events"]
