"""The two private Dagster names featurepipe relies on, in one place, each with its reason.

`featurepipe_tests/defs/test_dagster_internals.py` fails loudly when Dagster moves or changes
either, before any run could record the wrong thing.
"""

import dagster as dg

# Not exported, though AssetCheckEvaluation takes it: the materialization a check's result is
# shown against. AssetCheckResult builds it only for a run of one partition.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as _Target,
)

# Dagster's own marker for an Output whose asset events the step has recorded itself (its
# auto-converted observable source assets use it): the Output still lets downstream steps run,
# but records no materialization. The pipeline step records one materialization per day as it
# commits each day, with that day's metadata and provenance; an ordinary Output would record
# every day of the run again, failed days included, under one data version.
from dagster._core.definitions.source_asset import (
    SYSTEM_METADATA_KEY_SOURCE_ASSET_OBSERVATION as _EVENTS_RECORDED_BY_STEP,
)


def output_without_events(output_name: str) -> dg.Output:
    """An Output that lets the steps downstream of `output_name` run and records nothing."""
    return dg.Output(None, output_name=output_name, metadata={_EVENTS_RECORDED_BY_STEP: True})


def check_target(record: dg.EventLogRecord) -> _Target:
    """The materialization `record` as the target of a check's result."""
    return _Target(storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp)
