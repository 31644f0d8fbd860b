"""IR metrics through pytrec_eval, averaged over every query of the task.

pytrec_eval gets the run's own scores, the ones written to the `.trec` file. It
re-sorts them by trec_eval's rule (score descending, then page id descending), which
every ranked list in pagebench already follows (`benchmark.engine.ranking`), so
trec_eval or ir_measures on the written files give these same numbers. One choice
differs from a bare pytrec_eval call, to avoid a pitfall seen in peer tools: a query
with no returned page still counts, with 0 for every metric, instead of vanishing from
the average. The protocols (`benchmark.core.protocols`) then follow the official tools.
"""

from __future__ import annotations

from collections.abc import Mapping

from benchmark.core.protocols import DEFAULT_PROTOCOL, PROTOCOLS, ROUNDED_FAMILIES, EvaluationProtocol
from benchmark.core.types import Qrels, RankedRun
from benchmark.core.vocabulary import CUTOFFS, METRIC_NAMES

# our family name -> pytrec_eval's measure family (MRR@k is derived from recip_rank)
_FAMILIES = {"ndcg": "ndcg_cut", "map": "map_cut", "recall": "recall", "precision": "P"}


def evaluate_run(
    qrels: Qrels,
    run: RankedRun,
    protocol: EvaluationProtocol = PROTOCOLS[DEFAULT_PROTOCOL],
    page_positions: Mapping[str, int] | None = None,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean metrics over all queries in `qrels`, and the per-query values.

    `run` is not modified. Queries in `run` but not in `qrels` are ignored, except by
    the vidore protocol's MRR, whose mean is over every query searched (the official
    evaluator scores a query without judgements 0). `page_positions` (each page's first
    corpus position) is needed by a protocol whose MRR keeps corpus order for ties.
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
    mrr_queries = len(per_query)
    if protocol.mrr_ties == "corpus order":
        _official_mrr(qrels, run, per_query, page_positions or {})
        mrr_queries = len(set(run) | set(qrels))
    means = {}
    for name in METRIC_NAMES:
        family = name.split("_at_")[0]
        n = mrr_queries if family == "mrr" else len(per_query)
        mean = sum(values[name] for values in per_query.values()) / n if n else 0.0
        rounded = protocol.mean_digits is not None and family in ROUNDED_FAMILIES
        means[name] = round(mean, protocol.mean_digits) if rounded else mean
    return means, per_query


def _official_mrr(qrels: Qrels, run: RankedRun, per_query: dict[str, dict[str, float]], positions) -> None:
    """MRR@k as mteb 1.16's `mrr` (what vidore-benchmark calls): a stable sort by score
    alone over the pages in corpus order, cut at k; relevant means a judgement > 0."""
    for qid, values in per_query.items():
        ranked = sorted(run.get(qid, []), key=lambda item: (-item[1], positions.get(item[0], 0)))
        relevant = {page for page, grade in qrels[qid].items() if grade > 0}
        first = next((rank for rank, (page, _) in enumerate(ranked, start=1) if page in relevant), None)
        for k in CUTOFFS:
            values[f"mrr_at_{k}"] = 1.0 / first if first is not None and first <= k else 0.0


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
