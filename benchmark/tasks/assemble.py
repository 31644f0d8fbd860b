"""The checks every loader's output goes through, and the task fingerprint.

Loaders only translate a format into corpus/queries/qrels; the consistency rules
(unique ids, qrels that point at real queries and pages, no empty query text) live
here once, so every format fails the same way on the same mistake.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from benchmark.core.errors import TaskDataError
from benchmark.core.types import Corpus, Qrels, Query
from benchmark.tasks.data import TaskData
from benchmark.tasks.spec import TaskSpec


def assemble_task(
    spec: TaskSpec,
    corpus: Corpus,
    queries: list[Query],
    qrels: Qrels,
    *,
    resolved_revision: str | None = None,
    notes: list[str] | None = None,
) -> TaskData:
    notes = list(notes or [])
    where = f"task {spec.name!r}"
    _check_entries(corpus, queries, where)
    _check_qrels(qrels, {query.id for query in queries}, set(corpus.qrels_ids), where)

    # A query nobody judged cannot be scored; keep it out of the average, visibly.
    unjudged = [query for query in queries if query.id not in qrels]
    if unjudged:
        notes.append(f"{len(unjudged)} queries have no qrels and are excluded (e.g. {unjudged[0].id!r})")
        queries = [query for query in queries if query.id in qrels]
    if not queries:
        raise TaskDataError(f"{where}: no query has qrels, nothing to evaluate")

    if spec.query_language is None:  # published sizes count every language
        for what, published, loaded in (
            ("queries", spec.n_queries, len(queries)),
            ("pages", spec.n_pages, corpus.n_pages),
        ):
            if published is not None and published != loaded:
                notes.append(f"the spec says {published} {what}, the data has {loaded}")

    fingerprint = task_fingerprint(spec, corpus, queries, qrels, resolved_revision)
    return TaskData(
        spec=spec,
        corpus=corpus,
        queries=tuple(queries),
        qrels=qrels,
        fingerprint=fingerprint,
        resolved_revision=resolved_revision,
        notes=tuple(notes),
    )


def _check_entries(corpus: Corpus, queries: list[Query], where: str) -> None:
    """A corpus, unique ids, and text for every query."""
    if len(corpus) == 0:
        raise TaskDataError(f"{where}: the corpus is empty")
    _require_unique(corpus.ids, f"{where}: duplicate page id")
    _require_unique([query.id for query in queries], f"{where}: duplicate query id")
    for query in queries:
        if not query.text or not query.text.strip():
            raise TaskDataError(f"{where}: query {query.id!r} has empty text")


def _check_qrels(qrels: Qrels, query_ids: set[str], page_ids: set[str], where: str) -> None:
    """Every judgement names a known query and a known page."""
    for query_id, judged in qrels.items():
        if query_id not in query_ids:
            raise TaskDataError(f"{where}: qrels name query {query_id!r}, which is not among the queries")
        unknown_pages = sorted(set(judged) - page_ids)
        if unknown_pages:
            raise TaskDataError(
                f"{where}: qrels of query {query_id!r} name page {unknown_pages[0]!r}, "
                "which is not in the corpus"
                + (f" (and {len(unknown_pages) - 1} more)" if len(unknown_pages) > 1 else "")
            )


def _require_unique(ids, message: str) -> None:
    if len(set(ids)) != len(ids):
        duplicate = next(value for value, count in Counter(ids).items() if count > 1)
        raise TaskDataError(f"{message} {duplicate!r}")


def task_fingerprint(
    spec: TaskSpec,
    corpus: Corpus,
    queries: list[Query],
    qrels: Qrels,
    resolved_revision: str | None,
) -> str:
    """A hash of what is evaluated: ids, query texts, qrels and the data revision.

    Two results can be compared only if their fingerprints match. The local path is
    left out on purpose, so the same folder on two machines gives the same value.
    """
    content = {
        "format": spec.format,
        "dataset": spec.dataset,
        "revision": resolved_revision or spec.revision,
        "split": spec.split,
        "query_language": spec.query_language,
        "corpus": sorted(zip(corpus.ids, corpus.qrels_ids, strict=True)),
        "queries": sorted((query.id, query.text) for query in queries),
        "qrels": sorted((qid, pid, score) for qid, judged in qrels.items() for pid, score in judged.items()),
    }
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return "sha256:" + digest.hexdigest()
