"""Materialization metadata a person reads in the UI: counts, schema, a preview."""

import dagster as dg
import pandas as pd

PREVIEW_ROWS = 5


def table_metadata(frame: pd.DataFrame, rows: int) -> dict[str, dg.MetadataValue]:
    """Row count, the column schema and a preview, from the table's first rows."""
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name, str(dtype)) for name, dtype in frame.dtypes.items()]
    )
    return {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "dagster/column_schema": dg.MetadataValue.table_schema(schema),
        "preview": dg.MetadataValue.md(frame.head(PREVIEW_ROWS).to_markdown(index=False)),
    }
