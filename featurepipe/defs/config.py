"""Run configuration a user may set per run in the launchpad or with `-c`."""

import os

import dagster as dg


def _ratio_env(name: str, default: float) -> float:
    value = os.environ.get(name, str(default))
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None


class QuarantinePolicy(dg.Config):
    """How many quarantined rows a day may have: above `warn_ratio` the quarantine check
    warns; above `error_ratio` it fails and blocks that day's features. Defaults come from
    FEATUREPIPE_QUARANTINE_WARN_RATIO / _ERROR_RATIO; a run may override them in its config."""

    warn_ratio: float = _ratio_env("FEATUREPIPE_QUARANTINE_WARN_RATIO", 0.01)
    error_ratio: float = _ratio_env("FEATUREPIPE_QUARANTINE_ERROR_RATIO", 0.05)
