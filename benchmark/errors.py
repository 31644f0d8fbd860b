"""Errors that reach the user as one line, without a traceback.

Anything raised as a ``PagebenchError`` is a problem with the user's input or
environment (bad spec, missing column, unknown id, missing Tesseract...). The CLI
prints its message and exits non-zero; other exceptions are bugs and keep their
traceback under ``--debug``.
"""


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


def unknown_name(kind: str, name: str, known: list[str], listing_command: str) -> UnknownNameError:
    """`unknown task 'docvqa2'; did you mean 'docvqa'?` with the command that lists them."""
    import difflib

    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return UnknownNameError(f"unknown {kind} {name!r}{hint} (`{listing_command}` lists them)")
