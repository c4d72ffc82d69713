"""The names of the pipeline's assets, checks and step, declared once: the tables' from their
columns in `core/columns.py`, the rest here. `featurepipe_tests/test_names.py` fails on a name
written out anywhere else."""

import dagster as dg

from featurepipe.core.columns import TABLES
from featurepipe.defs.derived import EVENT_FEATURES
from featurepipe.defs.schema_checks import schema_check

GROUP = "user_events"
STEP = "daily_events"  # the one step that takes each day through the assets
RAW = dg.AssetKey("raw_events")
VALIDATED = dg.AssetKey(TABLES.validated.name)
REJECTED = dg.AssetKey(TABLES.rejected.name)
FEATURES = EVENT_FEATURES.key
LEGACY = dg.AssetKey("legacy_features_csv")

QUARANTINE_RATIO = dg.AssetCheckKey(VALIDATED, "quarantine_ratio")
VALIDATED_SCHEMA = schema_check(VALIDATED)
FEATURES_SCHEMA = schema_check(FEATURES)
