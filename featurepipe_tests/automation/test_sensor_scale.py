"""The raw-file sensor over ten years of files: ranges, a bounded cursor, short listings."""

import datetime as dt

import dagster as dg

from featurepipe.defs import sensors
from featurepipe.defs.partitions import daily_partitions
from featurepipe.storage.objects import S3Store
from featurepipe_tests.automation.test_sensor import (
    ROW,
    evaluate,
    key_for,
    put,
    put_many,
    range_of,
    recent,
)
from featurepipe_tests.conftest import csv_bytes

TEN_YEARS = [dt.date(2016, 1, 1) + dt.timedelta(days=n) for n in range(3650)]
SINCE_2016 = daily_partitions("2016-01-01")
# The stated bound: the cursor holds RECENT_DAYS keys and ETags and three dates.
CURSOR_BYTES = 1024


class Listings:
    """Each listing the sensor makes (where it starts, how many objects it yields) and, on S3,
    each LIST call."""

    def __init__(self, store, monkeypatch):
        self.starts, self.objects, self.calls = [], 0, 0
        listing, hooked = type(store).list, []

        def count_call(**_):
            self.calls += 1

        def counted(this, bucket, prefix="", start_after=""):
            # The sensor's resource is a copy of the test's, with a client of its own.
            if isinstance(this, S3Store) and this.client not in hooked:
                this.client.meta.events.register("before-call.s3.ListObjectsV2", count_call)
                hooked.append(this.client)
            self.starts.append(start_after)
            for info in listing(this, bucket, prefix, start_after):
                self.objects += 1
                yield info

        monkeypatch.setattr(type(store), "list", counted)

    def reset(self):
        self.starts, self.objects, self.calls = [], 0, 0


def covered_days(requests: list[dg.RunRequest]) -> list[str]:
    days = []
    for request in requests:
        first, last = range_of(request)
        days += [
            (dt.date.fromisoformat(first) + dt.timedelta(days=n)).isoformat()
            for n in range((dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days + 1)
        ]
    return days


def test_ten_years_of_files(storage, request, monkeypatch):
    put_many(storage, request, TEN_YEARS)
    every_day = [d.isoformat() for d in TEN_YEARS]
    listings = Listings(storage.store, monkeypatch)
    with dg.DagsterInstance.ephemeral() as instance:
        # Without FEATUREPIPE_BACKFILL_DAYS_PER_RUN: the ten contiguous years are one run.
        (whole,) = evaluate(storage, instance=instance, partitions=SINCE_2016).run_requests
        assert range_of(whole) == (every_day[0], every_day[-1])

        listings.reset()
        first = evaluate(storage, instance=instance, partitions=SINCE_2016, days_per_run=30)
        assert listings.starts == [""]  # the first tick lists everything once
        assert len(first.run_requests) == 122  # ceil(3650 / 30)
        assert all(len(covered_days([r])) <= 30 for r in first.run_requests)
        assert covered_days(first.run_requests) == every_day  # each day exactly once, in order
        assert len(first.cursor) <= CURSOR_BYTES
        assert sorted(recent(first.cursor)) == [key_for(d) for d in TEN_YEARS[-7:]]

        # The next tick lists the recent days only, in one LIST call, and a new day runs alone.
        new_day = TEN_YEARS[-1] + dt.timedelta(days=1)
        etag = put(storage, key_for(new_day), csv_bytes(ROW))
        listings.reset()
        second = evaluate(storage, first.cursor, instance, SINCE_2016, days_per_run=30)
        assert listings.starts == [key_for(TEN_YEARS[-8])]
        assert listings.objects == 8
        assert listings.calls == (1 if isinstance(storage.store, S3Store) else 0)
        (alone,) = second.run_requests
        assert (alone.partition_key, alone.run_key) == (str(new_day), f"{key_for(new_day)}:{etag}")
        assert len(second.cursor) <= CURSOR_BYTES


def test_the_cursor_bound_holds_for_the_longest_keys_and_etags():
    """RECENT_DAYS days of files, each with the longest ETag either backend gives (a local
    one: four 64-bit numbers in hex; an S3 one is at most 32 hex digits, '-' and a count)."""
    state = sensors.Cursor(
        newest=dt.date(2999, 12, 31),
        recent={
            key_for(dt.date(2999, 12, 31) - dt.timedelta(days=n)): "-".join(["f" * 16] * 4)
            for n in range(sensors.RECENT_DAYS)
        },
        swept=dt.datetime.now(dt.UTC),
        failures=dt.datetime.now(dt.UTC),
    )
    assert len(state.dump()) <= CURSOR_BYTES
    assert sensors.Cursor.load(state.dump()) == state
