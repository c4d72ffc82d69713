"""The daily schedule: each tick requests the UTC day that just ended, keyed by that day."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from featurepipe.defs.partitions import daily_partitions
from featurepipe.defs.schedules import daily_schedule
from featurepipe.settings import Settings

UTC = dt.UTC
DEFAULTS = Settings()
PARTITIONS = daily_partitions(DEFAULTS.start_date)
SCHEDULE = daily_schedule(PARTITIONS, DEFAULTS.schedule_cron, DEFAULTS.schedule_timezone)
FIRST_DAY = PARTITIONS.start.astimezone(UTC)


def tick(when: dt.datetime):
    context = dg.build_schedule_context(scheduled_execution_time=when)
    return SCHEDULE(context)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (dt.datetime(2025, 11, 20, 0, 15, tzinfo=UTC), "2025-11-19"),
        (dt.datetime(2025, 11, 20, 23, 59, 59, tzinfo=UTC), "2025-11-19"),
        (dt.datetime(2025, 3, 1, 0, 0, tzinfo=UTC), "2025-02-28"),
        (dt.datetime(2026, 1, 1, 0, 15, tzinfo=UTC), "2025-12-31"),
        # A tick in another time zone still runs the last complete *UTC* day:
        # 20:15 in Los Angeles on the 19th is 04:15 UTC on the 20th.
        (dt.datetime(2025, 11, 19, 20, 15, tzinfo=ZoneInfo("America/Los_Angeles")), "2025-11-19"),
        # 23:30 in Berlin on the 20th is still the 20th in UTC (22:30): the 19th is the last.
        (dt.datetime(2025, 11, 20, 23, 30, tzinfo=ZoneInfo("Europe/Berlin")), "2025-11-19"),
    ],
)
def test_requests_exactly_the_previous_utc_day(when, expected):
    result = tick(when)
    assert isinstance(result, dg.RunRequest)
    assert result.partition_key == expected
    assert result.run_key == expected


def test_the_first_partition_is_requested_once_it_has_ended():
    result = tick(FIRST_DAY + dt.timedelta(days=1, minutes=15))
    assert isinstance(result, dg.RunRequest)
    assert result.partition_key == FIRST_DAY.date().isoformat()


@pytest.mark.parametrize(
    "offset",
    [dt.timedelta(0), dt.timedelta(minutes=15), dt.timedelta(hours=23, minutes=59)],
    ids=["start", "first-tick", "end-of-first-day"],
)
def test_skips_while_no_partition_has_ended(offset):
    result = tick(FIRST_DAY + offset)
    assert isinstance(result, dg.SkipReason)
    assert "no complete day" in result.skip_message


def test_skips_before_the_partitions_start():
    assert isinstance(tick(FIRST_DAY - dt.timedelta(days=30)), dg.SkipReason)


def test_schedule_targets_the_daily_job_from_the_definitions():
    from featurepipe.definitions import defs

    schedule = defs.resolve_schedule_def("daily_schedule")
    assert schedule.job_name == "featurepipe_daily"
    assert schedule.cron_schedule == "15 0 * * *"
    assert schedule.execution_timezone == "UTC"
    # Evaluated the way the daemon does it: the request resolves against the job's partitions.
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2025, 11, 20, 0, 15, tzinfo=UTC),
            repository_def=defs.get_repository_def(),
        )
        data = schedule.evaluate_tick(context)
    assert [r.partition_key for r in data.run_requests] == ["2025-11-19"]
    assert data.run_requests[0].tags["dagster/partition"] == "2025-11-19"
