"""Where each day's tables came from, in the tags Dagster reads for data versions.

The pipeline step records each day on its own (`day_run`), so it writes the provenance Dagster
would write for an Output of one partition: the code version, each input's data version and the
event it was read from, and the day's data version. `raw_events`' data version is the raw
object's ETag; a derived table's is a hash of the code version and its inputs' versions, as
Dagster computes one. The UI then says which raw object and which code produced a day, and
shows a day stale once its raw file is recorded with a new ETag or the code changes.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

import featurepipe

DATA_VERSION = "dagster/data_version"
CODE_VERSION_TAG = "dagster/code_version"
USER_PROVIDED = "dagster/data_version_is_user_provided"
INPUT_VERSION = "dagster/input_data_version/{}"
INPUT_POINTER = "dagster/input_event_pointer/{}"
NO_POINTER = "NULL"


def source_version(root: Path, parts: tuple[str, ...]) -> str:
    """A hash of the Python source under `parts` of `root`: it changes when any of the code
    that decides a table's rows or bytes changes."""
    digest = hashlib.sha256()
    for part in parts:
        files = sorted((root / part).rglob("*.py")) if (root / part).is_dir() else [root / part]
        for path in files:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# The row contract, the reader, the features, the schemas and the Parquet writer.
CODE_VERSION = source_version(Path(featurepipe.__file__).parent, ("core", "storage/tables.py"))


@dataclass(frozen=True)
class Input:
    """An input of a day's table: its data version and the event it was recorded by."""

    data_version: str
    storage_id: int | None

    @classmethod
    def of(cls, record: dg.EventLogRecord) -> "Input":
        tags = record.asset_materialization.tags or {}
        return cls(tags.get(DATA_VERSION, ""), record.storage_id)


def derived_version(inputs: Mapping[dg.AssetKey, Input]) -> str:
    """Dagster's logical data version: the code version, then the inputs' versions by key."""
    ordered = [inputs[key].data_version for key in sorted(inputs, key=str)]
    return hashlib.sha256("".join([CODE_VERSION, *ordered]).encode()).hexdigest()


def tags(data_version: str, inputs: Mapping[dg.AssetKey, Input], user_provided: bool) -> dict:
    tagged = {DATA_VERSION: data_version, CODE_VERSION_TAG: CODE_VERSION}
    for key, source in inputs.items():
        name = key.to_user_string()
        tagged[INPUT_VERSION.format(name)] = source.data_version
        tagged[INPUT_POINTER.format(name)] = (
            str(source.storage_id) if source.storage_id else NO_POINTER
        )
    if user_provided:
        tagged[USER_PROVIDED] = "true"
    return tagged
