"""Every FEATUREPIPE_* setting read and checked once, in featurepipe.settings, and the
definitions built from a Settings object: no subprocess needed to change one."""

import os
import re

import click
import dagster as dg
import pytest

from featurepipe.definitions import IN_PROCESS_BY_DEFAULT, build
from featurepipe.settings import STORAGE, SettingError, Settings


def test_defaults_when_nothing_is_set():
    assert Settings.from_env({}) == Settings()
    assert Settings().storage_values() == {
        field: default for field, (_, default) in STORAGE.items()
    }


def test_every_variable_is_read(tmp_path):
    storage = {
        "FEATUREPIPE_STORAGE": "s3",
        "FEATUREPIPE_LOCAL_ROOT": str(tmp_path / "buckets"),
        "FEATUREPIPE_RAW_BUCKET": "raw-bucket",
        "FEATUREPIPE_FEATURE_BUCKET": "feature.bucket",
        "FEATUREPIPE_STAGING_DIR": str(tmp_path / "staging" / "deeper"),
    }
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
        **storage,
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
        storage_set=storage,
    )
    assert settings.storage_values()["raw_bucket"] == "raw-bucket"
    # Checking that a directory can be created does not create it.
    assert list(tmp_path.iterdir()) == []


def test_storage_values_fill_in_the_defaults():
    settings = Settings.from_env({"FEATUREPIPE_RAW_BUCKET": "raw-bucket"})
    assert settings.storage_values() == {
        **Settings().storage_values(),
        "raw_bucket": "raw-bucket",
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FEATUREPIPE_START_DATE", "2024-13-01", "must be a date (YYYY-MM-DD)"),
        ("FEATUREPIPE_END_DATE", "2025-1-1", "must be a date (YYYY-MM-DD)"),
        (
            "FEATUREPIPE_END_DATE",
            "2024-12-31",
            "must be on or after the first partition (2025-01-01)",
        ),
        ("FEATUREPIPE_RAW_DEADLINE_HOUR", "24", "must be a whole number from 1 to 23"),
        ("FEATUREPIPE_QUARANTINE_WARN_RATIO", "five", "must be a number from 0 to 1"),
        ("FEATUREPIPE_QUARANTINE_ERROR_RATIO", "1.5", "must be a number from 0 to 1"),
        ("FEATUREPIPE_LEGACY_CSV", "maybe", "must be true or false"),
        ("FEATUREPIPE_BACKFILL_DAYS_PER_RUN", "0", "must be a whole number >= 1"),
        ("FEATUREPIPE_DAYS_STAGED_AHEAD", "0", "must be a whole number from 1 to 8"),
        ("FEATUREPIPE_STORAGE", "gcs", "must be one of local, s3"),
        ("FEATUREPIPE_STORAGE", "S3", "must be one of local, s3"),
        ("FEATUREPIPE_SCHEDULE_CRON", "* * * *", "must be a cron expression of 5 fields"),
        ("FEATUREPIPE_SCHEDULE_CRON", "0 0 30 2 *", "must be a cron expression of 5 fields"),
        ("FEATUREPIPE_SCHEDULE_CRON", "60 * * * *", "must be a cron expression of 5 fields"),
        ("FEATUREPIPE_SCHEDULE_TIMEZONE", "Mars/Olympus", "must be an IANA time zone name"),
        ("FEATUREPIPE_SCHEDULE_TIMEZONE", "Europe", "must be an IANA time zone name"),
        ("FEATUREPIPE_SCHEDULE_TIMEZONE", "../etc/passwd", "must be an IANA time zone name"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(name, value, message):
    with pytest.raises(
        SettingError, match=re.escape(f"{name} {message}") + ".*" + re.escape(f", got '{value}'")
    ):
        Settings.from_env({name: value})


BUCKET_RULES = "must be an S3 bucket name (3 to 63 lowercase letters"


@pytest.mark.parametrize("name", ["FEATUREPIPE_RAW_BUCKET", "FEATUREPIPE_FEATURE_BUCKET"])
@pytest.mark.parametrize(
    "value",
    ["UPPER", "ab", "x" * 64, "a..b", "-abc", "abc-", "a_b", "10.0.0.1", "xn--abc", "abc-s3alias"],
)
def test_a_bucket_name_s3_refuses_is_refused_naming_its_variable(name, value):
    with pytest.raises(SettingError, match=re.escape(f"{name} {BUCKET_RULES}")) as refused:
        Settings.from_env({name: value})
    assert str(refused.value).endswith(f", got '{value}'")


@pytest.mark.parametrize("name", ["FEATUREPIPE_LOCAL_ROOT", "FEATUREPIPE_STAGING_DIR"])
def test_a_directory_that_cannot_be_made_is_refused_naming_its_variable(tmp_path, name):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for value, problem in [
        ("/dev/null/x", "/dev/null is not a directory"),
        (str(a_file), f"{a_file} is not a directory"),
        (str(a_file / "below"), f"{a_file} is not a directory"),
    ]:
        with pytest.raises(SettingError, match=re.escape(f"{name} must be a")) as refused:
            Settings.from_env({name: value})
        assert str(refused.value).endswith(f"got {value!r}: {problem}")


def test_a_directory_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # root writes anyway: refuse it as a read-only mount would
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: p != locked and real_access(p, mode))
    for value in (locked, locked / "new"):
        with pytest.raises(SettingError, match="FEATUREPIPE_STAGING_DIR must be a writable") as e:
            Settings.from_env({"FEATUREPIPE_STAGING_DIR": str(value)})
        assert str(e.value).endswith(f"got {str(value)!r}: {locked} is not writable")
    # A new local root needs a parent it can be made in; an existing one only has to exist.
    with pytest.raises(SettingError, match=f"{locked} is not writable"):
        Settings.from_env({"FEATUREPIPE_LOCAL_ROOT": str(locked / "new")})
    assert Settings.from_env({"FEATUREPIPE_LOCAL_ROOT": str(locked)}).storage_set


@pytest.mark.parametrize(
    ("env", "got"),
    [
        ({"FEATUREPIPE_QUARANTINE_WARN_RATIO": "0.5"}, "got '0.5' and 0.05 (the default)"),
        ({"FEATUREPIPE_QUARANTINE_ERROR_RATIO": "0.005"}, "got 0.01 (the default) and '0.005'"),
        (
            {
                "FEATUREPIPE_QUARANTINE_WARN_RATIO": "0.5",
                "FEATUREPIPE_QUARANTINE_ERROR_RATIO": "0.1",
            },
            "got '0.5' and '0.1'",
        ),
    ],
)
def test_the_warn_ratio_above_the_error_ratio_is_refused(env, got):
    message = "FEATUREPIPE_QUARANTINE_WARN_RATIO must be at most FEATUREPIPE_QUARANTINE_ERROR_RATIO"
    with pytest.raises(SettingError, match=re.escape(f"{message}, {got}")):
        Settings.from_env(env)


def test_equal_ratios_and_utc_are_accepted():
    ratios = {
        "FEATUREPIPE_QUARANTINE_WARN_RATIO": "0.1",
        "FEATUREPIPE_QUARANTINE_ERROR_RATIO": "0.1",
    }
    settings = Settings.from_env({**ratios, "FEATUREPIPE_SCHEDULE_TIMEZONE": "utc"})
    assert (settings.quarantine_warn_ratio, settings.schedule_timezone) == (0.1, "utc")


def within_a_command(partition_range: str | None) -> click.Context:
    """A click command's context, as `dg launch` or `dagster asset materialize` has while it
    loads the definitions."""
    context = click.Context(click.Command("launch"))
    context.params.update(partition_range=partition_range, partition=None)
    return context


def test_a_range_run_from_the_command_line_is_one_run_whatever_k_is():
    env = {"FEATUREPIPE_BACKFILL_DAYS_PER_RUN": "3"}
    with within_a_command("2025-11-01...2025-11-30"):
        assert Settings.from_env(env).backfill_days_per_run is None
        with pytest.raises(SettingError, match="FEATUREPIPE_BACKFILL_DAYS_PER_RUN"):
            Settings.from_env({"FEATUREPIPE_BACKFILL_DAYS_PER_RUN": "0"})  # still checked
    with within_a_command(None):  # one day, or the code server: K stands
        assert Settings.from_env(env).backfill_days_per_run == 3
    assert Settings.from_env(env).backfill_days_per_run == 3


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
