"""Run configuration a user may set per run in the launchpad or with `-c`."""

import dagster as dg


def quarantine_policy(warn: float, error: float) -> type[dg.Config]:
    """The pipeline's run config, with the deployment's thresholds as its defaults."""

    class QuarantinePolicy(dg.Config):
        """How many quarantined rows a day may have: above `warn_ratio` the quarantine check
        warns; above `error_ratio` it fails and blocks that day's features. Defaults come from
        FEATUREPIPE_QUARANTINE_WARN_RATIO / _ERROR_RATIO; a run may override them."""

        warn_ratio: float = warn
        error_ratio: float = error

    return QuarantinePolicy
