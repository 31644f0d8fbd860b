"""Errors that reach the user as one line, without a traceback.

Anything raised as a ``PagebenchError`` is a problem with the user's input or
environment (bad spec, missing column, unknown id, missing Tesseract...). The CLI
prints its message and exits 2; other exceptions are bugs and keep their traceback
under ``--debug``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PagebenchError(Exception):
    """Base class: a message that names the file, row or id at fault."""


class SpecError(PagebenchError):
    """A task spec file is invalid."""


class TaskDataError(PagebenchError):
    """Task data (corpus, queries, qrels, pages) is missing, malformed or inconsistent."""


class BadPageError(TaskDataError):
    """One page cannot be read (corrupt, empty, too large); `--on-bad-page skip` skips it."""

    def __init__(self, page_id: str, message: str):
        super().__init__(message)
        self.page_id = page_id


class UnknownNameError(PagebenchError):
    """An unknown task or retriever name; the message carries close matches."""


class DependencyError(PagebenchError):
    """A required external program or package is missing."""


class ResultsFileError(PagebenchError):
    """A results file cannot be read, or a field of it is missing or of the wrong type."""


def did_you_mean(name: str, known: Iterable[str], *, limit: int = 3) -> str:
    """`did you mean 'docvqa'?` for the closest known names, or "" when none is close.

    The one place pagebench suggests names: tasks, suites, retrievers, metrics, spec fields.
    """
    close = difflib.get_close_matches(name, list(known), n=limit, cutoff=0.5)
    return f"did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def unknown_name(kind: str, name: str, known: list[str], listing_command: str) -> UnknownNameError:
    """`unknown task 'docvqa2'; did you mean 'docvqa'?` with the command that lists them."""
    hint = did_you_mean(name, known)
    return UnknownNameError(
        f"unknown {kind} {name!r}{'; ' + hint if hint else ''} (`{listing_command}` lists them)"
    )
