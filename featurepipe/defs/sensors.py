"""A sensor on the raw bucket: a new or replaced raw file runs its day."""

import json

import dagster as dg

from featurepipe.defs.jobs import featurepipe_job
from featurepipe.defs.partitions import daily_partitions
from featurepipe.defs.resources import StorageResource
from featurepipe.storage.keys import raw_key_date

RAW_PREFIX = "user_events_"


@dg.sensor(
    job=featurepipe_job,
    minimum_interval_seconds=60,
    description="Lists the raw bucket; a new file, or a replaced one (new ETag), requests a run "
    "of exactly that day's partition. Run keys are key+ETag, so a file never triggers twice.",
)
def raw_file_sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    bucket = storage.raw_bucket
    first_day = daily_partitions.start.date()
    requests, ignored, early = [], [], []
    for info in storage.store.list(bucket, prefix=RAW_PREFIX):
        if seen.get(info.key) == info.etag:
            continue
        day = raw_key_date(info.key)
        if day is None or day < first_day:
            ignored.append(info.key)
            seen[info.key] = info.etag
            continue
        if not daily_partitions.has_partition_key(day.isoformat()):
            early.append(info.key)  # its day has not ended: look again on a later tick
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"{info.key}:{info.etag}",
                partition_key=day.isoformat(),
                tags={"featurepipe/raw_key": info.key, "featurepipe/raw_etag": info.etag},
            )
        )
        seen[info.key] = info.etag
    if ignored:
        context.log.info(
            f"sensor=raw_file_sensor action=ignore bucket={bucket} keys={','.join(ignored)}"
            " reason=not user_events_YYYYMMDD.csv or before the first partition"
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
