"""Dagster's own cost of featurepipe's shape, for the benchmark: the import floor's libraries and
one daily step with featurepipe's four assets and five checks that reads nothing and writes
nothing, but records what featurepipe's step records for a header-only day (a materialization
per asset and a result per check on the day's partition, two log lines, each check's output),
run in process like featurepipe's. featurepipe's start-up less this one's is featurepipe's own:
its imports, reading the raw file, writing three tables and looking up what it records against.

Plain Dagster, not featurepipe's specs: importing those would count featurepipe's imports here.
"""

import boto3  # noqa: F401
import dagster as dg
import pandas  # noqa: F401
import pandera.pandas  # noqa: F401
import pyarrow.csv
import pyarrow.parquet  # noqa: F401

partitions = dg.DailyPartitionsDefinition(start_date="2025-01-01")
RAW, VALIDATED, REJECTED, FEATURES = (
    dg.AssetKey(name)
    for name in ("raw_events", "validated_events", "rejected_events", "event_features")
)
CHECKS = [
    dg.AssetCheckSpec("quarantine_ratio", asset=VALIDATED, blocking=True),
    dg.AssetCheckSpec("pandera_schema", asset=VALIDATED),
    dg.AssetCheckSpec("pandera_schema", asset=FEATURES),
    dg.AssetCheckSpec("row_sum_not_null", asset=FEATURES),
    dg.AssetCheckSpec("one_row_per_valid_event", asset=FEATURES),
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(RAW),
        dg.AssetSpec(VALIDATED, deps=[RAW]),
        dg.AssetSpec(REJECTED, deps=[RAW]),
        dg.AssetSpec(FEATURES, deps=[VALIDATED]),
    ],
    check_specs=CHECKS,
    can_subset=True,
    partitions_def=partitions,
)
def daily_events(context: dg.AssetExecutionContext):
    day = context.partition_key
    for asset in (RAW, VALIDATED, REJECTED, FEATURES):
        yield dg.AssetMaterialization(asset_key=asset, partition=day, metadata={"rows": 0})
    for check in CHECKS:
        yield dg.AssetCheckEvaluation(
            asset_key=check.asset_key, check_name=check.name, partition=day, passed=True
        )
    context.log.info(f"partition={day} day=1/1 outcome=stored")
    context.log.info("summary: 1 day(s): 1 stored")
    for name in context.assets_def.check_specs_by_output_name:
        yield dg.Output(None, output_name=name)


defs = dg.Definitions(assets=[daily_events], executor=dg.in_process_executor)
