"""The raw-file sensor after its runs end: a day whose run failed is requested again, a
bounded number of times; a day whose run succeeded is not."""

import datetime as dt

import dagster as dg
import pytest

from featurepipe.defs import sensors
from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.io_managers import RawFileIOManager
from featurepipe.defs.names import RAW
from featurepipe.storage.objects import StorageError
from featurepipe_tests.automation.sensor_support import daemon_tags, queue
from featurepipe_tests.automation.test_sensor import (
    LOG,
    ROW,
    evaluate,
    key_for,
    logged,
    put,
    range_of,
)
from featurepipe_tests.conftest import csv_bytes

DAYS = [dt.date(2025, 11, 17), dt.date(2025, 11, 18), dt.date(2025, 11, 19)]


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch):
    monkeypatch.setattr(sensors, "RETRY_DELAY", dt.timedelta(0))


@pytest.fixture
def faults(local_storage, monkeypatch) -> set[str]:
    """Keys whose HEAD fails with a storage fault while they are in the set, as a storage
    outage would: the day fails and records nothing."""
    failing: set[str] = set()
    store_class = type(local_storage.store)
    head = store_class.head

    def faulty(self, bucket, key):
        if key in failing:
            raise StorageError(f"head_object: {self.uri(bucket, key)}: 503 SlowDown (injected)")
        return head(self, bucket, key)

    monkeypatch.setattr(store_class, "head", faulty)
    return failing


def launch(storage, instance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """Run a request's days through raw_events as the daemon would launch it, with its tags."""
    resources = {"storage": storage, "raw_io_manager": RawFileIOManager(storage=storage)}
    return dg.materialize(
        [build_daily_events()],
        selection=[RAW],
        resources=resources,
        instance=instance,
        tags=daemon_tags(request),
        partition_key=request.partition_key,
        raise_on_error=False,
    )


def test_only_the_day_that_failed_is_requested_again_until_it_is_given_up(local_storage, faults):
    etags = {day: put(local_storage, key_for(day), csv_bytes(ROW)) for day in DAYS}
    failing_day = DAYS[1]
    with dg.DagsterInstance.ephemeral() as instance:
        first = evaluate(local_storage, instance=instance)
        (whole,) = first.run_requests
        assert range_of(whole) == ("2025-11-17", "2025-11-19")
        faults.add(key_for(failing_day))
        assert not launch(local_storage, instance, whole).success  # the range ran its days

        # The two days that succeeded are not requested again; the one that failed is.
        cursor = first.cursor
        for attempt in range(2, sensors.MAX_ATTEMPTS + 1):
            tick = evaluate(local_storage, cursor, instance)
            (again,) = tick.run_requests
            assert again.partition_key == failing_day.isoformat()
            assert again.run_key == f"{key_for(failing_day)}:{etags[failing_day]}#{attempt}"
            assert again.tags["featurepipe/attempt"] == str(attempt)
            # Judged again from the same cursor, the same run key: the daemon launches it once.
            assert [r.run_key for r in evaluate(local_storage, cursor, instance).run_requests] == [
                again.run_key
            ]
            cursor = tick.cursor
            assert not launch(local_storage, instance, again).success

        LOG.lines.clear()
        last = evaluate(local_storage, cursor, instance)
        assert last.run_requests == []
        (gave_up,) = logged("give_up")
        assert f"keys={key_for(failing_day)} " in gave_up
        assert f"{sensors.MAX_ATTEMPTS} runs of this file failed" in gave_up
        LOG.lines.clear()
        assert evaluate(local_storage, last.cursor, instance).run_requests == []
        assert not logged("give_up")  # said once


def test_a_day_that_failed_once_and_then_succeeded_is_done(local_storage, faults):
    etag = put(local_storage, key_for(DAYS[0]), csv_bytes(ROW))
    with dg.DagsterInstance.ephemeral() as instance:
        first = evaluate(local_storage, instance=instance)
        (request,) = first.run_requests
        faults.add(key_for(DAYS[0]))
        assert not launch(local_storage, instance, request).success

        faults.clear()  # the outage is over
        second = evaluate(local_storage, first.cursor, instance)
        (again,) = second.run_requests
        assert again.run_key == f"{key_for(DAYS[0])}:{etag}#2"
        assert launch(local_storage, instance, again).success
        assert evaluate(local_storage, second.cursor, instance).run_requests == []


def test_a_run_that_succeeded_is_not_requested_again(local_storage):
    for day in DAYS:
        put(local_storage, key_for(day), csv_bytes(ROW))
    with dg.DagsterInstance.ephemeral() as instance:
        first = evaluate(local_storage, instance=instance)
        (whole,) = first.run_requests
        assert launch(local_storage, instance, whole).success
        second = evaluate(local_storage, first.cursor, instance)
        assert second.run_requests == []
        # Nor by a sweep: raw_events recorded each file's ETag.
        state = sensors.Cursor.load(second.cursor)
        state.swept -= sensors.SWEEP_EVERY
        assert evaluate(local_storage, state.dump(), instance).run_requests == []


def test_a_failed_day_whose_file_was_replaced_is_requested_as_the_new_file(local_storage, faults):
    put(local_storage, key_for(DAYS[0]), csv_bytes(ROW))
    with dg.DagsterInstance.ephemeral() as instance:
        first = evaluate(local_storage, instance=instance)
        faults.add(key_for(DAYS[0]))
        assert not launch(local_storage, instance, first.run_requests[0]).success
        faults.clear()
        new = put(local_storage, key_for(DAYS[0]), csv_bytes(ROW, ROW))
        (request,) = evaluate(local_storage, first.cursor, instance).run_requests
        assert request.run_key == f"{key_for(DAYS[0])}:{new}"  # a first attempt of a new file
        assert request.tags["featurepipe/attempt"] == "1"


def test_a_retry_waits_for_its_delay(local_storage, faults, monkeypatch):
    put(local_storage, key_for(DAYS[0]), csv_bytes(ROW))
    with dg.DagsterInstance.ephemeral() as instance:
        first = evaluate(local_storage, instance=instance)
        faults.add(key_for(DAYS[0]))
        assert not launch(local_storage, instance, first.run_requests[0]).success
        monkeypatch.setattr(sensors, "RETRY_DELAY", dt.timedelta(hours=1))
        waiting = evaluate(local_storage, first.cursor, instance)
        assert waiting.run_requests == []
        # The failed run is kept in view until it is due.
        monkeypatch.setattr(sensors, "RETRY_DELAY", dt.timedelta(0))
        (again,) = evaluate(local_storage, waiting.cursor, instance).run_requests
        assert again.tags["featurepipe/attempt"] == "2"


def test_the_range_of_a_request_runs_exactly_its_days(local_storage):
    """A range request is a run of its days through the job's range tags, as a single-run
    backfill is: each day recorded with its file's ETag."""
    etags = {day: put(local_storage, key_for(day), csv_bytes(ROW)) for day in DAYS}
    with dg.DagsterInstance.ephemeral() as instance:
        (whole,) = evaluate(local_storage, instance=instance).run_requests
        result = launch(local_storage, instance, whole)
        assert result.success
        recorded = sensors.recorded_etags(instance, [d.isoformat() for d in DAYS])
        assert recorded == {d.isoformat(): etags[d] for d in DAYS}
        assert whole.tags["featurepipe/raw_keys"] == f"{key_for(DAYS[0])}..{key_for(DAYS[-1])}"


def test_a_run_that_dagster_retries_is_left_to_its_retry(local_storage):
    """A failed run that Dagster's run retries will run again (`dagster/will_retry`) is not
    the sensor's to request again; the retry's own failure is."""
    etag = put(local_storage, key_for(DAYS[0]), csv_bytes(ROW))
    with dg.DagsterInstance.ephemeral() as instance:
        first = evaluate(local_storage, instance=instance)
        (request,) = first.run_requests
        (run,) = queue(instance, [request])
        instance.add_run_tags(run.run_id, {"dagster/will_retry": "true"})
        instance.report_run_failed(instance.get_run_by_id(run.run_id))
        second = evaluate(local_storage, first.cursor, instance)
        assert second.run_requests == []

        (retry,) = queue(instance, [request])  # Dagster's retry carries the run's tags
        instance.report_run_failed(retry)
        (again,) = evaluate(local_storage, second.cursor, instance).run_requests
        assert again.run_key == f"{key_for(DAYS[0])}:{etag}#2"


def test_a_failed_day_recorded_since_is_not_requested_again(local_storage, faults):
    """Another run that overlapped the failed one may have recorded the day meanwhile: what
    raw_events recorded still decides."""
    etag = put(local_storage, key_for(DAYS[0]), csv_bytes(ROW))
    with dg.DagsterInstance.ephemeral() as instance:
        first = evaluate(local_storage, instance=instance)
        faults.add(key_for(DAYS[0]))
        assert not launch(local_storage, instance, first.run_requests[0]).success
        instance.report_runless_asset_event(
            dg.AssetMaterialization(RAW, partition=DAYS[0].isoformat(), metadata={"etag": etag})
        )
        LOG.lines.clear()
        assert evaluate(local_storage, first.cursor, instance).run_requests == []
        (skipped,) = logged("skip")
        assert f"keys={key_for(DAYS[0])} reason=raw_events already materialized" in skipped
