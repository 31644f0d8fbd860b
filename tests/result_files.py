"""Results files with chosen per-query scores, built on a real committed results file (so
they have the real schema), for the report tests."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.core.vocabulary import METRIC_NAMES

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "results" / "bm25-ocr" / "debian-faq-en.json"
SUITE_OF = {"debian-faq-en": "debian-faq", "debian-faq-fr": "debian-faq", "docvqa": "vidore-v1"}


def write_result_file(
    root: Path,
    run_name: str,
    task: str,
    scores: list[float],
    *,
    fingerprint: str | None = None,
    retriever: str = "bm25-ocr",
    checkpoint: str | None = None,
    efficiency: dict | None = None,
    protocol: str = "pagebench",
    suite: str | None = None,
    main_score: str = "ndcg_at_5",
    metric_means: dict[str, float] | None = None,
) -> Path:
    """<root>/<run_name>/<task>.json whose every metric of query i is scores[i]
    (`metric_means` then overrides the mean of chosen metrics)."""
    document = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    per_query = {f"q{i:03d}": dict.fromkeys(METRIC_NAMES, value) for i, value in enumerate(scores)}
    means = {name: sum(scores) / len(scores) for name in METRIC_NAMES} | (metric_means or {})
    document.update(run_name=run_name, per_query=per_query, metrics=means)
    document["main_score"] = {"name": main_score, "value": means[main_score]}
    document["task"].update(
        name=task,
        suite=suite or SUITE_OF[task],
        fingerprint=fingerprint or f"fingerprint-of-{task}",
        n_pages=100,
        main_score=main_score,
    )
    document["retriever"].update(name=retriever, checkpoint=checkpoint)
    document["evaluation"] = {"protocol": protocol, "tie_rule": "trec_eval"}
    document["efficiency"] = {
        "device": "cpu",
        "query_ms_p50": 10.0,
        "index_s": 2.0,
        "index_bytes_total": 100_000,
        **(efficiency or {}),
    }
    document["environment"] = {"device": document["efficiency"]["device"]}
    path = root / run_name / f"{task}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path
