"""Finding and reading results files for the reports (leaderboard, compare, check).

A *run* is what one `pagebench run` wrote: a folder `<output>/<run-name>/` holding a
`<task>.json` per task. Reports accept a run folder, a single results file, or (for
the leaderboard) a folder of run folders.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.results.reader import read_result
from benchmark.results.schema import ResultsFile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredResult:
    """One results file, read and migrated to the current schema."""

    path: Path
    document: ResultsFile

    @property
    def task_name(self) -> str:
        return self.document.task.name

    @property
    def suite(self) -> str:
        return self.document.task.suite

    @property
    def fingerprint(self) -> str:
        return self.document.task.fingerprint

    @property
    def run_name(self) -> str:
        return self.document.run_name

    def metric(self, name: str) -> float:
        if name not in self.document.metrics:
            raise PagebenchError(f"{self.path}: no metric {name!r} in this results file")
        return self.document.metrics[name]

    def per_query(self, name: str) -> dict[str, float]:
        """Per-query values of one metric, by query id."""
        try:
            return {qid: values[name] for qid, values in self.document.per_query.items()}
        except KeyError:
            raise PagebenchError(f"{self.path}: per-query values of {name!r} are missing") from None


def result_paths(path: Path) -> list[Path]:
    """Every results file at or below `path`, sorted (so reports do not depend on the file system)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise PagebenchError(f"{path}: no such results file or folder")
    return sorted(path.rglob("*.json"))


def read_results(paths: list[Path]) -> list[StoredResult]:
    found = []
    for path in paths:
        for file in result_paths(path):
            found.append(StoredResult(file, read_result(file)))
    return found


def read_run(path: Path) -> dict[str, StoredResult]:
    """One run's results by task name: `path` is a run folder or one results file."""
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            inner = sorted(
                child.name for child in path.iterdir() if child.is_dir() and any(child.glob("*.json"))
            )
            if len(inner) == 1:  # an --output-dir holding one run: that run is meant
                log.info("%s holds one run, %s: reading it", path, inner[0])
                return read_run(path / inner[0])
            hint = f"; it holds the runs {', '.join(inner)}: name one of them" if inner else ""
            raise PagebenchError(f"{path}: no results files (<task>.json) in this folder{hint}")
    else:
        files = result_paths(path)
    by_task: dict[str, StoredResult] = {}
    for file in files:
        result = StoredResult(file, read_result(file))
        if result.task_name in by_task:
            raise PagebenchError(
                f"{file} and {by_task[result.task_name].path} both hold task {result.task_name!r}"
            )
        by_task[result.task_name] = result
    return by_task
