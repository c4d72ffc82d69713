"""Work done a step ahead on other threads, for stages whose heavy parts release the GIL
(pyarrow's parsing, compute kernels, Parquet coding): results come back in order, with a
bounded number in flight, so memory stays that of a few steps."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TypeVar

T, R = TypeVar("T"), TypeVar("R")


def prefetch(produce: Callable[[], T | None], name: str) -> Iterator[T]:
    """produce() on a thread of its own, one result ahead of the consumer, until it gives None.

    An error in produce() is raised to the consumer; a consumer that stops early waits for
    the one call in flight.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as worker:
        ahead = worker.submit(produce)
        while (item := ahead.result()) is not None:
            ahead = worker.submit(produce)
            yield item


def map_in_order(
    pool: Executor, fn: Callable[[T], R], items: Iterable[T], ahead: int
) -> Iterator[R]:
    """fn over items on the pool, results in the items' order, at most `ahead` in flight."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
