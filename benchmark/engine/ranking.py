"""The tie rule and top-k, the one ordering every ranked list in pagebench follows.

Best score first; NaN ranks last; equal scores by id **descending**. That is
trec_eval's rule (`form_res_rels.c`, `comp_sim_docno`: score descending, then
`strcmp(docno2, docno1)`), which pytrec_eval, ir_measures, vidore-benchmark and MTEB
inherit. trec_eval holds a score as a C `float`, so scores are compared (and kept) as
float32: two doubles that round to the same float32 tie there, and tie here. The
engine, BM25 and the merging of corpus entries into pages all use it, so
the list pagebench ranks, writes to the `.trec` and scores is the list trec_eval builds
from that file. Python's string order is code-point order, the same as `strcmp` on
UTF-8 bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np


def id_ranks(ids: Sequence[str]) -> np.ndarray:
    """Each id's tie-break rank for `top_k` (0 wins a tie): its position in descending id order."""
    ranks = np.empty(len(ids), dtype=np.int64)
    ascending = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    ranks[ascending[::-1]] = np.arange(len(ids))
    return ranks


def top_k(scores: np.ndarray, k: int, tie_ranks: np.ndarray) -> np.ndarray:
    """Indices of the `k` best scores, best first; equal scores in `tie_ranks` order.

    NaN scores rank last. Only the candidates at or above the k-th score are sorted,
    so the cost stays close to linear in the corpus size.
    """
    scores = np.asarray(scores, dtype=np.float32)
    scores = np.where(np.isnan(scores), -np.inf, scores)
    n = len(scores)
    k = min(k, n)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k < n:
        kth_best = np.partition(scores, n - k)[n - k]
        candidates = np.flatnonzero(scores >= kth_best)
    else:
        candidates = np.arange(n)
    order = np.lexsort((tie_ranks[candidates], -scores[candidates]))
    return candidates[order[:k]]


def _as_ranked_score(score: float) -> float:
    """The score as trec_eval holds it: float32 (NaN as -inf), returned as a Python float."""
    return float("-inf") if math.isnan(score) else float(np.float32(score))


def best_first(scored: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """(id, score) pairs in ranking order: score (float32, NaN as -inf) descending, then id descending."""
    cleaned = [(item_id, _as_ranked_score(score)) for item_id, score in scored]
    return sorted(cleaned, key=lambda item: (item[1], item[0]), reverse=True)
