"""featurepipe's Dagster shell.

This is the one place Dagster's lifecycle warnings are silenced: only those of the beta and
preview APIs featurepipe uses on purpose, each listed in the README ("Dagster APIs in beta or
preview") with what would break if it changed. Every other warning still shows, and the tests
fail on it. Importing any module of this package installs the filters first.
"""

import re
import warnings

import dagster as dg

# The API, as the README names it: the warning's category and the start of its message.
DELIBERATE = {
    # A user's own daily asset in the pipeline's range runs (README, "Adding your own assets").
    "backfill_policy": (dg.BetaWarning, "Parameter `backfill_policy` of function `asset`"),
    # Every check is recorded per day.
    "partitions_def": (dg.PreviewWarning, "Specifying a partitions_def on an AssetCheckSpec"),
    # Not ours but Dagster's: its parser of selection strings (`--select '*'`) passes this.
    "include_sources": (
        dg.BetaWarning,
        "Parameter `include_sources` of function `AssetSelection.all`",
    ),
}

for category, message in DELIBERATE.values():
    warnings.filterwarnings("ignore", message=re.escape(message), category=category)
