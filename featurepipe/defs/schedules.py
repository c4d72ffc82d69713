"""The daily schedule: shortly after midnight, run the day that just ended."""

import dagster as dg

from featurepipe.defs.jobs import featurepipe_job


def daily_schedule(
    partitions: dg.DailyPartitionsDefinition, cron: str, timezone: str
) -> dg.ScheduleDefinition:
    """Ticks at `cron` in `timezone` (partitions stay UTC days) and runs the last whole day."""

    @dg.schedule(
        job=featurepipe_job,
        cron_schedule=cron,
        execution_timezone=timezone,
        description="Runs the last complete UTC day after it ends.",
    )
    def daily_schedule(context: dg.ScheduleEvaluationContext):
        # The partitions that exist at the tick's time: the last is the day that just ended.
        keys = partitions.get_partition_keys(current_time=context.scheduled_execution_time)
        if not keys:
            return dg.SkipReason("no complete day in the partitions yet")
        return dg.RunRequest(run_key=keys[-1], partition_key=keys[-1])

    return daily_schedule
