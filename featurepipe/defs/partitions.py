"""Daily partitions, UTC days from the first one the settings name (to the last, if set)."""

import datetime as dt

import dagster as dg


def daily_partitions(start_date: str, end_date: str | None = None) -> dg.DailyPartitionsDefinition:
    # Dagster's end_date is the end of the last partition: the day after `end_date`.
    end = dt.date.fromisoformat(end_date) + dt.timedelta(days=1) if end_date else None
    return dg.DailyPartitionsDefinition(
        start_date=start_date, end_date=end.isoformat() if end else None, timezone="UTC"
    )
