"""Hierarchical token pooling of multi-vector pages (--pool-factor N).

Similar page vectors are clustered (Ward linkage) into n / N clusters and each
cluster is replaced by its mean, so a ColPali page keeps about 1/N of its vectors.
The ColPali authors report ~97.8 % of nDCG@5 at N = 3 with 66.7 % fewer vectors.
colpali-engine clusters the rows of the pairwise cosine-distance matrix; here the
(unit-norm) vectors themselves are clustered, for which Euclidean Ward distance
follows cosine distance, at a fraction of the cost (n x d instead of n x n).
"""

from __future__ import annotations


def pool_page_vectors(vectors, factor: int):
    """[n, d] tensor -> [~n/factor, d] tensor of cluster means (same dtype and device)."""
    import numpy as np
    import torch
    from scipy.cluster.hierarchy import fcluster, linkage

    n = vectors.shape[0]
    clusters = max(1, n // factor)
    if factor <= 1 or clusters >= n:
        return vectors
    points = vectors.detach().float().cpu().numpy().astype(np.float64)
    labels = fcluster(linkage(points, method="ward"), t=clusters, criterion="maxclust") - 1
    n_labels = int(labels.max()) + 1
    sums = np.zeros((n_labels, points.shape[1]))
    np.add.at(sums, labels, points)
    means = sums / np.bincount(labels, minlength=n_labels)[:, None]
    return torch.from_numpy(means).to(device=vectors.device, dtype=vectors.dtype)
