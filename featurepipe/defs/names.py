"""The names of the pipeline's assets and checks, shared by the step and its definition."""

import dagster as dg

from featurepipe.defs.derived import EVENT_FEATURES

GROUP = "user_events"
RAW = dg.AssetKey("raw_events")
VALIDATED = dg.AssetKey("validated_events")
REJECTED = dg.AssetKey("rejected_events")
FEATURES = EVENT_FEATURES.key
LEGACY = dg.AssetKey("legacy_features_csv")

QUARANTINE_RATIO = dg.AssetCheckKey(VALIDATED, "quarantine_ratio")
VALIDATED_SCHEMA = dg.AssetCheckKey(VALIDATED, "pandera_schema")
FEATURES_SCHEMA = dg.AssetCheckKey(FEATURES, "pandera_schema")
