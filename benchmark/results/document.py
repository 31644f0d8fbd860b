"""Building a results file from what a run produced: the task, the retriever's
description, the metrics and the measured costs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from benchmark.core.protocols import TIE_RULE
from benchmark.results.environment import environment
from benchmark.results.schema import (
    DROPPED_IDS_KEPT,
    SCHEMA_VERSION,
    DroppedRecord,
    Efficiency,
    Evaluation,
    MainScore,
    ResultsFile,
    RetrieverSection,
    SkippedPageRecord,
    TaskSection,
    Timestamps,
)
from benchmark.tasks.data import TaskData
from benchmark.tasks.drops import Dropped


def task_section(task: TaskData) -> TaskSection:
    spec = task.spec
    # unset unless something was dropped, so a clean task's section is as before
    dropped = {"dropped": [_dropped_record(record) for record in task.dropped]} if task.dropped else {}
    return TaskSection(
        name=spec.name,
        suite=spec.suite,
        format=spec.format,
        dataset=spec.dataset,
        source=spec.source_label,
        revision=spec.revision,
        resolved_revision=task.resolved_revision,
        split=spec.split,
        languages=list(spec.languages),
        query_language=spec.query_language,
        main_score=spec.main_score,
        fingerprint=task.fingerprint,
        n_queries=len(task.queries),
        n_pages=task.corpus.n_pages,
        n_corpus_entries=len(task.corpus),
        notes=list(task.notes),
        **dropped,
    )


def _dropped_record(record: Dropped) -> DroppedRecord:
    return DroppedRecord(
        kind=record.kind,
        reason=record.reason,
        count=record.count,
        first_ids=list(record.ids[:DROPPED_IDS_KEPT]),
    )


def results_document(
    task: TaskData,
    *,
    run_name: str,
    retriever_name: str,
    described: dict,
    page_text: dict | None,
    skipped: Iterable[tuple[str, str]],
    protocol: str,
    metrics: dict[str, float],
    per_query: dict[str, dict[str, float]],
    efficiency: Efficiency,
    started_at: datetime,
    finished_at: datetime,
) -> ResultsFile:
    """`described`: the retriever's `describe()`; `skipped`: (page id, reason) of pages left out."""
    main_score = task.spec.main_score
    return ResultsFile(
        schema_version=SCHEMA_VERSION,
        run_name=run_name,
        task=task_section(task),
        # as before the typed model: what describe() says, between the name and page_text
        retriever=RetrieverSection.model_validate(
            {"name": retriever_name, **described, "page_text": page_text}
        ),
        evaluation=Evaluation(protocol=protocol, tie_rule=TIE_RULE),
        main_score=MainScore(name=main_score, value=metrics[main_score]),
        skipped_pages=[SkippedPageRecord(id=page_id, reason=reason) for page_id, reason in skipped],
        metrics=metrics,
        per_query=per_query,
        efficiency=efficiency,
        environment=environment(device=described.get("device", "cpu")),
        timestamps=Timestamps(started=started_at.isoformat(), finished=finished_at.isoformat()),
    )
