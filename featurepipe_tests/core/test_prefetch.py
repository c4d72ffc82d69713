"""Work a step ahead on other threads: order kept, errors raised, in-flight work bounded."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from featurepipe.core.prefetch import map_in_order, prefetch


def counter(stop: int, fail_at: int | None = None):
    state = {"next": 0}

    def produce() -> int | None:
        n = state["next"]
        if n == fail_at:
            raise OSError(f"read failed at {n}")
        state["next"] += 1
        return n if n < stop else None

    return produce, state


def test_prefetch_gives_every_result_in_order_on_another_thread():
    threads = set()

    def produce():
        threads.add(threading.current_thread().name)
        return inner()

    inner, _ = counter(50)
    assert list(prefetch(produce, "test-worker")) == list(range(50))
    assert len(threads) == 1 and threads.pop().startswith("test-worker")


def test_prefetch_stays_one_ahead_of_the_consumer():
    produce, state = counter(100)
    items = prefetch(produce, "test-worker")
    for taken, _ in enumerate(items, start=1):
        time.sleep(0.001)
        assert state["next"] <= taken + 1
        if taken == 20:
            break
    items.close()  # the call in flight finishes; nothing more is produced
    assert state["next"] == 21


def test_prefetch_raises_the_producers_error_to_the_consumer():
    produce, _ = counter(100, fail_at=7)
    got = []
    with pytest.raises(OSError, match="read failed at 7"):
        for n in prefetch(produce, "test-worker"):
            got.append(n)
    assert got == list(range(7))


def test_map_in_order_keeps_order_and_bounds_work_in_flight():
    running, most = 0, 0
    lock = threading.Lock()

    def slow_square(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.002 * (n % 3))  # finish out of order
        with lock:
            running -= 1
        return n * n

    submitted = []

    def items():
        for n in range(40):
            submitted.append(n)
            yield n

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = map_in_order(pool, slow_square, items(), ahead=2)
        for i, value in enumerate(results):
            assert value == i * i
            assert len(submitted) <= i + 2  # never more than `ahead` items taken past the output
    assert most <= 2
