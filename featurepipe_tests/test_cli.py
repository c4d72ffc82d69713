"""`featurepipe sample`: writes the day files into the raw bucket the environment configures."""

import io
import os

import boto3
import pytest

from featurepipe.cli import main
from featurepipe.core.sample import HEADER
from featurepipe.core.validation import validate_events
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET
from featurepipe_tests.defs.support import VENV_BIN, files_under, run

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
