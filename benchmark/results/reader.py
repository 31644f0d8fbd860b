"""Reading a results file back: parsed, migrated to the current schema and validated.

Every problem is one line naming the file and the field at fault (`pagebench` exits 2).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from pydantic import ValidationError

from benchmark.core.errors import ResultsFileError
from benchmark.results.migrations import OLDEST_READABLE, MigrationError, to_current
from benchmark.results.schema import SCHEMA_VERSION, ResultsFile


def read_result(path: Path) -> ResultsFile:
    """A results file in the current schema."""
    try:
        document = json.loads(
            path.read_text(encoding="utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float
        )
    except (OSError, ValueError, RecursionError) as error:
        # ValueError: not JSON, not UTF-8, NaN/Infinity, an integer too long to convert
        raise ResultsFileError(f"{path}: not a readable results file ({_short_error(error)})") from None
    if not isinstance(document, dict):
        raise ResultsFileError(f"{path}: not a results file (expected a JSON object)")
    version = document.get("schema_version")
    if isinstance(version, bool) or version not in range(OLDEST_READABLE, SCHEMA_VERSION + 1):
        raise ResultsFileError(
            f"{path}: schema_version {version!r} is not one this pagebench reads "
            f"({OLDEST_READABLE} to {SCHEMA_VERSION})"
        )
    try:
        # strict: a metric written as a string or a count as a float is a broken file, not one to coerce
        return ResultsFile.model_validate(to_current(document), strict=True)
    except ValidationError as error:
        raise ResultsFileError(f"{path}: {_first_problem(error)}") from None
    except MigrationError as error:
        raise ResultsFileError(f"{path}: {error}") from None


def _refuse_constant(name: str):
    """JSON has no NaN or Infinity; Python's parser would accept them as numbers."""
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    """`1e400` is valid JSON, and Python reads it as infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def _short_error(error: BaseException) -> str:
    return _short(str(error) or type(error).__name__, limit=120).strip("'\"")


def _first_problem(error: ValidationError) -> str:
    """`field 'efficiency.index_s': Input should be a valid number (got 'fast')`, and how many more."""
    problems = error.errors(include_url=False)
    first = problems[0]
    # a key from the file may hold a newline or a control character: escaped, one line
    where = ".".join(str(part) for part in first["loc"]).encode("unicode_escape").decode("ascii")
    where = where or "(the whole file)"
    got = "" if first["type"] == "missing" else f" (got {_short(first.get('input'))})"
    more = f"; and {len(problems) - 1} more problem(s)" if len(problems) > 1 else ""
    return f"field '{where}': {first['msg']}{got}{more}"


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
