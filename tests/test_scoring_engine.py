"""The MaxSim engine against a plain per-pair loop: exact, padding-proof, memory-bounded."""

import numpy as np
import pytest
import torch

from benchmark.engine.index import EngineLimits, PageVectorIndex, bucket_plan
from benchmark.engine.kernels import Workspace
from benchmark.engine.ranking import id_ranks

# Tiny limits force many query tiles, page blocks, matmul tiles and buckets.
SMALL = EngineLimits(tile_bytes=2000, max_query_rows=7, block_pages=5, min_bucket_pages=3)


def unit(n, dim=16, generator=None):
    vectors = torch.randn(n, dim, generator=generator)
    return vectors / vectors.norm(dim=1, keepdim=True)


def loop_scores(queries, pages):
    """The definition: sum over query vectors of the max over page vectors."""
    return np.array([[float((q @ p.T).max(dim=1).values.sum()) for p in pages] for q in queries])


def expected_ranking(scores_row, ids, k):
    # trec_eval's order: score, then id, both descending
    return sorted(range(len(ids)), key=lambda j: (float(scores_row[j]), ids[j]), reverse=True)[:k]


@pytest.fixture
def corpus():
    generator = torch.Generator().manual_seed(0)
    pages = [unit(int(n), generator=generator) for n in torch.randint(1, 60, (41,), generator=generator)]
    pages[5] = -pages[5].abs()  # every dot product with a positive query is negative
    pages[9] = pages[4].clone()  # a duplicate page: equal scores, ordered by id
    queries = [unit(int(n), generator=generator) for n in torch.randint(1, 9, (11,), generator=generator)]
    queries[0] = queries[0].abs()
    ids = [f"page-{i:02d}" for i in range(len(pages))]
    ids[9], ids[4] = "page-00a", "page-zz"  # the duplicate must come first by id
    return pages, queries, ids


@pytest.mark.parametrize(
    "limits",
    [EngineLimits(), SMALL, EngineLimits.for_device("cuda")],
    ids=["default", "tiny-tiles", "gpu-tiles"],
)
def test_float32_matches_the_per_pair_loop_exactly(corpus, limits):
    pages, queries, ids = corpus
    index = PageVectorIndex(dtype="float32", limits=limits)
    index.add(pages)
    index.finalize()
    scores, indices = index.search(queries, 12, id_ranks(ids))
    reference = loop_scores(queries, pages)
    for row in range(len(queries)):
        assert list(indices[row]) == expected_ranking(reference[row], ids, 12)
        np.testing.assert_allclose(scores[row], reference[row][indices[row]], atol=1e-5)
    assert reference[0][5] < 0  # the all-negative page was scored exactly too
    assert scores.dtype == np.float32


def test_a_gpu_gets_larger_tiles_than_a_cpu():
    cpu, gpu = EngineLimits.for_device("cpu"), EngineLimits.for_device("cuda:1")
    assert cpu == EngineLimits() and PageVectorIndex(device="cpu").limits == cpu
    # at 2000 bfloat16 query rows a CPU tile holds 2 ColPali pages; a GPU's a few dozen
    pages_per_tile = [limits.tile_bytes // (1030 * 2000 * 2) for limits in (cpu, gpu)]
    assert pages_per_tile == [2, 65] and gpu.block_pages >= pages_per_tile[1]


def test_padding_never_changes_a_score(corpus):
    pages, queries, ids = corpus
    # one bucket for everything: most pages are padded, some by 50 vectors
    one_bucket = EngineLimits(min_bucket_pages=1000, max_bucket_padding=1000.0)
    index = PageVectorIndex(limits=one_bucket)
    index.add(pages)
    index.finalize()
    assert len(index._buckets) == 1 and index.nbytes > index.n_vectors * 16 * 4
    scores, indices = index.search(queries, len(pages), id_ranks(ids))
    reference = loop_scores(queries, pages)
    np.testing.assert_allclose(scores, np.take_along_axis(reference, indices, axis=1), atol=1e-5)


def test_bfloat16_rounds_inputs_but_sums_in_float32(corpus):
    pages, queries, ids = corpus
    index = PageVectorIndex(dtype="bfloat16", limits=SMALL)
    index.add(pages)
    index.finalize()
    scores, indices = index.search(queries, 5, id_ranks(ids))
    rounded = loop_scores([q.bfloat16().float() for q in queries], [p.bfloat16().float() for p in pages])
    # each max is a bf16-rounded dot product (3 significant digits); the sum is float32
    np.testing.assert_allclose(scores, np.take_along_axis(rounded, indices, axis=1), atol=0.02)
    assert scores.dtype == np.float32


def test_single_vector_pages_are_dot_products():
    generator = torch.Generator().manual_seed(1)
    pages = [unit(1, 8, generator) for _ in range(30)]
    queries = [unit(1, 8, generator) for _ in range(4)]
    index = PageVectorIndex(limits=SMALL)
    index.add(pages)
    index.finalize()
    scores, indices = index.search(queries, 30, id_ranks([f"p{i:02d}" for i in range(30)]))
    dots = (torch.cat(queries) @ torch.cat(pages).T).numpy()
    np.testing.assert_allclose(scores, np.take_along_axis(dots, indices, axis=1), atol=1e-6)


def test_buckets_keep_equal_lengths_unpadded_and_bound_padding():
    assert bucket_plan([1030] * 50, EngineLimits()) == {1030: list(range(50))}
    lengths = [700, 701, 702, 760, 1000, 1000, 1200]
    plan = bucket_plan(lengths, EngineLimits(min_bucket_pages=2))
    for padded, members in plan.items():
        assert all(lengths[m] <= padded <= lengths[m] * 1.125 for m in members)
    assert sorted(m for members in plan.values() for m in members) == list(range(len(lengths)))


def test_working_memory_does_not_grow_with_the_corpus():
    generator = torch.Generator().manual_seed(2)
    queries = [unit(20, 32, generator) for _ in range(10)]

    def workspace_bytes(n_pages):
        index = PageVectorIndex(limits=EngineLimits(block_pages=64))
        index.add([unit(50, 32, generator) for _ in range(n_pages)])
        index.finalize()
        workspace = Workspace(index, rows=200, token_counts=[20] * 10)
        tensors = [value for value in vars(workspace).values() if isinstance(value, torch.Tensor)]
        return sum(t.numel() * t.element_size() for t in tensors), index, queries

    small, _, _ = workspace_bytes(100)
    large, index, queries = workspace_bytes(1000)
    assert small == large
    scores, _ = index.search(queries, 5, id_ranks([str(i) for i in range(1000)]))
    assert scores.shape == (10, 5)


def test_misuse_is_reported():
    index = PageVectorIndex()
    with pytest.raises(ValueError, match="non-empty"):
        index.add([torch.empty(0, 4)])
    index.add([torch.ones(2, 4)])
    with pytest.raises(ValueError, match="dimension 3"):
        index.add([torch.ones(2, 3)])
    with pytest.raises(RuntimeError, match="finalize"):
        index.search([torch.ones(1, 4)], 1, np.array([0]))
    with pytest.raises(ValueError, match="scoring dtype"):
        PageVectorIndex(dtype="float16")
