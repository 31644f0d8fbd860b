"""What the HTML report reads: one run's results files, each task's ranking (`.trec`)
and the task itself (query texts, languages, page images), loaded from the spec that
the results file names."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from benchmark.core.errors import PagebenchError, ResultsFileError, UnknownNameError, unknown_name
from benchmark.core.types import Query, RankedRun
from benchmark.report.collect import StoredResult, read_run
from benchmark.tasks import load_task
from benchmark.tasks.catalog import local_folder_spec, resolve_task
from benchmark.tasks.data import TaskData
from benchmark.tasks.spec import TaskSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskRun:
    """One task of a run: its results file, its ranking and the loaded task."""

    result: StoredResult
    ranking: RankedRun
    task: TaskData

    @property
    def name(self) -> str:
        return self.result.task_name

    @cached_property
    def queries(self) -> dict[str, Query]:
        return {query.id: query for query in self.task.queries}

    @cached_property
    def page_positions(self) -> dict[str, int]:
        """Page id (as qrels and runs name it) -> its first corpus entry, whose image shows it."""
        positions: dict[str, int] = {}
        for position, page_id in enumerate(self.task.corpus.qrels_ids):
            positions.setdefault(page_id, position)
        return positions

    def language_of(self, query_id: str) -> str:
        """The query's language; a task that records none per query has its one language
        (so the language filter never hides a query for lack of a tag)."""
        query = self.queries.get(query_id)
        if query is not None and query.language:
            return query.language
        languages = self.result.document.task.languages
        return self.result.document.task.query_language or (languages[0] if len(languages) == 1 else "")

    def rank_of(self, query_id: str, page_id: str) -> int | None:
        """1-based rank of a page in a query's ranking, None when not retrieved."""
        for rank, (ranked_id, _) in enumerate(self.ranking.get(query_id, []), start=1):
            if ranked_id == page_id:
                return rank
        return None

    def gold_page(self, query_id: str) -> str | None:
        """The most relevant judged page, the best-ranked one among equals."""
        judged = {page: grade for page, grade in self.task.qrels.get(query_id, {}).items() if grade > 0}
        if not judged:
            return None

        def order(page: str) -> tuple[int, int]:
            rank = self.rank_of(query_id, page)
            return (-judged[page], rank if rank is not None else 1 << 30)

        return min(sorted(judged), key=order)


def read_ranking(path: Path) -> RankedRun:
    """A `.trec` run file (`qid Q0 docid rank score run`), best first per query."""
    if not path.is_file():
        raise ResultsFileError(f"{path}: the ranking of this results file is missing")
    ranked: dict[str, list[tuple[int, str, float]]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            query_id, _, page_id, rank, score = fields[:5]
            ranked.setdefault(query_id, []).append((int(rank), page_id, float(score)))
        except ValueError:
            raise ResultsFileError(
                f"{path}:{number}: expected 'qid Q0 docid rank score run', got {line[:80]!r}"
            ) from None
    return {qid: [(page, score) for _, page, score in sorted(rows)] for qid, rows in ranked.items()}


def task_spec_of(result: StoredResult) -> TaskSpec:
    """The spec a results file was made from: a bundled task by name, else its local folder."""
    section = result.document.task
    try:
        return resolve_task(section.name)
    except UnknownNameError as error:
        folder = Path(section.source) if section.source else None
        if folder is not None and folder.is_dir():
            return local_folder_spec(folder)
        raise PagebenchError(f"{result.path}: cannot load its task to show pages: {error}") from None


def load_task_runs(
    run: Path, only_task: str | None = None, *, among: set[str] | None = None
) -> dict[str, TaskRun]:
    """Every task of a run (or only `only_task`; only those `among` when given), with
    rankings and loaded tasks."""
    results = read_run(run)
    if among is not None:
        results = {name: result for name, result in results.items() if name in among}
    if only_task is not None:
        if only_task not in results:
            raise unknown_name("task", only_task, list(results), f"ls {run}")
        results = {only_task: results[only_task]}
    return {name: _task_run(result) for name, result in results.items()}


def _task_run(result: StoredResult) -> TaskRun:
    ranking = read_ranking(result.path.with_suffix(".trec"))
    task = load_task(task_spec_of(result))
    if task.fingerprint != result.fingerprint:
        log.warning(
            "%s: task %s now loads other data than it was evaluated on; pages shown may differ",
            result.path,
            result.task_name,
        )
    return TaskRun(result=result, ranking=ranking, task=task)
