"""Where library log records go: stderr, one line each, prefixed like every pagebench message.

Library code logs (`logging.getLogger(__name__)`) and never prints; the command line
decides what is shown. INFO and above are shown; warnings say so.
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


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


# peft (any version up to now) asks transformers 5 whether gradient checkpointing is on
# through an API transformers deprecates: a warning on every adapter load, not the user's to fix.
_KNOWN_WARNINGS = (("`is_gradient_checkpointing` is deprecated", FutureWarning),)


def filter_known_warnings() -> None:
    for message, category in _KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(message), category=category)


@contextmanager
def other_progress_bars(*, shown: bool) -> Iterator[None]:
    """`--no-progress` also silences the bars of the libraries pagebench calls: hub downloads,
    `datasets` and transformers' "Loading weights". All three go through huggingface_hub's
    switch, except that transformers copies it when imported; the state before is restored."""
    if shown:
        yield
        return
    import huggingface_hub.utils as hub

    hub_was_on = not hub.are_progress_bars_disabled()
    before = sys.modules.get("transformers.utils.logging")
    transformers_was_on = before is None or before.is_progress_bar_enabled()
    hub.disable_progress_bars()
    if before is not None:
        before.disable_progress_bar()
    try:
        yield
    finally:
        after = sys.modules.get("transformers.utils.logging")
        if after is not None and transformers_was_on and hub_was_on:
            after.enable_progress_bar()  # and the hub's
        elif hub_was_on:
            hub.enable_progress_bars()
