"""Values past the limits of the libraries underneath, through `dagster asset materialize` in a
process of its own, where nothing the tests import has changed those limits: a header name
past the csv module's field limit, user ids past Python's int() digit limit, a BOM-only file."""

import subprocess

import dagster as dg
import pandas as pd
import pytest

from featurepipe.storage.keys import raw_key
from featurepipe_tests.conftest import FEATURE_BUCKET, HEADER, RAW_BUCKET
from featurepipe_tests.defs.support import clean_env, dagster_home, filler
from featurepipe_tests.defs.test_dagster_cli import MATERIALIZE, check_day

pytestmark = pytest.mark.slow

BOM_ONLY, LIMITS = "2025-11-18", "2025-11-19"
FILLER = 300
LONG_NAME = "n" * 200_000  # past the csv module's 131,072, well within the header's 1 MiB
# (user_id, valid): Python's int() refuses strings of over 4,300 digits, zeros included.
USER_IDS = [
    ("7", True),
    ("9" * 4_301, False),
    ("0" * 5_000 + "7", True),
    ("-" + "0" * 5_000 + "9223372036854775808", True),
    ("1" + "0" * 10_000, False),
]


def test_long_header_names_and_user_ids_and_a_bom_only_day(tmp_path):
    buckets = tmp_path / "buckets"
    raw = buckets / RAW_BUCKET
    raw.mkdir(parents=True)
    (raw / raw_key(BOM_ONLY)).write_bytes(b"\xef\xbb\xbf")
    lines = [f"{HEADER},{LONG_NAME}"]
    lines += [
        f"{LIMITS}T00:00:{n:02d}Z,{user},s{n},click,ios,US,1,2.5,,10,x"
        for n, (user, _) in enumerate(USER_IDS)
    ]
    lines += [line + ",x" for line in filler(LIMITS, FILLER)]  # quarantine ratio under 1%
    (raw / raw_key(LIMITS)).write_text("".join(line + "\n" for line in lines))
    home = dagster_home(tmp_path / "dagster_home")
    env = clean_env(FEATUREPIPE_LOCAL_ROOT=str(buckets), DAGSTER_HOME=str(home))

    command = [*MATERIALIZE, "--select", "*", "--partition-range", f"{BOM_ONLY}...{LIMITS}"]
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode != 0  # the BOM-only day fails the run, at its end
    bom_only = raw / raw_key(BOM_ONLY)
    assert (
        f"1 of 2 days failed: {BOM_ONLY}: HeaderError: {bom_only.resolve()}: line 1: the file"
        " holds only a UTF-8 BOM, no header"
    ) in proc.stderr

    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        meta = check_day(buckets, instance, LIMITS, len(USER_IDS) + FILLER, run.run_id)
    assert meta["columns_extra"].value == [LONG_NAME]
    assert meta["quarantine_reasons"].value.records[0].data == {
        "reason": "user_id_invalid",
        "rows": 2,
    }
    day = buckets / FEATURE_BUCKET
    validated = pd.read_parquet(day / "validated_events" / f"date={LIMITS}" / "part.parquet")
    assert validated["user_id"].tolist()[:3] == [7, 7, -(2**63)]
    rejected = pd.read_parquet(day / "rejected_events" / f"date={LIMITS}" / "part.parquet")
    invalid = [n + 2 for n, (_, valid) in enumerate(USER_IDS) if not valid]
    assert rejected["line"].tolist() == invalid
    assert not (day / "validated_events" / f"date={BOM_ONLY}").exists()
