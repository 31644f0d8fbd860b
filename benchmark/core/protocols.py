"""Evaluation protocols: which tool's semantics a run's numbers follow.

All three rank by trec_eval's rule (score as float32, descending; then id, descending)
and compute ndcg, map, recall and precision with pytrec_eval. They differ where the
official tools do (each fact is from their source; see the README section "How
pagebench's numbers relate to the official tools"):

- `pagebench` (default): exact float32 scores, nothing floored, unrounded means; MRR@k
  is trec_eval's `recip_rank` cut at k, so trec_eval on the `.trec` reproduces it all.
- `vidore`: vidore-benchmark 5.0.0 (`ViDoReEvaluatorQA` / `ViDoReEvaluatorBEIR`, which
  compute metrics with mteb 1.16's `RetrievalEvaluator`):
  - merging rows into pages, `max(results.get(page, 0), score)`: every page's score is
    floored at 0 except the page of the corpus's first entry (its first row sets it);
  - ndcg/map/recall/precision means rounded to 5 digits;
  - MRR@k by its own code: a stable sort by score alone, so ties keep the order in which
    pages first appear in the corpus, and the mean is over every query searched;
  - the official retrievers' score arithmetic, where vidore-benchmark has the retriever:
    ColPali/ColQwen2 as colpali-engine's `score_multi_vector` (bfloat16 model, scores in
    the embedding dtype, zero-padded blocks of vidore's default --batch-score, 4),
    BiSigLIP's raw float32 dot product (`benchmark.engine.reference_scoring`); bm25-ocr
    takes `--param variant=vidore`.
- `mteb`: MTEB 2.x's `calculate_retrieval_scores`: ndcg/map/recall/precision means
  rounded to 5 digits; MRR@k its own code, ordered as trec_eval, not rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TIE_RULE = "trec_eval"  # score descending, then id descending (`benchmark.engine.ranking`)


@dataclass(frozen=True)
class EvaluationProtocol:
    name: str
    floor_merged_scores: bool  # max(results.get(page, 0), score) when merging entries
    mean_digits: int | None  # round(mean, digits) for ndcg/map/recall/precision
    mrr_ties: Literal["trec_eval", "corpus order"]
    official_arithmetic: bool  # retrievers score as the official tool's retrievers do


PROTOCOLS = {
    "pagebench": EvaluationProtocol("pagebench", False, None, "trec_eval", official_arithmetic=False),
    "vidore": EvaluationProtocol("vidore", True, 5, "corpus order", official_arithmetic=True),
    "mteb": EvaluationProtocol("mteb", False, 5, "trec_eval", official_arithmetic=False),
}
PROTOCOL_NAMES = tuple(PROTOCOLS)
DEFAULT_PROTOCOL = "pagebench"
ROUNDED_FAMILIES = ("ndcg", "map", "recall", "precision")  # MRR is never rounded by either tool
