"""`featurepipe init` writes the local Dagster instance's dagster.yaml; `featurepipe sample`
writes the day files into the raw bucket the environment configures; `featurepipe rejects`
prints a day's stored rejected rows from the feature bucket."""

import csv
import io
import os
import signal
import subprocess

import boto3
import dagster as dg
import pytest

from featurepipe.cli import INSTANCE_YAML, main
from featurepipe.core.sample import HEADER
from featurepipe.core.validation import validate_events
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET, csv_bytes
from featurepipe_tests.defs.support import (
    ASSETS,
    VENV_BIN,
    files_under,
    put_raw,
    resources,
    run,
    stored_table,
)

WEEK = [f"user_events_202511{d:02d}.csv" for d in range(13, 20)]


def lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\n")
    return data.split(b"\n")[:-1]


def test_sample_writes_each_day_with_its_rows(local_root, capsys):
    assert main(["sample", "--end", "2025-11-19", "--days", "3", "--rows", "250"]) == 0
    raw = local_root / RAW_BUCKET
    assert files_under(raw) == set(WEEK[-3:])
    assert not (local_root / FEATURE_BUCKET).exists()
    for name in WEEK[-3:]:
        data = (raw / name).read_bytes()
        assert lines(data)[0] == HEADER.encode()
        assert len(lines(data)) == 1 + 250
        day = f"{name[12:16]}-{name[16:18]}-{name[18:20]}"
        summary = validate_events(io.BytesIO(data), source=name).summary
        assert summary.data_lines == 250
        assert summary.valid + summary.quarantined == 250
        assert sum(line.startswith(day.encode()) for line in lines(data)[1:]) >= 245
    out = capsys.readouterr().out.splitlines()
    assert out == [f"wrote {raw.resolve() / name} (250 rows)" for name in WEEK[-3:]]


def test_sample_defaults_one_day_and_is_reproducible(local_root):
    assert main(["sample", "--end", "2025-11-19", "--rows", "40"]) == 0
    path = local_root / RAW_BUCKET / "user_events_20251119.csv"
    assert files_under(local_root / RAW_BUCKET) == {path.name}
    first = path.read_bytes()
    assert main(["sample", "--end", "2025-11-19", "--rows", "40"]) == 0
    assert path.read_bytes() == first
    assert main(["sample", "--end", "2025-11-19", "--rows", "40", "--seed", "7"]) == 0
    assert path.read_bytes() != first
    assert len(lines(path.read_bytes())) == 41


def test_sample_malformed_fraction(local_root):
    argv = ["sample", "--end", "2025-11-19", "--rows", "400"]
    assert main([*argv, "--malformed", "0"]) == 0
    path = local_root / RAW_BUCKET / "user_events_20251119.csv"
    clean = validate_events(io.BytesIO(path.read_bytes()), source="x").summary
    assert (clean.valid, clean.quarantined) == (400, 0)
    assert main([*argv, "--malformed", "1"]) == 0
    broken = validate_events(io.BytesIO(path.read_bytes()), source="x").summary
    assert broken.quarantined > 300
    assert broken.valid + broken.quarantined == 400


def test_sample_zero_rows_is_a_header_only_file(local_root):
    assert main(["sample", "--end", "2025-11-19", "--rows", "0"]) == 0
    data = (local_root / RAW_BUCKET / "user_events_20251119.csv").read_bytes()
    assert data == (HEADER + "\n").encode()


def test_sample_honours_the_bucket_setting(local_root, monkeypatch):
    monkeypatch.setenv("FEATUREPIPE_RAW_BUCKET", "other-raw")
    assert main(["sample", "--end", "2025-11-19", "--rows", "5"]) == 0
    assert files_under(local_root / "other-raw") == {"user_events_20251119.csv"}
    assert not (local_root / RAW_BUCKET).exists()


def s3_objects(bucket: str) -> dict[str, bytes]:
    client = boto3.client("s3")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {k: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def test_sample_into_s3(s3_env, capsys):
    assert main(["sample", "--end", "2025-11-19", "--days", "2", "--rows", "120"]) == 0
    objects = s3_objects(RAW_BUCKET)
    assert sorted(objects) == WEEK[-2:]
    for data in objects.values():
        assert lines(data)[0] == HEADER.encode()
        assert len(lines(data)) == 121
    assert s3_objects(FEATURE_BUCKET) == {}
    out = capsys.readouterr().out.splitlines()
    assert out == [f"wrote s3://{RAW_BUCKET}/{name} (120 rows)" for name in WEEK[-2:]]


def test_sample_into_a_missing_s3_bucket_fails_in_one_line(s3_env, monkeypatch, capsys):
    monkeypatch.setenv("FEATUREPIPE_RAW_BUCKET", "no-such-bucket")
    with pytest.raises(SystemExit) as exited:
        main(["sample", "--end", "2025-11-19", "--rows", "5"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "s3://no-such-bucket/user_events_20251119.csv" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FEATUREPIPE_STORAGE", "gcs", "FEATUREPIPE_STORAGE must be one of local, s3, got 'gcs'"),
        ("FEATUREPIPE_RAW_BUCKET", "Raw_Data", "FEATUREPIPE_RAW_BUCKET must be an S3 bucket name"),
    ],
)
def test_sample_rejects_bad_settings(local_root, monkeypatch, capsys, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as exited:
        main(["sample", "--end", "2025-11-19", "--rows", "5"])
    assert exited.value.code == 1
    assert message in capsys.readouterr().err
    assert not local_root.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: command"),
        (["sample"], "the following arguments are required: --end"),
        (["sample", "--end", "2025-02-30"], "argument --end: invalid"),
        (["sample", "--end", "yesterday"], "argument --end: invalid"),
        (["sample", "--end", "2025-11-19", "--days", "0"], "argument --days: must be at least 1"),
        (["sample", "--end", "2025-11-19", "--days", "-3"], "argument --days: must be at least 1"),
        (["sample", "--end", "2025-11-19", "--days", "two"], "argument --days: invalid integer"),
        (["sample", "--end", "2025-11-19", "--rows", "-1"], "argument --rows: must be at least 0"),
        (["sample", "--end", "2025-11-19", "--rows", "1.5"], "argument --rows: invalid integer"),
        (["sample", "--end", "2025-11-19", "--malformed", "1.5"], "argument --malformed: must"),
        (["sample", "--end", "2025-11-19", "--malformed", "-0.1"], "argument --malformed: must"),
        (["sample", "--end", "2025-11-19", "--malformed", "nan"], "argument --malformed: must"),
        (["sample", "--end", "2025-11-19", "--malformed", "lots"], "argument --malformed: inv"),
        (["sample", "--end", "2025-11-19", "--seed", "x"], "argument --seed: invalid int"),
        (["sample", "--end", "2025-11-19", "--bogus"], "unrecognized arguments: --bogus"),
        (["unknown"], "invalid choice: 'unknown'"),
    ],
)
def test_sample_rejects_bad_arguments(local_root, capsys, args, message):
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert not local_root.exists()


@pytest.mark.slow
def test_the_installed_command_writes_to_s3(s3_env, tmp_path):
    """The console script, in its own process, configured only by environment."""
    args = ["sample", "--end", "2025-11-19", "--days", "2", "--rows", "300"]
    proc = run([str(VENV_BIN / "featurepipe"), *args], cwd=tmp_path, env=dict(os.environ))
    assert proc.stdout.count("(300 rows)") == 2
    objects = s3_objects(RAW_BUCKET)
    assert sorted(objects) == WEEK[-2:]
    assert all(len(lines(data)) == 301 for data in objects.values())
    assert list(tmp_path.iterdir()) == []


def test_init_writes_the_instances_dagster_yaml(tmp_path, monkeypatch, capsys):
    home = tmp_path / "a" / "dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert main(["init"]) == 0
    path = home / "dagster.yaml"
    assert capsys.readouterr().out == f"wrote {path}\n"
    assert path.read_text() == INSTANCE_YAML
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.python_log_level == "INFO"
        assert instance.telemetry_enabled
    # The README's way to turn telemetry off is one word.
    path.write_text(INSTANCE_YAML.replace("enabled: true", "enabled: false"))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert not instance.telemetry_enabled


def test_init_expands_a_home_directory_as_dagster_does(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", "~/dagster")
    assert main(["init"]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'dagster' / 'dagster.yaml'}\n"


def test_init_keeps_a_dagster_yaml_there(tmp_path, monkeypatch, capsys):
    path = tmp_path / "dagster.yaml"
    path.write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert main(["init"]) == 0
    assert capsys.readouterr().out == f"kept {path}: it exists\n"
    assert path.read_text() == "telemetry:\n  enabled: false\n"


@pytest.mark.parametrize(
    ("home", "message"),
    [
        (None, 'DAGSTER_HOME is not set: `export DAGSTER_HOME="$PWD/.featurepipe/dagster"`'),
        ("", "DAGSTER_HOME is not set"),
        ("relative/dagster", "DAGSTER_HOME must be an absolute path, got 'relative/dagster'"),
    ],
)
def test_init_needs_an_absolute_dagster_home(tmp_path, monkeypatch, capsys, home, message):
    monkeypatch.chdir(tmp_path)
    if home is None:
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
    else:
        monkeypatch.setenv("DAGSTER_HOME", home)
    with pytest.raises(SystemExit) as exited:
        main(["init"])
    assert exited.value.code == 1
    assert capsys.readouterr().err.startswith(f"featurepipe init: error: {message}")
    assert list(tmp_path.iterdir()) == []


# A day that is mostly rejects, so its quarantine_ratio blocks it: the run fails, and its
# validated and rejected rows are stored, as for the blocked day a person wants to read.
BLOCKED_DAY = "2025-11-19"
BLOCKED_LINES = [
    "2025-11-19T00:00:01Z,7,s1,click,ios,US,1,2.5,,10",  # line 2: valid
    "2025-11-19T00:00:02Z,,s2,view,web,US,0,1.5,,10",  # 3: user_id_missing
    '2025-11-19T00:00:03Z,"8\n9",s3,click,ios,US,1,2.5,,10',  # 4-5: line_break_in_value
    "not-a-time,9,s4,click,ios,US,1,2.5,,10",  # 6: event_time_invalid
    "2025-11-19T00:00:05Z,10,s5",  # 7: field_count
    "2025-11-19T00:00:06Z,,s\t6,view,web,US,0,1.5,,10",  # 8: user_id_missing, with a tab
]
REJECTS_TABLE = [
    "line  lines  reason               record",
    "   3      1  user_id_missing      2025-11-19T00:00:02Z,,s2,view,web,US,0,1.5,,10",
    "   4      2  line_break_in_value  2025-11-19T00:00:03Z,8\\n9,s3,click,ios,US,1,2.5,,10",
    "   6      1  event_time_invalid   not-a-time,9,s4,click,ios,US,1,2.5,,10",
    "   7      1  field_count          2025-11-19T00:00:05Z,10,s5",
    "   8      1  user_id_missing      2025-11-19T00:00:06Z,,s\\t6,view,web,US,0,1.5,,10",
]


def store_blocked_day(storage) -> None:
    put_raw(storage, BLOCKED_DAY, csv_bytes(*BLOCKED_LINES))
    result = dg.materialize(
        ASSETS, partition_key=BLOCKED_DAY, resources=resources(storage), raise_on_error=False
    )
    assert not result.success  # blocked by quarantine_ratio, its rejects stored


def rejects_path(root) -> str:
    return str(root.resolve() / FEATURE_BUCKET / "rejected_events/date=2025-11-19/part.parquet")


def test_rejects_prints_a_blocked_days_rows_as_a_table(local_root, local_storage, capsys):
    store_blocked_day(local_storage)
    assert main(["rejects", BLOCKED_DAY]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        *REJECTS_TABLE,
        f"5 of 5 rejected rows of 2025-11-19, from {rejects_path(local_root)}",
    ]


def test_rejects_of_one_reason_up_to_a_limit(local_root, local_storage, capsys):
    store_blocked_day(local_storage)
    assert main(["rejects", BLOCKED_DAY, "--reason", "user_id_missing"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == [REJECTS_TABLE[0], REJECTS_TABLE[1], REJECTS_TABLE[5]]
    assert out[-1].startswith("2 of 2 rejected rows with reason user_id_missing of 2025-11-19")
    assert main(["rejects", BLOCKED_DAY, "--reason", "user_id_missing", "--limit", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == REJECTS_TABLE[:2]
    assert out[-1].startswith("1 of 2 rejected rows with reason user_id_missing")
    assert main(["rejects", BLOCKED_DAY, "--limit", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[:-1] == REJECTS_TABLE[:4]


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_rejects_as_csv_are_the_stored_rows(request, backend, capsys):
    storage = request.getfixturevalue(f"{backend}_storage")
    store_blocked_day(storage)
    assert main(["rejects", BLOCKED_DAY, "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    stored = stored_table(storage, "rejected_events", BLOCKED_DAY)
    columns = ["line", "lines", "reason", "record"]
    assert rows[0] == columns
    assert rows[1:] == [[str(v) for v in row] for row in stored[columns].itertuples(index=False)]
    # Unescaped: the record that spans two lines keeps its line break.
    assert rows[2][3] == "2025-11-19T00:00:03Z,8\n9,s3,click,ios,US,1,2.5,,10"
    assert main(["rejects", BLOCKED_DAY, "--csv", "--reason", "field_count"]) == 0
    assert (
        capsys.readouterr().out
        == 'line,lines,reason,record\n7,1,field_count,"2025-11-19T00:00:05Z,10,s5"\n'
    )


def test_rejects_of_a_reason_not_present_lists_the_days_reasons(local_storage, capsys):
    store_blocked_day(local_storage)
    for reason in ("invalid_utf8", "no_such_reason"):
        with pytest.raises(SystemExit) as exited:
            main(["rejects", BLOCKED_DAY, "--reason", reason])
        assert exited.value.code == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.endswith(
            f"has reason {reason!r}; reasons present on 2025-11-19: event_time_invalid (1), "
            "field_count (1), line_break_in_value (1), user_id_missing (2)\n"
        )


def test_rejects_of_a_day_with_none_is_an_empty_table(local_root, local_storage, capsys):
    put_raw(local_storage, BLOCKED_DAY, csv_bytes(BLOCKED_LINES[0]))
    result = dg.materialize(ASSETS, partition_key=BLOCKED_DAY, resources=resources(local_storage))
    assert result.success
    assert main(["rejects", BLOCKED_DAY]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "line  lines  reason  record",
        f"0 of 0 rejected rows of 2025-11-19, from {rejects_path(local_root)}",
    ]
    with pytest.raises(SystemExit):
        main(["rejects", BLOCKED_DAY, "--reason", "field_count"])
    assert capsys.readouterr().err.endswith("reasons present on 2025-11-19: none\n")


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_rejects_of_a_day_not_stored_name_the_key_and_the_command(request, backend, capsys):
    storage = request.getfixturevalue(f"{backend}_storage")
    key = "rejected_events/date=2025-11-18/part.parquet"
    with pytest.raises(SystemExit) as exited:
        main(["rejects", "2025-11-18"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"featurepipe rejects: error: rejected_events of 2025-11-18 is not stored: bucket "
        f"{FEATURE_BUCKET} has no key {key} ({storage.store.uri(FEATURE_BUCKET, key)}); "
    )
    assert err.endswith("`dg launch --assets '*' --partition 2025-11-18` materializes the day\n")


def test_rejects_refuses_an_object_that_is_not_parquet(local_root, local_storage, capsys):
    key = "rejected_events/date=2025-11-19/part.parquet"
    with local_storage.store.staged(FEATURE_BUCKET, key) as path:
        path.write_bytes(b"line,reason\n3,field_count\n")
    with pytest.raises(SystemExit) as exited:
        main(["rejects", BLOCKED_DAY])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert f"{rejects_path(local_root)} is not a Parquet file; refusing to load it" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rejects"], "the following arguments are required: day"),
        (["rejects", "2025-02-30"], "argument day: invalid"),
        (["rejects", "2025-11-19", "--limit", "0"], "argument --limit: must be at least 1"),
        (["rejects", "2025-11-19", "--limit", "x"], "argument --limit: invalid integer"),
        (["rejects", "2025-11-19", "--reason"], "argument --reason: expected one argument"),
    ],
)
def test_rejects_bad_arguments(local_root, capsys, args, message):
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_the_installed_rejects_command_into_head(local_root, local_storage, tmp_path):
    """`featurepipe rejects DAY | head`: the rows head wants, and no traceback once it leaves."""
    assert main(["sample", "--end", BLOCKED_DAY, "--rows", "100000", "--malformed", "0.2"]) == 0
    result = dg.materialize(
        ASSETS, partition_key=BLOCKED_DAY, resources=resources(local_storage), raise_on_error=False
    )
    assert not result.success  # 20% rejected: blocked
    script = f"set -o pipefail; {VENV_BIN / 'featurepipe'} rejects {BLOCKED_DAY} | head -2"
    proc = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True
    )
    assert proc.stderr == ""
    assert proc.returncode == 128 + signal.SIGPIPE
    header, first = proc.stdout.splitlines()
    assert header.split() == ["line", "lines", "reason", "record"]
    stored = stored_table(local_storage, "rejected_events", BLOCKED_DAY)
    assert len(stored) > 10_000  # far more than a pipe holds
    assert first.split(maxsplit=3)[:3] == [
        str(stored.line[0]),
        str(stored.lines[0]),
        stored.reason[0],
    ]
