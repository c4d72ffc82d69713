"""The raw-bucket sensor against real stored files, on local buckets and on an S3 server."""

import contextlib
import datetime as dt
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pytest

from featurepipe.definitions import IN_PROCESS_BY_DEFAULT, build
from featurepipe.defs import records, sensors
from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.io_managers import RawFileIOManager
from featurepipe.defs.names import RAW
from featurepipe.defs.partitions import daily_partitions
from featurepipe.defs.sensors import raw_file_sensor
from featurepipe.settings import Settings
from featurepipe.storage.objects import S3Store
from featurepipe_tests.automation.sensor_support import queue
from featurepipe_tests.conftest import RAW_BUCKET, csv_bytes
from featurepipe_tests.defs.support import RANGE_END, RANGE_START

ROW = "2025-11-19T00:00:01Z,7,s1,click,ios,US,1,2.5,,10"
PARTITIONS = daily_partitions(Settings().start_date)
FIRST_DAY = PARTITIONS.start.date()


def key_for(day: dt.date) -> str:
    return f"user_events_{day:%Y%m%d}.csv"


def put(storage, key: str, data: bytes) -> str:
    """Store an object the way the pipeline does and return its ETag as listed."""
    with storage.store.staged(RAW_BUCKET, key) as path:
        path.write_bytes(data)
    return storage.store.require(RAW_BUCKET, key).etag


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


LOG = Collect()


@pytest.fixture(autouse=True)
def clear_log():
    LOG.lines.clear()


def evaluate(
    storage,
    cursor: str | None = None,
    instance: dg.DagsterInstance | None = None,
    partitions: dg.DailyPartitionsDefinition = PARTITIONS,
    days_per_run: int | None = None,
) -> dg.SensorResult:
    """One tick against `instance` (by default one with nothing materialized); what the sensor
    logs goes to LOG (the sensor's logger does not propagate)."""
    with contextlib.ExitStack() as stack:
        if instance is None:
            instance = stack.enter_context(dg.DagsterInstance.ephemeral())
        context = stack.enter_context(
            dg.build_sensor_context(
                cursor=cursor, resources={"storage": storage}, instance=instance
            )
        )
        context.log.addHandler(LOG)
        result = raw_file_sensor(partitions, days_per_run)(context)
    assert isinstance(result, dg.SensorResult)
    return result


def recent(cursor: str) -> dict[str, str]:
    """The files the cursor remembers, key to ETag."""
    return json.loads(cursor)["recent"]


def swept_long_ago(cursor: str) -> str:
    """The cursor as if its last full listing was more than an hour ago: a sweep is due."""
    state = json.loads(cursor)
    state["swept"] = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
    return json.dumps(state)


def range_of(request: dg.RunRequest) -> tuple[str, str]:
    """The first and last day a request runs."""
    if request.partition_key:
        return request.partition_key, request.partition_key
    return request.tags[RANGE_START], request.tags[RANGE_END]


def put_many(storage, request, days: list[dt.date]) -> None:
    """A file for each day, as fast as the backend allows."""
    store = storage.store
    if isinstance(store, S3Store):
        request.addfinalizer(
            lambda: empty_s3_bucket(store.client, RAW_BUCKET)
        )  # plain PUTs, a few at a time: much faster than one by one
        with ThreadPoolExecutor(max_workers=8) as pool:
            body = csv_bytes(ROW)
            puts = [
                pool.submit(store.client.put_object, Bucket=RAW_BUCKET, Key=key_for(d), Body=body)
                for d in days
            ]
            for done in puts:
                done.result()
    else:  # plain writes: a staged one looks for leftovers beside its target each time
        for day in days:
            path = store.path(RAW_BUCKET, key_for(day))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(csv_bytes(ROW))


def empty_s3_bucket(client, bucket: str) -> None:
    """Delete every object, page by page (the shared fixture only clears the first page)."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})


def logged(action: str) -> list[str]:
    return [line for line in LOG.lines if f"sensor=raw_file_sensor action={action} " in line]


def test_new_file_requests_its_day_once(storage):
    etag = put(storage, "user_events_20251119.csv", csv_bytes(ROW))
    first = evaluate(storage)
    assert len(first.run_requests) == 1
    request = first.run_requests[0]
    assert request.partition_key == "2025-11-19"
    assert request.run_key == f"user_events_20251119.csv:{etag}"
    assert request.tags["featurepipe/raw_key"] == "user_events_20251119.csv"
    assert request.tags["featurepipe/raw_etag"] == etag
    assert recent(first.cursor) == {"user_events_20251119.csv": etag}

    again = evaluate(storage, first.cursor)
    assert again.run_requests == []
    assert recent(again.cursor) == recent(first.cursor)


def test_replaced_file_requests_its_day_again(storage):
    old = put(storage, "user_events_20251119.csv", csv_bytes(ROW))
    first = evaluate(storage)
    new = put(storage, "user_events_20251119.csv", csv_bytes(ROW, ROW.replace("s1", "s2")))
    assert new != old

    second = evaluate(storage, first.cursor)
    assert [(r.partition_key, r.run_key) for r in second.run_requests] == [
        ("2025-11-19", f"user_events_20251119.csv:{new}")
    ]
    assert recent(second.cursor) == {"user_events_20251119.csv": new}
    assert evaluate(storage, second.cursor).run_requests == []


def test_only_changed_files_are_requested(storage):
    put(storage, "user_events_20251118.csv", csv_bytes(ROW))
    put(storage, "user_events_20251119.csv", csv_bytes(ROW))
    first = evaluate(storage)
    # Two days in a row: one run of both.
    assert [range_of(r) for r in first.run_requests] == [("2025-11-18", "2025-11-19")]

    etag = put(storage, "user_events_20251120.csv", csv_bytes(ROW))
    second = evaluate(storage, first.cursor)
    assert [r.run_key for r in second.run_requests] == [f"user_events_20251120.csv:{etag}"]


def test_other_keys_and_days_before_the_partitions_are_ignored_and_logged(storage):
    before = key_for(FIRST_DAY - dt.timedelta(days=1))
    junk = ["user_events_2025111.csv", "user_events_20251340.csv", "user_events_20251119.csv.bak"]
    for key in ["notes.txt", "user_events/20251119.csv", before, *junk]:
        put(storage, key, csv_bytes(ROW))
    etag = put(storage, "user_events_20251119.csv", csv_bytes(ROW))

    result = evaluate(storage)
    assert [r.run_key for r in result.run_requests] == [f"user_events_20251119.csv:{etag}"]
    (ignored,) = logged("ignore")
    keys = ignored.split(" keys=")[1].split(" ")[0].split(",")
    assert sorted(keys) == sorted([before, *junk])
    assert "notes.txt" not in ignored  # not even listed: it lacks the raw prefix
    # Ignored keys are neither requested nor logged again until the next sweep lists them.
    LOG.lines.clear()
    again = evaluate(storage, result.cursor)
    assert again.run_requests == []
    assert not logged("ignore")
    assert evaluate(storage, swept_long_ago(again.cursor)).run_requests == []
    (ignored,) = logged("ignore")
    assert sorted(ignored.split(" keys=")[1].split(" ")[0].split(",")) == sorted([before, *junk])


def test_a_day_that_has_not_ended_waits(storage):
    today = dt.datetime.now(dt.UTC).date()
    yesterday = today - dt.timedelta(days=1)
    pending = [key_for(today), key_for(today + dt.timedelta(days=1))]
    for key in pending:
        put(storage, key, csv_bytes(ROW))
    etag = put(storage, key_for(yesterday), csv_bytes(ROW))

    result = evaluate(storage)
    assert [r.run_key for r in result.run_requests] == [f"{key_for(yesterday)}:{etag}"]
    assert set(recent(result.cursor)) == {key_for(yesterday)}  # today's: looked at next tick
    (waiting,) = logged("wait")
    assert all(key in waiting for key in pending)

    LOG.lines.clear()
    again = evaluate(storage, result.cursor)
    assert again.run_requests == []
    assert logged("wait")


def test_each_request_is_logged(storage):
    put(storage, "user_events_20251119.csv", csv_bytes(ROW))
    evaluate(storage)
    (line,) = logged("request")
    assert "key=user_events_20251119.csv" in line
    assert "partition=2025-11-19" in line


# Slow: hundreds of objects listed page by page.
@pytest.mark.slow
def test_many_files_across_list_pages_are_requested_as_ranges_once(storage, request):
    # 1100 ended days need a start earlier than the default partitions'.
    early = daily_partitions("2020-01-01")
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=n) for n in range(1100)]
    put_many(storage, request, days)
    listed = {info.key: info.etag for info in storage.store.list(RAW_BUCKET)}
    assert len(listed) == 1100  # more than one S3 list page (1000 keys)

    result = evaluate(storage, partitions=early, days_per_run=400)
    assert [range_of(r) for r in result.run_requests] == [
        (days[0].isoformat(), days[399].isoformat()),
        (days[400].isoformat(), days[799].isoformat()),
        (days[800].isoformat(), days[1099].isoformat()),
    ]
    assert recent(result.cursor) == {key_for(d): listed[key_for(d)] for d in days[-7:]}
    assert evaluate(storage, result.cursor, partitions=early).run_requests == []


def materialize_raw(storage, instance: dg.DagsterInstance, first: str, last: str) -> None:
    """raw_events for the days first..last in one run, as a single-run backfill does it."""
    resources = {"storage": storage, "raw_io_manager": RawFileIOManager(storage=storage)}
    tags = {RANGE_START: first, RANGE_END: last}
    pipeline = [build_daily_events()]
    result = dg.materialize(
        pipeline, selection=[RAW], resources=resources, instance=instance, tags=tags
    )
    assert result.success


def test_first_tick_skips_files_whose_etag_raw_events_recorded(storage, monkeypatch):
    """The sensor switched on over a bucket whose days are already materialized launches
    nothing for them; a replaced file and a new one each run once."""
    # Two days per query and one record per page: the event log is read in several of each.
    monkeypatch.setattr(records, "DAYS_PER_QUERY", 2)
    monkeypatch.setattr(records, "RECORDS_PER_PAGE", 1)
    for day in ("20251117", "20251118", "20251119"):
        put(storage, f"user_events_{day}.csv", csv_bytes(ROW))
    with dg.DagsterInstance.ephemeral() as instance:
        materialize_raw(storage, instance, "2025-11-17", "2025-11-19")
        replaced = put(storage, "user_events_20251118.csv", csv_bytes(ROW, ROW))
        new = put(storage, "user_events_20251120.csv", csv_bytes(ROW))

        first = evaluate(storage, instance=instance)
        assert sorted((r.partition_key, r.run_key) for r in first.run_requests) == [
            ("2025-11-18", f"user_events_20251118.csv:{replaced}"),
            ("2025-11-20", f"user_events_20251120.csv:{new}"),
        ]
        listed = {info.key: info.etag for info in storage.store.list(RAW_BUCKET)}
        assert recent(first.cursor) == listed  # the skipped files are remembered too
        (skipped,) = logged("skip")
        assert "keys=user_events_20251117.csv,user_events_20251119.csv " in skipped

        assert evaluate(storage, first.cursor, instance).run_requests == []


def test_a_day_run_again_by_hand_is_judged_by_its_latest_materialization(storage):
    """A day materialized, its file replaced and the day materialized again (say by hand)
    before the sensor looks: the latest ETag counts, and nothing is launched."""
    key = "user_events_20251119.csv"
    put(storage, key, csv_bytes(ROW))
    with dg.DagsterInstance.ephemeral() as instance:
        materialize_raw(storage, instance, "2025-11-19", "2025-11-19")
        old = json.dumps({"user_events_20251119.csv": storage.store.require(RAW_BUCKET, key).etag})
        put(storage, key, csv_bytes(ROW, ROW))
        materialize_raw(storage, instance, "2025-11-19", "2025-11-19")
        assert evaluate(storage, old, instance).run_requests == []
        # Replaced once more and not yet run: now it is requested.
        newest = put(storage, key, csv_bytes(ROW, ROW, ROW))
        (request,) = evaluate(storage, old, instance).run_requests
        assert request.run_key == f"{key}:{newest}"


def test_a_file_replaced_or_landed_long_after_its_day_is_found_by_the_sweep(storage):
    """Older than the recent days, a replaced file and a late one are not listed by every tick;
    the next sweep requests exactly their days, and not the days whose runs it can see."""
    days = [dt.date(2025, 10, 1) + dt.timedelta(days=n) for n in range(20)]
    missing = days[4]
    for day in days:
        if day != missing:
            put(storage, key_for(day), csv_bytes(ROW))
    with dg.DagsterInstance.ephemeral() as instance:
        first = evaluate(storage, instance=instance)
        # The missing day splits the days into two ranges.
        assert [range_of(r) for r in first.run_requests] == [
            ("2025-10-01", "2025-10-04"),
            ("2025-10-06", "2025-10-20"),
        ]
        # A run created later than this covers a file (S3 dates files to the second).
        time.sleep(sensors.COVERING_AFTER.total_seconds())
        queue(instance, first.run_requests)

        replaced = put(storage, key_for(days[1]), csv_bytes(ROW, ROW))
        late = put(storage, key_for(missing), csv_bytes(ROW))
        LOG.lines.clear()
        assert evaluate(storage, first.cursor, instance).run_requests == []  # not a sweep
        assert not logged("skip")

        sweep = evaluate(storage, swept_long_ago(first.cursor), instance)
        assert [(r.partition_key, r.run_key) for r in sweep.run_requests] == [
            ("2025-10-02", f"{key_for(days[1])}:{replaced}"),
            ("2025-10-05", f"{key_for(missing)}:{late}"),
        ]
        # The recent days are judged by the cursor; the other older days by their runs.
        (covered,) = logged("skip")
        older = [key_for(d) for d in days[:13] if d not in (days[1], missing)]
        assert f" keys={','.join(older[:10])},…+{len(older) - 10} " in covered  # 10 named
        # Judged again from the same cursor, the same files get the same run keys.
        again = evaluate(storage, swept_long_ago(first.cursor), instance)
        assert [r.run_key for r in again.run_requests] == [r.run_key for r in sweep.run_requests]
        time.sleep(sensors.COVERING_AFTER.total_seconds())
        queue(instance, sweep.run_requests)
        assert evaluate(storage, swept_long_ago(sweep.cursor), instance).run_requests == []


def test_the_definitions_give_the_sensor_the_days_per_run_setting(storage):
    """FEATUREPIPE_BACKFILL_DAYS_PER_RUN bounds the sensor's ranges as it bounds a backfill's."""
    for day in ("20251117", "20251118", "20251119"):
        put(storage, f"user_events_{day}.csv", csv_bytes(ROW))
    defs = build(Settings(backfill_days_per_run=2), IN_PROCESS_BY_DEFAULT)
    sensor = defs.resolve_sensor_def(sensors.SENSOR_NAME)
    with (
        dg.DagsterInstance.ephemeral() as instance,
        dg.build_sensor_context(resources={"storage": storage}, instance=instance) as context,
    ):
        result = sensor(context)
    assert [range_of(r) for r in result.run_requests] == [
        ("2025-11-17", "2025-11-18"),
        ("2025-11-19", "2025-11-19"),
    ]
