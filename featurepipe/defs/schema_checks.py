"""Check outcomes as one small typed value, and the `pandera_schema` outcomes: from the frames a
run validated, from a failure pandera raised, or from a stored table read back and validated
again."""

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandera.pandas as pa

from featurepipe.core.schemas import CHECK
from featurepipe.storage.tables import iter_frames

FAILURE_CASES_SHOWN = 20
SCHEMA_CHECK = "pandera_schema"  # every table's pandera check has this name


@dataclass(frozen=True)
class CheckOutcome:
    """What a check found for a day, shaped like Dagster's AssetCheckResult; the pipeline step
    alone turns it into an event."""

    passed: bool
    metadata: dict = field(default_factory=dict)
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
    description: str | None = None


def schema_check(asset: dg.AssetKey) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(asset, SCHEMA_CHECK)


def schema_pass(schema: type[pa.DataFrameModel], rows: int) -> CheckOutcome:
    return CheckOutcome(True, {"schema": schema.__name__, "rows_checked": rows, "failure_cases": 0})


def schema_failure(
    schema: type[pa.DataFrameModel], *errors: pa.errors.SchemaErrors
) -> CheckOutcome:
    """All failing cases counted, those of the first failure shown."""
    shown = errors[0].failure_cases.head(FAILURE_CASES_SHOWN).astype(str).to_markdown(index=False)
    return CheckOutcome(
        False,
        {
            "schema": schema.__name__,
            "failure_cases": sum(len(err.failure_cases) for err in errors),
            "failures": dg.MetadataValue.md(shown),
        },
    )


def validate_stored(schema: type[pa.DataFrameModel], path: Path) -> CheckOutcome:
    """A stored table checked frame by frame."""
    failures, rows = [], 0
    for frame in iter_frames(path):
        rows += len(frame)
        try:
            schema.validate(frame, **CHECK)
        except pa.errors.SchemaErrors as err:
            failures.append(err)
    if not failures:
        return schema_pass(schema, rows)
    return schema_failure(schema, *failures)
