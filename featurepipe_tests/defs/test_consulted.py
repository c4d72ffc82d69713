"""Which assets' earlier records a run reads before it starts: each is a query per asset, so a
run of every asset reads none, and every other selection reads what it builds on."""

import dagster as dg
import pytest

from featurepipe.defs.day_run import Selection, consulted
from featurepipe.defs.names import FEATURES, LEGACY, QUARANTINE_RATIO, RAW, REJECTED, VALIDATED

ALL = frozenset({RAW, VALIDATED, REJECTED, FEATURES})
CHECKS = frozenset(
    {
        QUARANTINE_RATIO,
        dg.AssetCheckKey(VALIDATED, "pandera_schema"),
        dg.AssetCheckKey(FEATURES, "pandera_schema"),
        dg.AssetCheckKey(FEATURES, "row_sum_not_null"),
    }
)


@pytest.mark.parametrize(
    ("assets", "checks", "retry", "expected"),
    [
        (ALL, CHECKS, False, set()),
        (ALL, frozenset(), False, set()),
        # a retry skips the days already stored: it reads what it selected and its inputs
        (ALL, CHECKS, True, set(ALL)),
        # built from stored validated events, whose quarantine ratio gates it
        ({FEATURES}, {c for c in CHECKS if c.asset_key == FEATURES}, False, {VALIDATED}),
        ({FEATURES}, frozenset(), True, {FEATURES, VALIDATED}),
        # the raw object's record is the input pointer of what is built from it
        ({VALIDATED, REJECTED}, frozenset(), False, {RAW}),
        # checks launched alone: the records they judge
        (frozenset(), {QUARANTINE_RATIO}, False, {VALIDATED}),
        (frozenset(), CHECKS, False, {VALIDATED, FEATURES}),
        ({LEGACY}, frozenset(), False, {FEATURES}),
        ({RAW}, frozenset(), False, set()),
    ],
)
def test_a_run_reads_the_records_of_what_it_builds_on_and_does_not_rebuild(
    assets, checks, retry, expected
):
    selection = Selection(frozenset(assets), frozenset(checks))
    assert consulted(selection, retry) == expected
