"""Hierarchical token pooling (--pool-factor): similar page vectors are replaced by their mean."""

import torch

from benchmark.engine.pooling import pool_page_vectors


def clustered_page(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """12 vectors in 3 tight, far-apart groups of 4 (interleaved), and the 3 group means."""
    centres = torch.eye(3, 8) * 10
    members = [centres[i % 3] + 0.01 * torch.randn(8, generator=generator) for i in range(12)]
    page = torch.stack(members)
    means = torch.stack([page[group::3].mean(dim=0) for group in range(3)])
    return page, means


def test_each_group_of_similar_vectors_becomes_its_mean():
    page, means = clustered_page(torch.Generator().manual_seed(0))
    pooled = pool_page_vectors(page, factor=4)  # 12 vectors -> 3
    assert pooled.shape == (3, 8)
    # clusters come back in some order: match each pooled vector to the nearest true mean
    nearest = torch.cdist(pooled, means).argmin(dim=1)
    assert sorted(nearest.tolist()) == [0, 1, 2]
    torch.testing.assert_close(pooled, means[nearest], atol=1e-6, rtol=0)


def test_dtype_and_device_are_kept_and_factor_one_is_a_no_op():
    page, _ = clustered_page(torch.Generator().manual_seed(1))
    half = page.to(torch.bfloat16)
    pooled = pool_page_vectors(half, factor=2)
    assert pooled.dtype == torch.bfloat16 and pooled.device == half.device and pooled.shape[0] == 6
    assert pool_page_vectors(page, factor=1) is page
    assert pool_page_vectors(page[:1], factor=3) is not None and pool_page_vectors(
        page[:1], factor=3
    ).shape == (1, 8)
