"""The pytrec_eval wrapper against values computed by hand."""

import copy
import math

import numpy as np
import pytest

from benchmark.core.types import Corpus
from benchmark.core.vocabulary import METRIC_NAMES
from benchmark.engine.ranking import id_ranks, top_k
from benchmark.evaluation.metrics import evaluate_run
from benchmark.evaluation.pages import rank_pages


def test_single_relevant_page_at_rank_two():
    qrels = {"q": {"b": 1}}
    means, per_query = evaluate_run(qrels, {"q": [("a", 3.0), ("b", 2.0), ("c", 1.0)]})
    values = per_query["q"]
    assert values["ndcg_at_1"] == 0.0
    assert values["ndcg_at_5"] == pytest.approx(1 / math.log2(3))
    assert values["recall_at_1"] == 0.0 and values["recall_at_3"] == 1.0
    assert values["precision_at_5"] == pytest.approx(1 / 5)
    assert values["mrr_at_1"] == 0.0 and values["mrr_at_10"] == pytest.approx(0.5)
    assert values["map_at_10"] == pytest.approx(0.5)
    assert means == values


def test_graded_relevance_uses_linear_gains():
    # DCG = 1/log2(2) + 2/log2(3); ideal = 2/log2(2) + 1/log2(3)
    qrels = {"q": {"a": 2, "b": 1}}
    _, per_query = evaluate_run(qrels, {"q": [("b", 0.9), ("a", 0.8)]})
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert per_query["q"]["ndcg_at_5"] == pytest.approx(expected)
    assert per_query["q"]["recall_at_1"] == pytest.approx(0.5)


def test_query_without_results_counts_as_zero():
    qrels = {"found": {"a": 1}, "empty": {"a": 1}, "absent": {"a": 1}}
    means, per_query = evaluate_run(qrels, {"found": [("a", 1.0)], "empty": []})
    assert per_query["empty"]["ndcg_at_5"] == 0.0
    assert per_query["absent"] == {name: 0.0 for name in METRIC_NAMES}
    assert means["ndcg_at_5"] == pytest.approx(1 / 3)  # averaged over all three queries


def test_mrr_is_cut_at_k():
    qrels = {"q": {"d": 1}}
    _, per_query = evaluate_run(qrels, {"q": [("a", 4), ("b", 3), ("c", 2), ("d", 1)]})
    assert per_query["q"]["mrr_at_3"] == 0.0
    assert per_query["q"]["mrr_at_5"] == pytest.approx(0.25)


def test_run_is_not_modified():
    run = {"q": [("a", 1.0), ("b", 0.5)], "other": [("a", 1.0)]}
    qrels = {"q": {"a": 1}}
    before = copy.deepcopy(run), copy.deepcopy(qrels)
    evaluate_run(qrels, run)
    assert (run, qrels) == before


def test_qa_rows_showing_one_page_merge_by_max():
    corpus = Corpus(ids=("row0", "row1", "row2"), qrels_ids=("a.png", "b.png", "a.png"), images=None)
    entry_run = {"q": [("row2", 0.75), ("row1", 0.5), ("row0", 0.25)]}
    assert rank_pages(entry_run, corpus, 10, ["q"]) == {"q": [("a.png", 0.75), ("b.png", 0.5)]}


def test_floor_at_zero_spares_only_the_first_rows_page():
    # vidore-benchmark: results[q] = {first row's page: its score}, then max(get(page, 0), s)
    corpus = Corpus(ids=("row0", "row1", "row2", "row3"), qrels_ids=("a", "b", "a", "c"), images=None)
    entry_run = {"q": [("row0", -2.0), ("row1", -1.0), ("row2", -0.5), ("row3", 0.25)]}
    floored = rank_pages(entry_run, corpus, 10, ["q"], floor_merged_scores=True)
    assert floored == {"q": [("c", 0.25), ("b", 0.0), ("a", -0.5)]}
    assert rank_pages(entry_run, corpus, 10, ["q"]) == {"q": [("c", 0.25), ("a", -0.5), ("b", -1.0)]}


def test_scores_are_ranked_as_trec_eval_holds_them_in_float32():
    # 0.1 + 1e-9 and 0.1 are one float32: a tie, broken by id descending
    corpus = Corpus(ids=("a", "b"), qrels_ids=("a", "b"), images=None)
    ranked = rank_pages({"q": [("a", 0.1 + 1e-9), ("b", 0.1)]}, corpus, 10, ["q"])
    assert [page for page, _ in ranked["q"]] == ["b", "a"]


def test_top_k_breaks_ties_by_id_descending_and_puts_nan_last():
    ids = ["d", "c", "b", "a"]
    scores = np.array([1.0, 2.0, 2.0, np.nan])
    best = top_k(scores, 3, id_ranks(ids))
    assert [ids[i] for i in best] == ["c", "b", "d"]
    assert [ids[i] for i in top_k(scores, 10, id_ranks(ids))] == ["c", "b", "d", "a"]
    assert len(top_k(scores, 0, id_ranks(ids))) == 0


def test_top_k_matches_a_full_sort_on_random_scores():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=200).astype(float)  # many ties
    ids = [f"p{i:03d}" for i in rng.permutation(200)]
    expected = sorted(range(200), key=lambda i: (scores[i], ids[i]), reverse=True)[:17]
    assert list(top_k(scores, 17, id_ranks(ids))) == expected
