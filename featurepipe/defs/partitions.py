"""Daily partitions, UTC days from the first one the settings name."""

import dagster as dg


def daily_partitions(start_date: str) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start_date, timezone="UTC")
