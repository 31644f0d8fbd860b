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


def entry_depth(corpus: Corpus, top_k: int, *, floor_merged_scores: bool = False) -> int:
    """How many entries to fetch per query so that merging repeated pages still leaves `top_k` pages.

    Flooring scores at 0 turns every negative score into a tie at 0, broken by page id,
    so which pages make the cut is only known from all of them.
    """
    if floor_merged_scores:
        return len(corpus)
    return top_k + (len(corpus) - corpus.n_pages)


def rank_pages(
    entry_run: RankedRun,
    corpus: Corpus,
    top_k: int | None,
    expected_queries: list[str],
    *,
    floor_merged_scores: bool = False,
) -> RankedRun:
    """Pages best first (a page's score is the max over its entries), ties by
    page id descending, `top_k` kept (all if None).

    With `floor_merged_scores`, the official evaluators' `max(results.get(page, 0), score)`:
    the page of the corpus's first entry keeps the max over its entries as it is (the
    first entry sets its value, so the 0 default never applies), every other page's
    score is floored at 0. Every expected query gets a list, empty if the
    retriever returned nothing for it.
    """
    page_of = dict(zip(corpus.ids, corpus.qrels_ids, strict=True))
    unfloored_page = corpus.qrels_ids[0] if len(corpus) else None
    ranked: RankedRun = {}
    for query_id in expected_queries:
        best: dict[str, float] = {}
        for entry_id, entry_score in best_first(entry_run.get(query_id, [])):
            page_id = page_of.get(entry_id)
            if page_id is None:
                raise PagebenchError(
                    f"the retriever returned {entry_id!r} for query {query_id!r}, which is not in the corpus"
                )
            floored = floor_merged_scores and page_id != unfloored_page
            # entries come best first and flooring keeps their order: a page's first is its max
            best.setdefault(page_id, max(entry_score, 0.0) if floored else entry_score)
        ranked[query_id] = best_first(best.items())[:top_k]
    return ranked


def first_positions(corpus: Corpus) -> dict[str, int]:
    """Each page's first position among the corpus entries: the order the official
    evaluators insert pages into their results, which their MRR keeps for ties."""
    positions: dict[str, int] = {}
    for position, page_id in enumerate(corpus.qrels_ids):
        positions.setdefault(page_id, position)
    return positions
