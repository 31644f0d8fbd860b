"""The metric vocabulary: every quality metric pagebench computes (higher is better;
`metric_label` says how tables show each) and every efficiency measure the leaderboard
ranks, with its label and which way is better (HELM-style: reports read the direction
from here instead of guessing).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.core.errors import UnknownNameError, did_you_mean

CUTOFFS = (1, 3, 5, 10, 20, 50, 100)
METRIC_FAMILIES = ("ndcg", "map", "recall", "precision", "mrr")
METRIC_NAMES = [f"{family}_at_{k}" for family in METRIC_FAMILIES for k in CUTOFFS]
DEFAULT_METRIC = "ndcg_at_5"  # the main score of ViDoRe v1 and v2 (v3: ndcg_at_10); compare and check default
HEADLINE_METRICS = ("ndcg_at_5", "ndcg_at_10", "recall_at_5", "mrr_at_10")

_FAMILY_LABELS = {"ndcg": "nDCG", "map": "MAP", "recall": "recall", "precision": "P", "mrr": "MRR"}


@dataclass(frozen=True)
class Measure:
    name: str  # as stored in results files
    label: str  # as tables and plots show it
    higher_is_better: bool


def metric_label(name: str) -> str:
    """`ndcg_at_5` -> `nDCG@5`; names outside the vocabulary are returned as they are."""
    family, _, cutoff = name.rpartition("_at_")
    return f"{_FAMILY_LABELS[family]}@{cutoff}" if family in _FAMILY_LABELS and cutoff.isdigit() else name


def metric_cutoff(name: str) -> int:
    """`ndcg_at_10` -> 10: how many ranked pages the metric reads."""
    return int(name.rpartition("_at_")[2])


def metrics_within(top_k: int) -> list[str]:
    """The metrics a run keeping `top_k` pages per query can compute: recall@100 from 5
    pages would be a wrong number, so a cutoff above `top_k` is not reported at all."""
    return [name for name in METRIC_NAMES if metric_cutoff(name) <= top_k]


def metric_name(text: str) -> str:
    """The stored name of a metric given as results files store it (`ndcg_at_5`) or as tables
    print it (`nDCG@5`, `Recall@10`, `MRR@10`, `P@5`), in any case; an unknown one is an
    error that lists the valid names."""
    spelled = text.strip().lower()
    family, at, cutoff = spelled.rpartition("@")
    if at:
        family = _FAMILY_ALIASES.get(family, family)
        spelled = f"{family}_at_{cutoff}"
    if spelled in METRIC_NAMES:
        return spelled
    hint = did_you_mean(spelled, METRIC_NAMES)
    raise UnknownNameError(
        f"unknown metric {text!r}{' (' + hint + ')' if hint else ''}; valid: {', '.join(METRIC_FAMILIES)} "
        f"at {', '.join(map(str, CUTOFFS))}, written as results files store them (ndcg_at_5) "
        "or as tables print them (nDCG@5)"
    )


# label families (lower-cased) that differ from the stored family
_FAMILY_ALIASES = {"p": "precision"} | {label.lower(): family for family, label in _FAMILY_LABELS.items()}


# What the leaderboard derives from each run's efficiency blocks.
EFFICIENCY_MEASURES = (
    Measure("query_ms_p50", "query ms p50", higher_is_better=False),
    Measure("pages_per_s", "pages/s", higher_is_better=True),
    Measure("bytes_per_page", "bytes/page", higher_is_better=False),
)
