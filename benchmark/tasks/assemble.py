"""The checks every loader's output goes through, and the task fingerprint.

Loaders only translate a format into corpus/queries/qrels; the consistency rules
(unique ids, qrels that point at real queries and pages, no empty query text) live
here once, so every format fails the same way on the same mistake. What a hub dataset
may have wrong and is evaluated anyway (`benchmark.tasks.drops`) is decided here too.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence

from benchmark.core.errors import TaskDataError
from benchmark.core.types import Corpus, Qrels, Query
from benchmark.tasks.data import TaskData
from benchmark.tasks.drops import DropLog, Dropped, Origins
from benchmark.tasks.entries import id_problem
from benchmark.tasks.spec import TaskSpec


def assemble_task(
    spec: TaskSpec,
    corpus: Corpus,
    queries: list[Query],
    qrels: Qrels,
    *,
    drops: DropLog,
    origins: Origins | None = None,
    resolved_revision: str | None = None,
    notes: list[str] | None = None,
    page_contents: Sequence[str] | None = None,
) -> TaskData:
    """Check and fingerprint a loader's output; `drops` says whether faults are left out or
    raised, `origins` where each query and judgement was read (for the messages),
    `page_contents` a digest of each corpus entry's content where no pinned revision fixes it."""
    notes = list(notes or [])
    where = f"task {spec.name!r}"
    origins = origins or Origins()
    _check_entries(corpus, queries, where)
    queries, qrels = _without_empty_queries(queries, qrels, drops, origins, where)
    qrels = _known_qrels(qrels, {query.id for query in queries}, set(corpus.qrels_ids), drops, origins, where)

    # A query nobody judged cannot be scored; keep it out of the average, visibly.
    unjudged = [query for query in queries if query.id not in qrels]
    if unjudged:
        notes.append(f"{len(unjudged)} queries have no qrels and are excluded (e.g. {unjudged[0].id!r})")
        queries = [query for query in queries if query.id in qrels]
    if not queries:
        raise TaskDataError(f"{where}: no query has qrels, nothing to evaluate")
    # Judged, but nothing relevant: every metric is 0 for it, as in pytrec_eval. Kept, visibly.
    hopeless = [query.id for query in queries if not any(score > 0 for score in qrels[query.id].values())]
    if hopeless:
        notes.append(
            f"{len(hopeless)} queries have no relevant page (every judgement is 0 or less), so every "
            f"metric is 0 for them (e.g. {hopeless[0]!r})"
        )

    if spec.query_language is None:  # published sizes count every language
        for what, published, loaded in (
            ("queries", spec.n_queries, len(queries)),
            ("pages", spec.n_pages, corpus.n_pages),
        ):
            if published is not None and published != loaded:
                notes.append(f"the spec says {published} {what}, the data has {loaded}")

    dropped = drops.finish(where)
    fingerprint = task_fingerprint(spec, corpus, queries, qrels, resolved_revision, dropped, page_contents)
    return TaskData(
        spec=spec,
        corpus=corpus,
        queries=tuple(queries),
        qrels=qrels,
        fingerprint=fingerprint,
        resolved_revision=resolved_revision,
        notes=tuple(notes),
        dropped=dropped,
    )


def _check_entries(corpus: Corpus, queries: list[Query], where: str) -> None:
    """A corpus and unique ids: no dataset is usable without them."""
    if len(corpus) == 0:
        raise TaskDataError(f"{where}: the corpus is empty")
    _require_unique(corpus.ids, f"{where}: duplicate page id")
    _require_unique([query.id for query in queries], f"{where}: duplicate query id")
    # Loaders check ids where they read them (entries.py); page names a format derives
    # (vidore-qa's image_filename) are checked here, before any work.
    for page_name in set(corpus.qrels_ids):
        problem = id_problem(page_name)
        if problem:
            raise TaskDataError(f"{where}: page id {page_name!r} {problem}")


def _without_empty_queries(
    queries: list[Query], qrels: Qrels, drops: DropLog, origins: Origins, where: str
) -> tuple[list[Query], Qrels]:
    """Queries with text, and the qrels of those: an empty query asks nothing.

    (vidore-benchmark and MTEB would embed the empty string and score whatever comes back.)
    """
    kept = []
    for query in queries:
        if query.text and query.text.strip():
            kept.append(query)
        else:
            problem = f"{origins.of_query(query.id, where)}: query {query.id!r} has empty text"
            drops.drop("empty-query-text", query.id, problem)
    if len(kept) == len(queries):
        return queries, qrels
    kept_ids = {query.id for query in kept}
    empty_ids = {query.id for query in queries} - kept_ids
    return kept, {query_id: judged for query_id, judged in qrels.items() if query_id not in empty_ids}


def _known_qrels(
    qrels: Qrels, query_ids: set[str], page_ids: set[str], drops: DropLog, origins: Origins, where: str
) -> Qrels:
    """Qrels of known queries. A judgement of a page missing from the corpus is kept, as
    pytrec_eval counts it in the ideal ranking in the official tools too; it never matches."""
    known = {}
    for query_id, judged in qrels.items():
        first_page = next(iter(judged), "")
        if query_id not in query_ids:
            drops.drop(
                "qrels-unknown-query",
                query_id,
                f"{origins.of_qrel(query_id, first_page, where)}: qrels name query {query_id!r}, "
                "which is not among the queries",
            )
            continue
        known[query_id] = judged
        unknown_pages = [page_id for page_id in judged if page_id not in page_ids]
        for page_id in unknown_pages:
            others = len(unknown_pages) - 1
            drops.drop(
                "qrels-unknown-page",
                f"{query_id} -> {page_id}",
                f"{origins.of_qrel(query_id, page_id, where)}: qrels of query {query_id!r} name page "
                f"{page_id!r}, which is not in the corpus" + (f" (and {others} more)" if others else ""),
            )
    return known


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
    dropped: tuple[Dropped, ...] = (),
    page_contents: Sequence[str] | None = None,
) -> str:
    """A hash of what is evaluated: ids, query texts, qrels, the data revision, what
    loading left out of the data, and, where no pinned revision fixes them, the pages'
    contents and the DPI PDF pages are rendered at.

    Two results can be compared only if their fingerprints match. The local path is
    left out on purpose, so the same folder on two machines gives the same value. What
    was dropped enters only when something was, so a clean task's value never changed;
    page contents enter for data read from a folder (`benchmark.tasks.content`).
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
    if page_contents is not None:
        content["pages"] = sorted(zip(corpus.ids, page_contents, strict=True))
    if spec.format == "local":  # the only format with PDF pages, rendered at this DPI
        content["pdf_dpi"] = spec.pdf_dpi
    if dropped:
        content["dropped"] = {record.kind: sorted(record.ids) for record in dropped}
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return "sha256:" + digest.hexdigest()
