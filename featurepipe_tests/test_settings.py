"""Every FEATUREPIPE_* setting read and checked once, in featurepipe.settings, and the
definitions built from a Settings object: no subprocess needed to change one."""

import re

import dagster as dg
import pytest

from featurepipe.definitions import IN_PROCESS_BY_DEFAULT, build
from featurepipe.settings import STORAGE, SettingError, Settings


def test_defaults_when_nothing_is_set():
    assert Settings.from_env({}) == Settings()
    assert Settings().storage_values() == {
        field: default for field, (_, default) in STORAGE.items()
    }


def test_every_variable_is_read():
    env = {
        "FEATUREPIPE_START_DATE": "2024-06-01",
        "FEATUREPIPE_SCHEDULE_CRON": "30 1 * * *",
        "FEATUREPIPE_SCHEDULE_TIMEZONE": "Europe/Berlin",
        "FEATUREPIPE_RAW_DEADLINE_HOUR": "9",
        "FEATUREPIPE_QUARANTINE_WARN_RATIO": "0.02",
        "FEATUREPIPE_QUARANTINE_ERROR_RATIO": "0.1",
        "FEATUREPIPE_LEGACY_CSV": "true",
        "FEATUREPIPE_BACKFILL_DAYS_PER_RUN": "7",
        "FEATUREPIPE_DAYS_STAGED_AHEAD": "1",
        "FEATUREPIPE_STORAGE": "s3",
        "FEATUREPIPE_RAW_BUCKET": "raw-bucket",
    }
    settings = Settings.from_env(env)
    assert settings == Settings(
        start_date="2024-06-01",
        schedule_cron="30 1 * * *",
        schedule_timezone="Europe/Berlin",
        raw_deadline_hour=9,
        quarantine_warn_ratio=0.02,
        quarantine_error_ratio=0.1,
        legacy_csv=True,
        backfill_days_per_run=7,
        days_staged_ahead=1,
        storage_set={"FEATUREPIPE_STORAGE": "s3", "FEATUREPIPE_RAW_BUCKET": "raw-bucket"},
    )
    assert settings.storage_values()["raw_bucket"] == "raw-bucket"
    assert settings.storage_values()["feature_bucket"] == "datapipeline-feature-data"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FEATUREPIPE_START_DATE", "2024-13-01", "must be a date (YYYY-MM-DD)"),
        ("FEATUREPIPE_RAW_DEADLINE_HOUR", "24", "must be a whole number from 1 to 23"),
        ("FEATUREPIPE_QUARANTINE_WARN_RATIO", "five", "must be a number from 0 to 1"),
        ("FEATUREPIPE_QUARANTINE_ERROR_RATIO", "1.5", "must be a number from 0 to 1"),
        ("FEATUREPIPE_LEGACY_CSV", "maybe", "must be true or false"),
        ("FEATUREPIPE_BACKFILL_DAYS_PER_RUN", "0", "must be a whole number >= 1"),
        ("FEATUREPIPE_DAYS_STAGED_AHEAD", "0", "must be a whole number from 1 to 8"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(name, value, message):
    with pytest.raises(SettingError, match=re.escape(f"{name} {message}, got '{value}'")):
        Settings.from_env({name: value})


def test_the_definitions_follow_the_settings_they_are_built_from():
    defs = build(
        Settings(start_date="2024-06-01", legacy_csv=True, backfill_days_per_run=3),
        IN_PROCESS_BY_DEFAULT,
    )
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey("legacy_features_csv") in graph.get_all_asset_keys()
    pipeline = defs.resolve_assets_def("raw_events")
    assert pipeline.partitions_def.start.date().isoformat() == "2024-06-01"
    assert pipeline.backfill_policy == dg.BackfillPolicy.multi_run(max_partitions_per_run=3)
    sensor = defs.resolve_sensor_def("raw_file_sensor")
    schedule = defs.resolve_schedule_def("daily_schedule")
    assert (sensor.name, schedule.cron_schedule) == ("raw_file_sensor", "15 0 * * *")
