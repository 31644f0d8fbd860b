"""Where library log records go: stderr, one line each, prefixed like every pagebench message.

Library code logs (`logging.getLogger(__name__)`) and never prints; the command line
decides what is shown. INFO and above are shown; warnings say so.
"""

from __future__ import annotations

import logging
import sys


class _StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is now (tests capture it; a run may redirect it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never break a run
            self.handleError(record)


class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        return f"pagebench: {level}{record.getMessage()}"


def configure_logging(*, debug: bool = False) -> None:
    """Send the `benchmark` loggers' records to stderr (idempotent: calling it again replaces the handler)."""
    logger = logging.getLogger("benchmark")
    for handler in list(logger.handlers):
        if isinstance(handler, _StderrHandler):
            logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(_Format())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    logger.propagate = False
