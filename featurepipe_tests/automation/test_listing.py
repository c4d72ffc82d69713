"""Listing after a key, what the raw-file sensor's ticks rely on, on both backends."""

import pytest

from featurepipe_tests.conftest import RAW_BUCKET

KEYS = [
    "notes.txt",
    "user_events/20251119.csv",
    "user_events_20251117.csv",
    "user_events_20251118.csv",
    "user_events_20251118.csv.bak",
    "user_events_20251119.csv",
    "user_events_20251120.csv",
]


@pytest.fixture(params=["local_storage", "s3_storage"])
def store(request):
    store = request.getfixturevalue(request.param).store
    for key in KEYS:
        with store.staged(RAW_BUCKET, key) as path:
            path.write_bytes(key.encode())
    return store


def listed(store, **kwargs) -> list[str]:
    return [info.key for info in store.list(RAW_BUCKET, **kwargs)]


def test_start_after_lists_only_later_keys_in_key_order(store):
    assert listed(store) == KEYS
    assert listed(store, start_after="user_events_20251118.csv") == KEYS[4:]
    assert listed(store, prefix="user_events_", start_after="user_events_20251119.csv") == [
        "user_events_20251120.csv"
    ]
    # A key that is not there still marks where to start; the last key leaves nothing.
    assert (
        listed(store, prefix="user_events_", start_after="user_events_20251117.csv.x") == (KEYS[3:])
    )
    assert listed(store, start_after=KEYS[-1]) == []
    # The prefix still applies to keys before start_after: nothing before it comes back.
    assert listed(store, prefix="notes", start_after="a") == ["notes.txt"]
    assert listed(store, prefix="user_events/", start_after="user_events/2") == [KEYS[1]]
    assert listed(store, prefix="user_events/", start_after=KEYS[1]) == []


def test_a_local_write_in_progress_is_not_listed(local_storage):
    store = local_storage.store
    with store.staged(RAW_BUCKET, "user_events_20251121.csv") as path:
        path.write_bytes(b"x")
        assert listed(store, start_after="user_events_20251120.csv") == []
    assert listed(store, start_after="user_events_20251120.csv") == ["user_events_20251121.csv"]
