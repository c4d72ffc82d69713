"""The names of the pipeline's assets and checks, shared by the step and its definition."""

import dagster as dg

from featurepipe.defs.derived import EVENT_FEATURES
from featurepipe.defs.schema_checks import schema_check

GROUP = "user_events"
STEP = "daily_events"  # the one step that takes each day through the assets
RAW = dg.AssetKey("raw_events")
VALIDATED = dg.AssetKey("validated_events")
REJECTED = dg.AssetKey("rejected_events")
FEATURES = EVENT_FEATURES.key
LEGACY = dg.AssetKey("legacy_features_csv")

QUARANTINE_RATIO = dg.AssetCheckKey(VALIDATED, "quarantine_ratio")
VALIDATED_SCHEMA = schema_check(VALIDATED)
FEATURES_SCHEMA = schema_check(FEATURES)
