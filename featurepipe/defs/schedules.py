"""The daily schedule: shortly after midnight, run the day that just ended."""

import os

import dagster as dg

from featurepipe.defs.jobs import featurepipe_job
from featurepipe.defs.partitions import daily_partitions

# When the schedule ticks (cron) and in which time zone; partitions stay UTC days.
SCHEDULE_CRON = os.environ.get("FEATUREPIPE_SCHEDULE_CRON", "15 0 * * *")
SCHEDULE_TIMEZONE = os.environ.get("FEATUREPIPE_SCHEDULE_TIMEZONE", "UTC")


@dg.schedule(
    job=featurepipe_job,
    cron_schedule=SCHEDULE_CRON,
    execution_timezone=SCHEDULE_TIMEZONE,
    description="Runs the last complete UTC day after it ends.",
)
def daily_schedule(context: dg.ScheduleEvaluationContext):
    # The partitions that exist at the tick's time: the last one is the day that just ended.
    keys = daily_partitions.get_partition_keys(current_time=context.scheduled_execution_time)
    if not keys:
        return dg.SkipReason("no complete day in the partitions yet")
    return dg.RunRequest(run_key=keys[-1], partition_key=keys[-1])
