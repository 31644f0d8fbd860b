"""Is run B really better than run A? Paired tests on per-query scores.

Both tests work on the per-query differences `b - a` of one or more tasks (groups).
The statistic is the mean over tasks of each task's mean difference, so with one task
it is the plain mean difference and with a suite it is the change of the suite
average (each task weighs the same, as in the leaderboard).

- 95 % confidence interval: paired bootstrap, resampling queries with replacement
  inside each task (stratified), percentile interval.
- p-value: paired randomisation (sign-flip) test, two-sided: under "no difference"
  swapping A and B for a query is as likely as not. Exact (all 2^n flips) for up to
  `EXACT_LIMIT` queries, Monte Carlo otherwise, counting the observed assignment
  as one of the draws so p is never 0.

Both use a seeded generator: the same inputs give the same numbers on every run.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.core.defaults import RESAMPLES, STATISTICS_SEED

EXACT_LIMIT = 16  # 2^16 sign patterns: exact and still instant
TIE_TOLERANCE = 1e-9  # per-query scores closer than this are a tie
_CHUNK = 500  # resamples drawn at a time, to bound memory on large tasks


@dataclass(frozen=True)
class PairedComparison:
    n_queries: int
    mean_a: float
    mean_b: float
    difference: float  # mean_b - mean_a (task-averaged)
    ci_low: float
    ci_high: float
    p_value: float
    wins: int  # queries where B is better
    ties: int
    losses: int  # queries where A is better

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def compare_paired(
    groups: Sequence[tuple[Sequence[float], Sequence[float]]],
    *,
    resamples: int = RESAMPLES,
    seed: int = STATISTICS_SEED,
    confidence: float = 0.95,
) -> PairedComparison:
    """`groups`: one (scores of A, scores of B) pair per task, aligned query by query."""
    pairs = [(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)) for a, b in groups]
    if not pairs or any(len(a) == 0 or len(a) != len(b) for a, b in pairs):
        raise ValueError("each group needs the same, non-zero number of scores for A and B")
    if not all(np.isfinite(a).all() and np.isfinite(b).all() for a, b in pairs):
        raise ValueError("scores must be finite: a NaN would make every test pass or fail by accident")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    differences = [b - a for a, b in pairs]
    rng = np.random.default_rng(seed)
    low, high = _bootstrap_interval(differences, rng, resamples, confidence)
    wins = sum(int((d > TIE_TOLERANCE).sum()) for d in differences)
    losses = sum(int((d < -TIE_TOLERANCE).sum()) for d in differences)
    n_queries = sum(len(d) for d in differences)
    return PairedComparison(
        n_queries=n_queries,
        mean_a=float(np.mean([a.mean() for a, _ in pairs])),
        mean_b=float(np.mean([b.mean() for _, b in pairs])),
        difference=_statistic(differences),
        ci_low=low,
        ci_high=high,
        p_value=_randomisation_p_value(differences, rng, resamples),
        wins=wins,
        ties=n_queries - wins - losses,
        losses=losses,
    )


def _statistic(differences: list[np.ndarray]) -> float:
    return float(np.mean([d.mean() for d in differences]))


def _bootstrap_interval(
    differences: list[np.ndarray], rng: np.random.Generator, resamples: int, confidence: float
) -> tuple[float, float]:
    statistics = np.zeros(resamples)
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        total = np.zeros(size)
        for d in differences:
            picks = rng.integers(0, len(d), size=(size, len(d)))
            total += d[picks].mean(axis=1)
        statistics[start : start + size] = total / len(differences)
    tail = (1 - confidence) / 2
    low, high = np.quantile(statistics, [tail, 1 - tail])
    return float(low), float(high)


def _randomisation_p_value(differences: list[np.ndarray], rng: np.random.Generator, resamples: int) -> float:
    observed = abs(_statistic(differences))
    # A query's flipped difference enters the statistic with weight 1 / (n_tasks * n_task_queries).
    weights = np.concatenate([np.full(len(d), 1 / (len(d) * len(differences))) for d in differences])
    weighted = np.concatenate(differences) * weights
    threshold = observed - TIE_TOLERANCE
    if len(weighted) <= EXACT_LIMIT:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(weighted))))
        return float((np.abs(signs @ weighted) >= threshold).mean())
    at_least_as_extreme = 0
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        signs = rng.integers(0, 2, size=(size, len(weighted))) * 2.0 - 1.0
        at_least_as_extreme += int((np.abs(signs @ weighted) >= threshold).sum())
    return (at_least_as_extreme + 1) / (resamples + 1)
