"""A range run where some days cannot be used: every other day is stored and recorded with its
own metadata and checks, the run fails naming each failed day, and a rerun after the files are
fixed stores them (and leaves the good days byte for byte as they were)."""

import dagster as dg
import pytest

from featurepipe.defs.resources import S3Connection, StorageResource
from featurepipe.storage.keys import raw_key
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET, csv_bytes
from featurepipe_tests.defs.support import (
    ASSETS,
    RANGE_END,
    RANGE_START,
    TABLES,
    expected_keys,
    failure_text,
    filler,
    materializations,
    put_raw,
    resources,
    stored_bytes,
    stored_keys,
)

DAYS = [f"2025-11-{d}" for d in range(19, 27)]
BLOCKED, BAD_HEADER, MISSING = "2025-11-22", "2025-11-23", "2025-11-24"
GOOD = [d for d in DAYS if d not in (BLOCKED, BAD_HEADER, MISSING)]


def good_day(day: str) -> bytes:
    return csv_bytes(*filler(day, 120, first_user=int(day[-2:]) * 1000))


def blocked_day(day: str) -> bytes:
    """40 of 120 rows lack a user_id: a third quarantined, above the 5% default."""
    missing_user = [f"{day}T00:00:{i % 60:02d}Z,,s{i},view,web,US,0,1.5,,10" for i in range(40)]
    return csv_bytes(*missing_user, *filler(day, 80))


def put_range(storage) -> None:
    for day in DAYS:
        if day == BLOCKED:
            put_raw(storage, day, blocked_day(day))
        elif day == BAD_HEADER:
            header = "event_time,session_id,event_type"
            put_raw(storage, day, csv_bytes(f"{day}T00:00:00Z,s,view", header=header))
        elif day != MISSING:
            put_raw(storage, day, good_day(day))


def run_range(storage, instance, selection=None, start=DAYS[0], end=DAYS[-1]):
    defs = dg.Definitions(assets=ASSETS, resources=resources(storage))
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        tags={RANGE_START: start, RANGE_END: end},
        instance=instance,
        raise_on_error=False,
        asset_selection=selection,
    )


# Slow: eight days, three range runs, on both backends.
@pytest.mark.slow
def test_each_day_stands_on_its_own(storage):
    put_range(storage)
    with dg.instance_for_test() as instance:
        result = run_range(storage, instance)
        assert not result.success

        # The run's failure lists every failed day with its error, in day order.
        text = failure_text(result)
        uri = storage.store.uri(RAW_BUCKET, raw_key(MISSING))
        header_uri = storage.store.uri(RAW_BUCKET, raw_key(BAD_HEADER))
        blocked_uri = storage.store.uri(RAW_BUCKET, raw_key(BLOCKED))
        assert (
            f"3 of 8 days failed: {BLOCKED}: DayBlocked: {blocked_uri}: quarantine_ratio: 33.33%"
            in text
        )
        assert (
            f"; {BAD_HEADER}: HeaderError: {header_uri}: line 1: missing required columns: user_id"
            in text
        )
        assert f"; {MISSING}: ObjectNotFound: head_object: {uri} does not exist" in text

        # Good days: every table stored and recorded once, with that day's own metadata.
        assert stored_keys(storage) == expected_keys(*GOOD) | expected_keys(
            BLOCKED, tables=("validated_events", "rejected_events")
        )
        recorded = {a: materializations(result, a) for a in ("raw_events", *TABLES)}
        # A day whose file could not be used records nothing, raw_events included.
        assert sorted(recorded["raw_events"]) == sorted([*GOOD, BLOCKED])
        assert sorted(recorded["validated_events"]) == sorted([*GOOD, BLOCKED])
        assert sorted(recorded["rejected_events"]) == sorted([*GOOD, BLOCKED])
        assert sorted(recorded["event_features"]) == GOOD
        for day in GOOD:
            meta = recorded["validated_events"][day]
            assert meta["valid"].value == 120
            assert meta["source"].value == storage.store.uri(RAW_BUCKET, raw_key(day))
            assert recorded["event_features"][day]["row_sum_min"].value == (
                int(day[-2:]) * 1000 + 11.5
            )
        assert recorded["validated_events"][BLOCKED]["quarantined"].value == 40

        # The instance: the UI's partition view shows exactly these days as materialized.
        for asset, days in {
            "raw_events": [*GOOD, BLOCKED],
            "validated_events": [*GOOD, BLOCKED],
            "event_features": GOOD,
        }.items():
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) == set(days)

        # One evaluation of each check per day that got that far, on that day.
        evaluations = {}
        for e in result.get_asset_check_evaluations():
            key = (e.asset_key.to_user_string(), e.check_name)
            evaluations.setdefault(key, {})[e.partition] = e
        quarantine = evaluations[("validated_events", "quarantine_ratio")]
        assert sorted(quarantine) == sorted([*GOOD, BLOCKED])
        assert not quarantine[BLOCKED].passed
        assert all(quarantine[d].passed for d in GOOD)
        for check in ("pandera_schema", "row_sum_not_null", "one_row_per_valid_event"):
            assert sorted(evaluations[("event_features", check)]) == GOOD
            assert all(e.passed for e in evaluations[("event_features", check)].values())

        # Fix the files and run the range again: every day stored, the good ones unchanged.
        before = {key: stored_bytes(storage, key) for key in expected_keys(*GOOD)}
        for day in (BLOCKED, BAD_HEADER, MISSING):
            put_raw(storage, day, good_day(day))
        rerun = run_range(storage, instance)
        assert rerun.success
        assert stored_keys(storage) == expected_keys(*DAYS)
        assert {key: stored_bytes(storage, key) for key in before} == before
        assert instance.get_materialized_partitions(dg.AssetKey("event_features")) == set(DAYS)

        # And once more: identical bytes for every day.
        again = {key: stored_bytes(storage, key) for key in expected_keys(*DAYS)}
        assert run_range(storage, instance).success
        assert {key: stored_bytes(storage, key) for key in again} == again


def test_features_alone_read_the_stored_validated_events(local_storage):
    days = DAYS[:3]
    for day in days:
        put_raw(local_storage, day, good_day(day))
    with dg.instance_for_test() as instance:
        assert run_range(local_storage, instance, start=days[0], end=days[-1]).success
        local_storage.store.delete(FEATURE_BUCKET, f"validated_events/date={days[1]}/part.parquet")
        for day in days:
            local_storage.store.delete(FEATURE_BUCKET, f"event_features/date={day}/part.parquet")

        result = run_range(
            local_storage,
            instance,
            selection=[dg.AssetKey("event_features")],
            start=days[0],
            end=days[-1],
        )
    assert not result.success
    missing = local_storage.store.uri(
        FEATURE_BUCKET, f"validated_events/date={days[1]}/part.parquet"
    )
    assert f"1 of 3 days failed: {days[1]}: ObjectNotFound: head_object: {missing}" in failure_text(
        result
    )
    assert sorted(materializations(result, "event_features")) == [days[0], days[2]]
    assert set(materializations(result, "validated_events")) == set()
    keys = stored_keys(local_storage)
    assert f"event_features/date={days[0]}/part.parquet" in keys
    assert f"event_features/date={days[1]}/part.parquet" not in keys


def test_validated_without_rejected_is_refused_clearly(local_storage):
    put_raw(local_storage, DAYS[0], good_day(DAYS[0]))
    with dg.instance_for_test() as instance:
        result = run_range(
            local_storage,
            instance,
            selection=[dg.AssetKey("validated_events")],
            start=DAYS[0],
            end=DAYS[0],
        )
    assert not result.success
    assert "select both or neither" in failure_text(result)
    assert stored_keys(local_storage) == set()


def test_a_lasting_write_fault_on_one_day_fails_only_that_day(fault_proxy):
    storage = StorageResource(
        backend="s3", s3=S3Connection(endpoint_url=fault_proxy.url, max_attempts=1)
    )
    days = DAYS[:3]
    for day in days:
        put_raw(storage, day, good_day(day))
    broken = f"/{FEATURE_BUCKET}/validated_events/date={days[1]}/part.parquet"
    fault_proxy.add("503", times=20, method="PUT", path=broken)
    with dg.instance_for_test() as instance:
        result = run_range(storage, instance, start=days[0], end=days[-1])
    assert not result.success
    text = failure_text(result)
    assert f"1 of 3 days failed: {days[1]}: StorageError: put_object: s3://{FEATURE_BUCKET}" in text
    assert sorted(materializations(result, "event_features")) == [days[0], days[2]]
    assert stored_keys(storage) == expected_keys(days[0], days[2])
