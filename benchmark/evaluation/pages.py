"""Corpus entries -> ranked pages: the step between a retriever's run and the metrics.

A retriever ranks corpus *entries*. In the ViDoRe v1 QA format every dataset row is an
entry, and several rows can show the same page (`Corpus.qrels_ids`): the official
evaluator scores a page by the max over its rows (see `benchmark.tasks.vidore_qa`).
Everywhere else an entry is a page and this only applies the tie rule and the cut-off.
"""

from __future__ import annotations

from benchmark.core.errors import PagebenchError
from benchmark.core.types import Corpus, RankedRun
from benchmark.engine.ranking import best_first


def entry_depth(corpus: Corpus, top_k: int) -> int:
    """How many entries to fetch per query so that merging repeated pages still leaves `top_k` pages."""
    return top_k + (len(corpus) - corpus.n_pages)


def rank_pages(entry_run: RankedRun, corpus: Corpus, top_k: int, expected_queries: list[str]) -> RankedRun:
    """Pages best first (a page's score is the max over its entries), ties by
    page id descending, `top_k` kept.

    Every expected query gets a list, empty if the retriever returned nothing for it.
    """
    page_of = dict(zip(corpus.ids, corpus.qrels_ids, strict=True))
    ranked: RankedRun = {}
    for query_id in expected_queries:
        best: dict[str, float] = {}
        for entry_id, score in best_first(entry_run.get(query_id, [])):
            page_id = page_of.get(entry_id)
            if page_id is None:
                raise PagebenchError(
                    f"the retriever returned {entry_id!r} for query {query_id!r}, which is not in the corpus"
                )
            best.setdefault(page_id, score)  # entries come best first: the first is the max
        ranked[query_id] = best_first(best.items())[:top_k]
    return ranked
