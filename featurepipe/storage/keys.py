"""Object naming: where each partition of each asset lives in its bucket."""

from __future__ import annotations

import datetime as dt
import re

# S3's bucket naming rules; they also keep a local bucket a single plain directory.
BUCKET_RE = re.compile(r"^(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
IP_ADDRESS_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
BUCKET_RULES = (
    "3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or "
    "digit, no '..', not an IP address, not starting with "
    + "/".join(RESERVED_PREFIXES)
    + " nor ending with "
    + "/".join(RESERVED_SUFFIXES)
)
RAW_KEY_RE = re.compile(r"^user_events_(\d{8})\.csv$")


def partition_date(partition_key: str) -> dt.date:
    """A daily partition key (YYYY-MM-DD) as a date; anything else is refused."""
    try:
        day = dt.date.fromisoformat(partition_key)
    except (TypeError, ValueError):
        raise ValueError(f"not a daily partition key (YYYY-MM-DD): {partition_key!r}") from None
    if day.isoformat() != partition_key:
        raise ValueError(f"not a daily partition key (YYYY-MM-DD): {partition_key!r}")
    return day


def raw_key(partition_key: str) -> str:
    return f"user_events_{partition_date(partition_key):%Y%m%d}.csv"


def raw_key_date(key: str) -> dt.date | None:
    """The date a raw key is for, or None when the key is not a raw event file's."""
    match = RAW_KEY_RE.fullmatch(key)
    if not match:
        return None
    try:
        return dt.datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return None


def asset_key_path(asset: str, partition_key: str) -> str:
    return f"{asset}/date={partition_date(partition_key).isoformat()}/part.parquet"


def bucket_is_valid(bucket: str) -> bool:
    return (
        BUCKET_RE.fullmatch(bucket) is not None
        and not IP_ADDRESS_RE.fullmatch(bucket)
        and not bucket.startswith(RESERVED_PREFIXES)
        and not bucket.endswith(RESERVED_SUFFIXES)
    )


def check_bucket(bucket: str) -> str:
    if not bucket_is_valid(bucket):
        raise ValueError(f"invalid bucket name {bucket!r}: use {BUCKET_RULES}")
    return bucket


def check_key(bucket: str, key: str) -> str:
    """An object key made of plain '/'-separated names, the same on every backend: no leading
    '/', no empty, '.' or '..' segment, no name starting with '.' (staged writes use those),
    no NUL. It can never name anything outside its bucket."""
    parts = key.split("/")
    if "\0" in key or any(part == "" or part.startswith(".") for part in parts):
        raise ValueError(f"invalid object key {key!r} for bucket {bucket!r}")
    return key


def legacy_features_key(partition_key: str) -> str:
    return f"features_{partition_date(partition_key):%Y%m%d}.csv"
