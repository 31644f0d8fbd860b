"""The tie rule and top-k, the one ordering every ranked list in pagebench follows.

Best score first; NaN ranks last; equal scores by corpus id ascending. The engine,
BM25 and the merging of corpus entries into pages all use it, so two runs of the same
retriever give byte-identical run files and metrics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np


def id_ranks(ids: Sequence[str]) -> np.ndarray:
    """Position of each id in sorted order: the tie-break key for `top_k`."""
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[np.argsort(np.asarray(ids, dtype=object), kind="stable")] = np.arange(len(ids))
    return ranks


def top_k(scores: np.ndarray, k: int, tie_ranks: np.ndarray) -> np.ndarray:
    """Indices of the `k` best scores, best first; equal scores in `tie_ranks` order.

    NaN scores rank last. Only the candidates at or above the k-th score are sorted,
    so the cost stays close to linear in the corpus size.
    """
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


def best_first(scored: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """(id, score) pairs in ranking order: score descending (NaN as -inf), then id ascending."""
    cleaned = [(item_id, float("-inf") if math.isnan(score) else float(score)) for item_id, score in scored]
    return sorted(cleaned, key=lambda item: (-item[1], item[0]))
