"""What the instance has recorded for days of an asset, read the way every part of the shell
needs it: the latest materialization of each day, in batches of days, page by page."""

import dagster as dg

# Days looked up per query (an SQL IN list), and records read per page.
DAYS_PER_QUERY = 500
RECORDS_PER_PAGE = 1000

# Dagster's run tags featurepipe reads or sets. Public names, written in Dagster's docs; the
# test of dagster_internals holds them to Dagster's own constants.
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARENT_RUN_TAG = "dagster/parent_run_id"
ROOT_RUN_TAG = "dagster/root_run_id"
SENSOR_NAME_TAG = "dagster/sensor_name"
WILL_RETRY_TAG = "dagster/will_retry"


def latest_materializations(
    instance: dg.DagsterInstance, asset: dg.AssetKey, days: list[str]
) -> dict[str, dg.EventLogRecord]:
    """{day: its latest materialization of `asset`} for the days that have one."""
    latest: dict[str, dg.EventLogRecord] = {}
    for start in range(0, len(days), DAYS_PER_QUERY):
        batch = days[start : start + DAYS_PER_QUERY]
        records_filter = dg.AssetRecordsFilter(asset_key=asset, asset_partitions=batch)
        cursor = None
        while True:  # newest first: a day's first record is its latest
            page = instance.fetch_materializations(
                records_filter, limit=RECORDS_PER_PAGE, cursor=cursor
            )
            for record in page.records:
                latest.setdefault(record.partition_key, record)
            if not page.has_more or all(day in latest for day in batch):
                break
            cursor = page.cursor
    return latest
