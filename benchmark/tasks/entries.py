"""The cells every loader reads, checked where they are read: ids, texts and relevance.

An id travels into TREC files (whitespace-separated), results files and reports, so a
bad one is refused at load time, naming the file and line or row, rather than after
the whole evaluation (or never, when the page is never ranked). One module, so that
every format refuses the same id with the same words.
"""

from __future__ import annotations

import re
import unicodedata

from benchmark.core.errors import TaskDataError

MAX_ID_CHARS = 200  # longer is a mistake (a text pasted as an id), not a name
# Integer ids come from int64 columns (ViDoRe v3); larger ones are not ids anyone wrote.
MAX_INTEGER_ID = 2**63 - 1
# pytrec_eval holds relevance in a C int; real grades are small.
MAX_RELEVANCE = 2**31 - 1
_INTEGER = re.compile(r"-?[0-9]{1,10}", re.ASCII)  # no '_', no '+', no non-ASCII digits


def entry_id(value, where: str) -> str:
    """A page or query id as a string: a non-empty string of at most MAX_ID_CHARS printable
    characters without whitespace, or an integer within int64 (ViDoRe v3 uses int64)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > MAX_INTEGER_ID:
            raise TaskDataError(f"{where}: integer id out of range (more than 64 bits)")
        return str(value)
    if not isinstance(value, str):
        raise TaskDataError(f"{where}: expected a string or integer id, got {_shown(value)}")
    problem = id_problem(value)
    if problem:
        raise TaskDataError(f"{where}: id {_shown(value)} {problem}")
    return value


def id_problem(text: str) -> str | None:
    """Why `text` cannot be an id, or None when it can."""
    if not text:
        return "is empty"
    if len(text) > MAX_ID_CHARS:
        return f"is {len(text)} characters long (at most {MAX_ID_CHARS})"
    if text != text.strip():
        return "has leading or trailing whitespace"
    if any(character.isspace() for character in text):
        return "contains whitespace (TREC files separate columns by whitespace)"
    bad = unicode_problem(text)
    if bad:
        return bad
    return None


def unicode_problem(text: str) -> str | None:
    """Control characters and lone surrogates: nothing downstream can write them."""
    for character in text:
        category = unicodedata.category(character)
        if category == "Cs":
            return f"contains a lone surrogate (U+{ord(character):04X}), which is not valid Unicode"
        if category == "Cc" and not character.isspace():
            return f"contains a control character (U+{ord(character):04X})"
    return None


def entry_text(value, where: str) -> str | None:
    """A text cell: None stays None, strings pass unless not valid Unicode; anything else
    is a typed error."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TaskDataError(f"{where}: expected text, got {_shown(value)}")
    if any(unicodedata.category(character) == "Cs" for character in value):
        raise TaskDataError(f"{where}: the text contains a lone surrogate, which is not valid Unicode")
    return value


def relevance_of(value, where: str) -> int:
    """A qrels score: an integer of at most 10 ASCII digits (as text, or a whole number)."""
    if isinstance(value, str):
        if not _INTEGER.fullmatch(value.strip()):
            raise TaskDataError(f"{where}: score must be an integer, got {_shown(value)}")
        value = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TaskDataError(f"{where}: score must be an integer, got {_shown(value)}")
    if abs(value) > MAX_RELEVANCE:
        raise TaskDataError(f"{where}: score {value} is out of range (at most {MAX_RELEVANCE})")
    return value


def add_judgement(
    qrels: dict[str, dict[str, int]],
    query_id: str,
    page_id: str,
    relevance: int,
    *,
    here: str,
    first_seen: dict[tuple[str, str], str],
    seen_here: str,
) -> None:
    """Record one qrels judgement. The same query and page judged again with the same
    score is harmless; with another score it is an error naming both places (`first_seen`
    holds where each pair was first judged, as `seen_here` words it: "on line 2")."""
    judged = qrels.setdefault(query_id, {})
    if page_id in judged and judged[page_id] != relevance:
        raise TaskDataError(
            f"{here}: query {query_id!r} and page {page_id!r} are judged {relevance} here and "
            f"{judged[page_id]} {first_seen[(query_id, page_id)]}: which is meant?"
        )
    judged[page_id] = relevance
    first_seen.setdefault((query_id, page_id), seen_here)


def _shown(value) -> str:
    """The value in a message: repr, cut short (a 5000-digit number is not shown whole)."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long for str()
        return f"{type(value).__name__} (too long to show)"
    shown = text if len(text) <= 60 else text[:57] + "..."
    return shown if isinstance(value, str) else f"{type(value).__name__} {shown}"
