"""Every metric pagebench reports is what ir_measures (trec_eval's rules) computes from the
`.trec` and `.qrels` files it writes, on runs full of tied scores."""

import json
from itertools import groupby

import ir_measures
import numpy as np
import pytest
import torch
from ir_measures import AP, RR, P, R, nDCG

from benchmark.core.types import Corpus
from benchmark.core.vocabulary import CUTOFFS
from benchmark.evaluation.metrics import evaluate_run
from benchmark.evaluation.pages import rank_pages
from benchmark.results.writer import qrels_lines, trec_lines
from tests.conftest import make_local_folder

_MEASURES = {
    "ndcg": lambda k: nDCG @ k,
    "map": lambda k: AP @ k,
    "recall": lambda k: R @ k,
    "precision": lambda k: P @ k,
}


def measured_from_files(trec_path, qrels_path) -> dict[str, float]:
    """Mean of each pagebench metric, recomputed by ir_measures from the two files alone."""
    measures = {f"{name}_at_{k}": make(k) for name, make in _MEASURES.items() for k in CUTOFFS}
    qrels = list(ir_measures.read_trec_qrels(str(qrels_path)))
    run = list(ir_measures.read_trec_run(str(trec_path)))
    n_queries = len({qrel.query_id for qrel in qrels})
    # ir_measures averages over the queries in the run; pagebench counts a query with no
    # pages as 0, so sum per query and divide by every judged query here too.
    sums = dict.fromkeys(measures, 0.0)
    for metric in ir_measures.iter_calc(list(measures.values()), qrels, run):
        sums[next(name for name, measure in measures.items() if metric.measure == measure)] += metric.value
    # MRR@k is trec_eval's recip_rank on each query's first k pages in trec_eval's own
    # order (score, then docno, both descending). ir_measures' RR@k goes to its msmarco
    # provider, which orders ties otherwise, so take RR (pytrec_eval) on the cut run.
    in_trec_eval_order = sorted(run, key=lambda doc: (doc.query_id, doc.score, doc.doc_id), reverse=True)
    for k in CUTOFFS:
        cut = [
            doc
            for _, docs in groupby(in_trec_eval_order, key=lambda doc: doc.query_id)
            for doc in list(docs)[:k]
        ]
        sums[f"mrr_at_{k}"] = sum(metric.value for metric in ir_measures.iter_calc([RR], qrels, cut))
    return {name: total / n_queries for name, total in sums.items()}


def assert_files_reproduce(tmp_path, qrels, ranked, reported):
    trec_path, qrels_path = tmp_path / "run.trec", tmp_path / "run.qrels"
    trec_path.write_text(trec_lines(ranked, "tied"), encoding="utf-8")
    qrels_path.write_text(qrels_lines(qrels), encoding="utf-8")
    recomputed = measured_from_files(trec_path, qrels_path)
    differences = {
        name: (reported[name], value)
        for name, value in recomputed.items()
        if abs(reported[name] - value) > 1e-9
    }
    assert not differences


def tie_heavy_runs():
    rng = np.random.default_rng(7)
    ids = [f"page-{index:02d}" for index in range(30)]
    qrels = {f"q{query}": {ids[(7 * query) % 30]: 1, ids[(11 * query + 3) % 30]: 2} for query in range(12)}
    all_zero = {query: [(page, 0.0) for page in ids] for query in qrels}
    # one page under two ids scores the same as its twin
    twins = {query: [(page, float(rng.integers(0, 4))) for page in ids] for query in qrels}
    bfloat16 = {
        query: [
            (page, float(torch.tensor(float(score), dtype=torch.bfloat16).float()))
            for page, score in zip(ids, rng.normal(20.0, 0.05, size=30), strict=True)
        ]
        for query in qrels
    }
    return ids, qrels, {"all-zero": all_zero, "twins": twins, "bfloat16": bfloat16}


@pytest.mark.parametrize("kind", ["all-zero", "twins", "bfloat16"])
def test_the_written_files_reproduce_every_metric_on_tied_scores(tmp_path, kind):
    ids, qrels, runs = tie_heavy_runs()
    corpus = Corpus(ids=tuple(ids), qrels_ids=tuple(ids), images=None)
    entry_run = runs[kind]
    ranked = rank_pages(entry_run, corpus, top_k=10, expected_queries=list(qrels))
    reported, _ = evaluate_run(qrels, ranked)
    assert_files_reproduce(tmp_path, qrels, ranked, reported)


def test_ties_go_to_the_larger_id_as_in_trec_eval():
    corpus = Corpus(ids=("a", "b"), qrels_ids=("a", "b"), images=None)
    ranked = rank_pages({"q": [("a", 1.0), ("b", 1.0)]}, corpus, top_k=10, expected_queries=["q"])
    assert ranked == {"q": [("b", 1.0), ("a", 1.0)]}
    _, per_query = evaluate_run({"q": {"a": 1}}, ranked)
    assert per_query["q"]["ndcg_at_1"] == 0.0 and per_query["q"]["mrr_at_10"] == pytest.approx(0.5)


def test_a_run_of_bm25_reproduces_from_its_files(tmp_path, cli):
    # Duplicated pages and pages without a query word: BM25 ties at every score it gives.
    words = ["install package", "remove package", "kernel boot", "network setup", "mirror list"]
    pages = {f"p{index:02d}": words[index % len(words)] for index in range(20)}
    pages.update({f"blank{index}": "nothing relevant" for index in range(6)})
    queries = {
        f"q{index}": text for index, text in enumerate(["package", "boot kernel", "mirror", "printer"])
    }
    qrels = [("q0", "p01", 1), ("q0", "p16", 1), ("q1", "p17", 1), ("q2", "p09", 2), ("q3", "blank2", 1)]
    folder = make_local_folder(tmp_path / "task", pages, queries, qrels)
    code, _, err = cli(
        "run", "--task", folder, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "out", "--no-progress"
    )
    assert code == 0, err
    run_folder = tmp_path / "out" / "bm25-ocr"
    (json_path,) = run_folder.glob("*.json")
    reported = json.loads(json_path.read_text(encoding="utf-8"))["metrics"]
    recomputed = measured_from_files(json_path.with_suffix(".trec"), json_path.with_suffix(".qrels"))
    assert {name: round(value, 9) for name, value in recomputed.items()} == {
        name: round(reported[name], 9) for name in recomputed
    }
