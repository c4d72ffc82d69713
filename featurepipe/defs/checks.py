"""Freshness of the raw files: is each day's file in by its deadline?

The data checks (quarantine ratio, pandera schemas, row_sum, row counts) are evaluated per
day by the pipeline step itself: see featurepipe.defs.assets.
"""

import os

import dagster as dg

from featurepipe.defs.assets import RAW

# The raw file of a day is due by this hour (UTC) of the next day.
RAW_DEADLINE_HOUR = int(os.environ.get("FEATUREPIPE_RAW_DEADLINE_HOUR", "6"))

raw_freshness_checks = dg.build_time_partition_freshness_checks(
    assets=[RAW], deadline_cron=f"0 {RAW_DEADLINE_HOUR} * * *", timezone="UTC"
)
raw_freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=raw_freshness_checks, name="raw_events_freshness"
)

asset_checks = [*raw_freshness_checks]
