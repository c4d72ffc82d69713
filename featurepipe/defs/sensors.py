"""A sensor on the raw bucket: a new or replaced raw file runs its day."""

import json

import dagster as dg

from featurepipe.defs.jobs import featurepipe_job
from featurepipe.defs.resources import StorageResource
from featurepipe.storage.keys import raw_key_date

RAW_PREFIX = "user_events_"
RAW_EVENTS = dg.AssetKey("raw_events")
# Days looked up in the event log per query (an SQL IN list) and records read per page.
DAYS_PER_QUERY = 500
RECORDS_PER_PAGE = 1000


def raw_file_sensor(partitions: dg.DailyPartitionsDefinition) -> dg.SensorDefinition:
    """The sensor for the days of `partitions`."""

    @dg.sensor(
        job=featurepipe_job,
        minimum_interval_seconds=60,
        description="Lists the raw bucket; a new file, or a replaced one (new ETag), requests a "
        "run of exactly that day's partition, unless raw_events already recorded that ETag for "
        "the day. Run keys are key+ETag, so a file never triggers twice.",
    )
    def raw_file_sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        bucket = storage.raw_bucket
        first_day = partitions.start.date()
        candidates, requests, ignored, early, done = [], [], [], [], []
        for info in storage.store.list(bucket, prefix=RAW_PREFIX):
            if seen.get(info.key) == info.etag:
                continue
            day = raw_key_date(info.key)
            if day is None or day < first_day:
                ignored.append(info.key)
                seen[info.key] = info.etag
                continue
            if not partitions.has_partition_key(day.isoformat()):
                early.append(info.key)  # its day has not ended: look again on a later tick
                continue
            candidates.append((info, day.isoformat()))
        # A file the cursor has not seen may have been materialized already (the sensor was off,
        # or the schedule or a person ran its day): what raw_events recorded decides.
        recorded = recorded_etags(context.instance, sorted({day for _, day in candidates}))
        for info, day in candidates:
            seen[info.key] = info.etag
            if recorded.get(day) == info.etag:
                done.append(info.key)
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"{info.key}:{info.etag}",
                    partition_key=day,
                    tags={"featurepipe/raw_key": info.key, "featurepipe/raw_etag": info.etag},
                )
            )
        if ignored:
            context.log.info(
                f"sensor=raw_file_sensor action=ignore bucket={bucket} keys={','.join(ignored)}"
                " reason=not user_events_YYYYMMDD.csv or before the first partition"
            )
        if done:
            context.log.info(
                f"sensor=raw_file_sensor action=skip bucket={bucket} keys={','.join(done)}"
                " reason=raw_events already materialized this ETag"
            )
        if early:
            context.log.info(
                f"sensor=raw_file_sensor action=wait bucket={bucket} keys={','.join(early)}"
                " reason=the day has not ended yet"
            )
        for request in requests:
            context.log.info(
                f"sensor=raw_file_sensor action=request bucket={bucket}"
                f" key={request.tags['featurepipe/raw_key']} partition={request.partition_key}"
            )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))

    return raw_file_sensor


def recorded_etags(instance: dg.DagsterInstance, days: list[str]) -> dict[str, str | None]:
    """The ETag that the latest materialization of raw_events recorded, for each day that has
    one; newest records come first, so the first seen for a day is its latest."""
    recorded: dict[str, str | None] = {}
    for start in range(0, len(days), DAYS_PER_QUERY):
        batch = days[start : start + DAYS_PER_QUERY]
        records_filter = dg.AssetRecordsFilter(asset_key=RAW_EVENTS, asset_partitions=batch)
        cursor = None
        while True:
            page = instance.fetch_materializations(
                records_filter, limit=RECORDS_PER_PAGE, cursor=cursor
            )
            for record in page.records:
                if record.partition_key not in recorded:
                    etag = record.asset_materialization.metadata.get("etag")
                    recorded[record.partition_key] = etag.value if etag else None
            if not page.has_more or all(day in recorded for day in batch):
                break
            cursor = page.cursor
    return recorded
