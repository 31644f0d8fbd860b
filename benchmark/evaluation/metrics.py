"""IR metrics through pytrec_eval, averaged over every query of the task.

Two choices differ from a bare pytrec_eval call, both to avoid pitfalls seen in
peer tools:
- a query with no returned page still counts, with 0 for every metric, instead of
  vanishing from the average;
- nothing else: pytrec_eval gets the run's own scores, the ones written to the
  `.trec` file. It re-sorts them by trec_eval's rule (score descending, then page id
  descending), which is the rule every ranked list in pagebench already follows
  (`benchmark.engine.ranking`), so trec_eval or ir_measures on the written files
  give these same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

from benchmark.core.types import Qrels, RankedRun
from benchmark.core.vocabulary import CUTOFFS, METRIC_NAMES

# our family name -> pytrec_eval's measure family (MRR@k is derived from recip_rank)
_FAMILIES = {"ndcg": "ndcg_cut", "map": "map_cut", "recall": "recall", "precision": "P"}


def evaluate_run(qrels: Qrels, run: RankedRun) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean metrics over all queries in `qrels`, and the per-query values.

    `run` is not modified. Queries in `run` but not in `qrels` are ignored.
    """
    import pytrec_eval

    cutoffs = ",".join(str(k) for k in CUTOFFS)
    measures = {f"{family}.{cutoffs}" for family in _FAMILIES.values()} | {"recip_rank"}
    evaluator = pytrec_eval.RelevanceEvaluator({qid: dict(judged) for qid, judged in qrels.items()}, measures)
    scores = {
        qid: {page_id: float(score) for page_id, score in ranked}
        for qid, ranked in run.items()
        if qid in qrels and ranked
    }
    raw = evaluator.evaluate(scores)

    per_query = {qid: _named_measures(raw.get(qid)) for qid in qrels}
    n = len(per_query)
    means = {
        name: (sum(values[name] for values in per_query.values()) / n if n else 0.0) for name in METRIC_NAMES
    }
    return means, per_query


def _named_measures(measured: Mapping[str, float] | None) -> dict[str, float]:
    """Rename pytrec_eval's keys to ours; a query pytrec_eval did not score gets zeros."""
    if measured is None:
        return {name: 0.0 for name in METRIC_NAMES}
    values = {}
    for name, family in _FAMILIES.items():
        for k in CUTOFFS:
            values[f"{name}_at_{k}"] = float(measured[f"{family}_{k}"])
    reciprocal_rank = float(measured["recip_rank"])
    for k in CUTOFFS:
        # recip_rank is 1/rank of the first relevant page; MRR@k keeps it if rank <= k.
        values[f"mrr_at_{k}"] = (
            reciprocal_rank if reciprocal_rank > 0 and round(1 / reciprocal_rank) <= k else 0.0
        )
    return {name: values[name] for name in METRIC_NAMES}
