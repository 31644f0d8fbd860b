"""Page input decoded ahead of the model: a worker thread walks the batches (decoding,
PDF rendering, OCR, then `PageFeed.prepare`: the embedding-cache lookup and the
retriever's processor) while the retriever encodes the one before, so on a GPU the
forward pass does not wait on the CPU for every batch.

Order and content are unchanged: the worker yields the same parts in the same order,
and an error it meets (an unreadable page) is raised in the caller at the part where
it would have been raised without prefetching. The queue is bounded: at most `depth`
parts wait decoded, plus the one the worker is decoding, so memory holds `depth + 2`
parts (each under `batches.PIXELS_PER_BATCH`) at most. Decoding in PIL and pypdfium2
releases the GIL for most of its work, so one thread is enough.

`PAGEBENCH_PREFETCH=0` turns it off (decoding on the caller's thread, as before), for
comparisons such as `benchmarks/pipeline.py`.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator
from time import perf_counter
from typing import TypeVar

from benchmark.core.errors import PagebenchError

PREFETCH_ENV = "PAGEBENCH_PREFETCH"
DEFAULT_PREFETCH_DEPTH = 1  # parts waiting decoded in the queue

_END = object()
_PUT_POLL_S = 0.05  # how often a blocked worker checks whether the caller stopped

Item = TypeVar("Item")


def prefetch_depth() -> int:
    """Parts decoded ahead, from PAGEBENCH_PREFETCH (0: off); the default otherwise."""
    value = os.environ.get(PREFETCH_ENV, "").strip()
    if not value:
        return DEFAULT_PREFETCH_DEPTH
    try:
        depth = int(value)
    except ValueError:
        message = f"{PREFETCH_ENV} must be a whole number of parts (0: off), got {value!r}"
        raise PagebenchError(message) from None
    return max(depth, 0)


class Prefetched:
    """Iterates `items` produced on a worker thread, at most `depth` ahead (0: in the caller).

    Use it as a context manager: leaving it (an error in the caller's loop included)
    stops the worker at once, rather than whenever the iteration is collected.
    `input_wait_s` is the time the caller spent waiting for the next item: with
    prefetching, what decoding did not hide; without, all of decoding.
    """

    def __init__(self, items: Iterable[Item], depth: int | None = None):
        self._items = items
        self._depth = prefetch_depth() if depth is None else depth
        self._iterations: list = []
        self.input_wait_s = 0.0

    def __iter__(self) -> Iterator[Item]:
        iteration = self._in_caller() if self._depth < 1 else self._from_worker()
        self._iterations.append(iteration)
        return iteration

    def __enter__(self) -> Prefetched:
        return self

    def __exit__(self, *_exception) -> None:
        self.close()

    def close(self) -> None:
        """Stops every iteration begun (and its worker, after the part it is decoding)."""
        for iteration in self._iterations:
            iteration.close()

    def _in_caller(self) -> Iterator[Item]:
        items = iter(self._items)
        while True:
            started = perf_counter()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                self.input_wait_s += perf_counter() - started
            yield item

    def _from_worker(self) -> Iterator[Item]:
        ready: queue.Queue = queue.Queue(maxsize=self._depth)
        stop = threading.Event()
        worker = threading.Thread(
            target=_produce, args=(self._items, ready, stop), name="pagebench-prefetch", daemon=True
        )
        worker.start()
        try:
            while True:
                started = perf_counter()
                item, error = ready.get()
                self.input_wait_s += perf_counter() - started
                if error is not None:
                    raise error
                if item is _END:
                    return
                yield item
                item = None  # let the batch go while the next one is awaited
        finally:
            # the caller stopped (done, an error, KeyboardInterrupt, or it broke off):
            # the worker ends after the part it is decoding
            stop.set()
            worker.join()


def _produce(items: Iterable, ready: queue.Queue, stop: threading.Event) -> None:
    try:
        for item in items:
            if not _put(ready, stop, (item, None)):
                return
        _put(ready, stop, (_END, None))
    except BaseException as error:  # handed to the caller, raised there in order
        _put(ready, stop, (None, error))


def _put(ready: queue.Queue, stop: threading.Event, entry: tuple) -> bool:
    """Waits for room in the queue; False if the caller stopped meanwhile."""
    while not stop.is_set():
        try:
            ready.put(entry, timeout=_PUT_POLL_S)
            return True
        except queue.Full:
            continue
    return False
