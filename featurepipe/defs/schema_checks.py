"""Results of a table's `pandera_schema` check: from the frames a run validated, from a failure
pandera raised, or from a stored table read back and validated again."""

from pathlib import Path

import dagster as dg
import pandera.pandas as pa

from featurepipe.core.schemas import CHECK
from featurepipe.storage.tables import iter_frames

FAILURE_CASES_SHOWN = 20


def schema_pass(schema: type[pa.DataFrameModel], rows: int) -> dict:
    return {
        "passed": True,
        "metadata": {"schema": schema.__name__, "rows_checked": rows, "failure_cases": 0},
    }


def schema_failure(schema: type[pa.DataFrameModel], err: pa.errors.SchemaErrors) -> dict:
    cases = err.failure_cases
    shown = cases.head(FAILURE_CASES_SHOWN).astype(str).to_markdown(index=False)
    return {
        "passed": False,
        "metadata": {
            "schema": schema.__name__,
            "failure_cases": len(cases),
            "failures": dg.MetadataValue.md(shown),
        },
    }


def validate_stored(schema: type[pa.DataFrameModel], path: Path) -> dict:
    """A stored table checked frame by frame; all failing cases counted, the first shown."""
    failures, rows = [], 0
    for frame in iter_frames(path):
        rows += len(frame)
        try:
            schema.validate(frame, **CHECK)
        except pa.errors.SchemaErrors as err:
            failures.append(err)
    if not failures:
        return schema_pass(schema, rows)
    result = schema_failure(schema, failures[0])
    result["metadata"]["failure_cases"] = sum(len(f.failure_cases) for f in failures)
    return result
