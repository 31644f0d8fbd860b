"""Paired bootstrap and randomisation test on constructed cases with known answers."""

import itertools

import numpy as np
import pytest

from benchmark.evaluation.significance import EXACT_LIMIT, compare_paired


@pytest.mark.parametrize("n_queries", [10, 200])  # exact enumeration, then Monte Carlo
def test_identical_runs_differ_by_nothing_with_p_one(n_queries):
    scores = np.random.default_rng(1).random(n_queries)
    result = compare_paired([(scores, scores.copy())], resamples=2000)
    assert result.difference == 0 and result.ci_low == 0 and result.ci_high == 0
    assert result.p_value == 1.0
    assert (result.wins, result.ties, result.losses) == (0, n_queries, 0)


def test_a_run_that_wins_every_query_has_the_smallest_possible_p():
    a = np.zeros(10)
    exact = compare_paired([(a, a + 0.5)])
    # only the observed signs and their mirror image are as extreme: 2 of 2^10
    assert exact.p_value == pytest.approx(2 / 2**10)
    assert (exact.wins, exact.ties, exact.losses) == (10, 0, 0)
    many = compare_paired([(np.zeros(300), np.full(300, 0.5))], resamples=2000)
    assert many.p_value == pytest.approx(1 / 2001)  # the observed draw is the only one
    assert many.ci_low == many.ci_high == pytest.approx(0.5)


def test_monte_carlo_p_value_agrees_with_exact_enumeration():
    rng = np.random.default_rng(7)
    a = rng.random(EXACT_LIMIT + 2)
    b = a + rng.normal(0.05, 0.2, size=len(a))
    differences = b - a
    signs = np.array(list(itertools.product((1, -1), repeat=len(a))))
    exact = float((np.abs(signs @ differences) >= abs(differences.sum()) - 1e-12).mean())
    estimate = compare_paired([(a, b)], resamples=40_000).p_value
    assert 0.02 < exact < 0.9  # a case where p is neither tiny nor 1
    assert estimate == pytest.approx(exact, abs=0.01)


def test_interval_covers_the_difference_and_narrows_with_more_queries():
    rng = np.random.default_rng(3)
    small_a, large_a = rng.random(30), rng.random(3000)
    small = compare_paired([(small_a, small_a + rng.normal(0.1, 0.3, 30))], resamples=2000)
    large = compare_paired([(large_a, large_a + rng.normal(0.1, 0.3, 3000))], resamples=2000)
    for result in (small, large):
        assert result.ci_low < result.difference < result.ci_high
        assert result.difference == pytest.approx(result.mean_b - result.mean_a)
    assert large.ci_high - large.ci_low < (small.ci_high - small.ci_low) / 4
    assert 0.07 < large.ci_low and large.ci_high < 0.13


def test_several_tasks_weigh_the_same_whatever_their_size():
    small = (np.zeros(20), np.ones(20))  # +1 on 20 queries
    large = (np.zeros(500), np.zeros(500))  # 0 on 500 queries
    result = compare_paired([small, large], resamples=1000)
    assert result.difference == pytest.approx(0.5)  # not 20/520
    assert result.mean_a == 0 and result.mean_b == pytest.approx(0.5)
    assert result.ci_low == result.ci_high == pytest.approx(0.5)  # within-task resampling
    assert result.n_queries == 520 and result.wins == 20 and result.ties == 500


def test_same_seed_same_numbers_and_bad_input_refused():
    rng = np.random.default_rng(5)
    a, b = rng.random(100), rng.random(100)
    assert compare_paired([(a, b)], seed=4) == compare_paired([(a, b)], seed=4)
    assert compare_paired([(a, b)], seed=4).ci_low != compare_paired([(a, b)], seed=5).ci_low
    with pytest.raises(ValueError):
        compare_paired([(a, b[:50])])
    with pytest.raises(ValueError):
        compare_paired([])
    with pytest.raises(ValueError, match="finite"):
        compare_paired([(a, np.full(100, np.nan))])
    with pytest.raises(ValueError, match="resamples"):
        compare_paired([(a, b)], resamples=0)
