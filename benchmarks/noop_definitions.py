"""Dagster's own start-up, for the benchmark: the import floor's libraries and one daily
asset that does nothing, run in process like featurepipe's. What `dagster asset materialize`
costs for it is what no project on this command can go below."""

import boto3  # noqa: F401
import dagster as dg
import pandas  # noqa: F401
import pandera.pandas  # noqa: F401
import pyarrow.csv
import pyarrow.parquet  # noqa: F401


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2025-01-01"))
def nothing() -> None:
    return None


defs = dg.Definitions(assets=[nothing], executor=dg.in_process_executor)
