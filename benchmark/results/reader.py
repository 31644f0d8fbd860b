"""Reading a results file back: parsed, migrated to the current schema and validated.

Every problem is one line naming the file and the field at fault (`pagebench` exits 2).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from benchmark.core.errors import ResultsFileError
from benchmark.results.migrations import OLDEST_READABLE, to_current
from benchmark.results.schema import SCHEMA_VERSION, ResultsFile


def read_result(path: Path) -> ResultsFile:
    """A results file in the current schema."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsFileError(f"{path}: not a readable results file ({error})") from None
    if not isinstance(document, dict):
        raise ResultsFileError(f"{path}: not a results file (expected a JSON object)")
    version = document.get("schema_version")
    if isinstance(version, bool) or version not in range(OLDEST_READABLE, SCHEMA_VERSION + 1):
        raise ResultsFileError(
            f"{path}: schema_version {version!r} is not one this pagebench reads "
            f"({OLDEST_READABLE} to {SCHEMA_VERSION})"
        )
    try:
        return ResultsFile.model_validate(to_current(document))
    except ValidationError as error:
        raise ResultsFileError(f"{path}: {_first_problem(error)}") from None


def _first_problem(error: ValidationError) -> str:
    """`field 'efficiency.index_s': Input should be a valid number (got 'fast')`, and how many more."""
    problems = error.errors(include_url=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "(the whole file)"
    got = "" if first["type"] == "missing" else f" (got {_short(first.get('input'))})"
    more = f"; and {len(problems) - 1} more problem(s)" if len(problems) > 1 else ""
    return f"field '{where}': {first['msg']}{got}{more}"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
