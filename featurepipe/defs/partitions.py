import os

import dagster as dg

# The partition set is part of the definitions' structure, so it is read when they load.
START_DATE = os.environ.get("FEATUREPIPE_START_DATE", "2025-01-01")

daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")
