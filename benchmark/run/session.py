"""A session: one retriever over several tasks, each loaded, evaluated and written in turn.

The failure policy lives here: with several tasks, a task that fails on bad input or
data (a `PagebenchError`) is reported and the others still run; each finished task's
files are already written when the next starts. With one task the error propagates.
Under torchrun the ranks agree on each task's outcome (`cluster.agreed`): a failure on
any rank fails the task on every rank, and rank 0 writes nothing for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.results.writer import TaskResult, write_result
from benchmark.retrievers import registry
from benchmark.retrievers.base import Retriever, RetrieverOptions
from benchmark.run.cluster import agreed
from benchmark.run.evaluate import evaluate
from benchmark.run.settings import RunSettings
from benchmark.tasks import load_task
from benchmark.tasks.catalog import resolve_task, specs_in_suite
from benchmark.tasks.data import TaskData
from benchmark.tasks.sample import sample_queries
from benchmark.tasks.spec import TaskSpec


@dataclass(frozen=True)
class TaskOutcome:
    """One task of the session: its result and where it was written, or why it failed."""

    spec: TaskSpec
    result: TaskResult | None = None
    path: Path | None = None
    seconds: float = 0.0  # loading, evaluating and writing
    error: PagebenchError | None = None


def resolve_specs(task_references: Sequence[str], suites: Sequence[str]) -> list[TaskSpec]:
    """Task names, spec files and folders, then every task of each suite, in that order."""
    if not task_references and not suites:
        raise PagebenchError("say what to evaluate: --task NAME (repeatable) or --suite NAME")
    specs = [resolve_task(reference) for reference in task_references]
    for suite in suites:
        specs.extend(specs_in_suite(suite))
    return specs


def load_retriever(name: str, options: RetrieverOptions) -> tuple[Retriever, float]:
    """The retriever and how long loading it (model weights included) took."""
    clock = time.perf_counter()
    retriever = registry.create(name, options)
    return retriever, time.perf_counter() - clock


def load_task_for(spec: TaskSpec, retriever: Retriever, settings: RunSettings) -> TaskData:
    """`spec` loaded as this run asks: page text only for a text retriever, the run's
    strictness, datasets cache and page confinement (one place for `run` and `profile`)."""
    return load_task(
        spec,
        need_page_text=retriever.page_input == "text",
        strict=settings.strict,
        cache_dir=settings.cache_dir,
        allow_outside_pages=settings.allow_outside_pages,
    )


def run_tasks(
    specs: Sequence[TaskSpec],
    retriever: Retriever,
    settings: RunSettings,
    *,
    output_dir: Path | None,
    run_name: str,
    model_load_s: float | None = None,
) -> Iterator[TaskOutcome]:
    """Evaluate and write each task, yielding as each finishes (rank 0 only under torchrun);
    with no `output_dir` nothing is written (the Python API's default)."""
    for spec in specs:
        clock = time.perf_counter()
        try:  # under torchrun every rank checks in after loading, and once rank 0 has written
            with agreed(settings.cluster):
                task = load_task_for(spec, retriever, settings)
                task = sample_queries(task, settings.max_queries, settings.query_sample_seed)
            task_load_s = time.perf_counter() - clock
            with agreed(settings.cluster):
                result = evaluate(
                    task,
                    retriever,
                    settings,
                    run_name=run_name,
                    task_load_s=task_load_s,
                    model_load_s=model_load_s,
                )
                path = None if result is None or output_dir is None else write_result(result, output_dir)
        except PagebenchError as error:
            if len(specs) == 1:
                raise
            yield TaskOutcome(spec, error=error)  # on every rank, so each knows the run failed
            continue
        if result is None:  # a rank other than 0: rank 0 reports and writes
            continue
        yield TaskOutcome(spec, result, path, time.perf_counter() - clock)
