"""Progress: a bar on a terminal (tqdm), log lines elsewhere.

A batch job's stderr is a file, where a bar is unreadable (every redraw is kept) and
tqdm switches itself off, so an hour of indexing would say nothing. There, progress is
logged instead: a line each time another tenth of the work is done or
`LOG_EVERY_S` have passed, whichever comes first, after a quiet start (a job over
within `QUIET_START_S` needs no progress report).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

LOG_EVERY_FRACTION = 0.1
LOG_EVERY_S = 30.0
QUIET_START_S = 10.0

logger = logging.getLogger(__name__)


def progress_bar(*, total: int, unit: str, desc: str, enabled: bool = True, stream=None):
    """A context manager with `update(n)`: a tqdm bar when `stream` (default stderr) is a
    terminal, progress lines in the log otherwise, nothing when not `enabled`."""
    stream = stream if stream is not None else sys.stderr
    if enabled and not _is_terminal(stream):
        return LoggedProgress(total=total, unit=unit, desc=desc)
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, desc=desc, leave=False, file=stream, disable=not enabled)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class LoggedProgress:
    """Progress as log lines: `index: 300/1000 pages (30 %), 12.0 pages/s, about 58 s left`."""

    def __init__(self, *, total: int, unit: str, desc: str, clock: Callable[[], float] = time.monotonic):
        self.total, self.unit, self.desc, self.clock = total, unit, desc, clock
        self.done = 0
        self.started = self.last_logged = clock()
        self.logged_step = 0  # tenths of the work already reported

    def __enter__(self) -> LoggedProgress:
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def update(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if now - self.started < QUIET_START_S:
            return
        step = int(self.done / self.total / LOG_EVERY_FRACTION) if self.total else 0
        if step > self.logged_step or now - self.last_logged >= LOG_EVERY_S:
            self.logged_step, self.last_logged = step, now
            logger.info(self._line(now - self.started))

    def _line(self, elapsed_s: float) -> str:
        percent = 100 * self.done / self.total if self.total else 100.0
        units = f"{self.unit[:-1]}ies" if self.unit.endswith("y") else f"{self.unit}s"
        line = f"{self.desc}: {self.done}/{self.total} {units} ({percent:.0f} %)"
        if elapsed_s > 0 and self.done:
            rate = self.done / elapsed_s
            line += f", {rate:.1f} {units}/s"
            if self.done < self.total:
                line += f", about {(self.total - self.done) / rate:.0f} s left"
        return line
