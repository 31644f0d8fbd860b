"""Scores computed with the official retrievers' own arithmetic (`--protocol vidore`).

pagebench's engine (`index.py`) sums exact float32 MaxSim. vidore-benchmark 5.0.0
scores differently, and its numbers carry that arithmetic:

- ColPali / ColQwen2 go through colpali-engine's `score_multi_vector` on the CPU, in
  the embedding dtype (bfloat16 there), with vidore-benchmark's `--batch-score` (4 by
  default) as its block size: queries and pages are taken in blocks of 4, each block
  zero-padded to its longest member (pages are embedded in batches of `--batch-passage`,
  also 4, whose padding falls in the same blocks); every (query token, page vector) dot
  product is rounded to the dtype, the max over page vectors is taken, and the token
  maxima are summed in the dtype. Two consequences: a score has ~8 bits of mantissa
  (ties are common), and a page shorter than the longest page of its block gets
  zero vectors, so each of its token maxima is floored at 0.
- SigLIP ranks by the raw dot product of `get_text_features` and `get_image_features`
  in float32 (no normalisation).

`ReferenceScoringIndex` reproduces both with the same torch operations on the same
shapes (so the rounding is the same), keeping the full [queries, pages] score matrix:
it trades the engine's speed and bounded memory for the official numbers. Pages must
be added in corpus order, as the official evaluators pass them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from benchmark.engine.ranking import top_k

OFFICIAL_BLOCK = 4  # vidore-benchmark CLI's --batch-score default, the block size it gives score_multi_vector


def colpali_engine_scores(queries: Sequence, pages: Sequence, block: int = OFFICIAL_BLOCK) -> np.ndarray:
    """[queries, pages] float32 late-interaction scores, computed as colpali-engine does.

    `queries` and `pages` are [n_vectors, dim] tensors already in the scoring dtype.
    """
    import torch
    from torch.nn.utils.rnn import pad_sequence

    rows = []
    for query_start in range(0, len(queries), block):
        query_block = pad_sequence(list(queries[query_start : query_start + block]), batch_first=True)
        columns = []
        for page_start in range(0, len(pages), block):
            page_block = pad_sequence(list(pages[page_start : page_start + block]), batch_first=True)
            similarities = torch.einsum("bnd,csd->bcns", query_block, page_block)
            columns.append(similarities.amax(dim=3).sum(dim=2))
        rows.append(torch.cat(columns, dim=1))
    return torch.cat(rows).to(torch.float32).cpu().numpy()


def raw_dot_scores(queries: Sequence, pages: Sequence) -> np.ndarray:
    """[queries, pages] float32 dot products of single vectors, as vidore-benchmark's SigLIP."""
    import torch

    query_matrix = torch.cat(list(queries)).to(torch.float32)
    page_matrix = torch.cat(list(pages)).to(torch.float32)
    return torch.einsum("bd,cd->bc", query_matrix, page_matrix).numpy()


class ReferenceScoringIndex:
    """Page vectors scored with the official arithmetic; same interface as PageVectorIndex."""

    def __init__(self, *, similarity: Literal["maxsim", "dot"], dtype: str):
        import torch

        self.similarity = similarity
        self.dtype = getattr(torch, dtype)
        self._pages: list = []

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def nbytes(self) -> int:
        return sum(page.element_size() * page.nelement() for page in self._pages)

    def add(self, pages: Sequence) -> None:
        """Append pages, each a [n_vectors, dim] tensor, in corpus order (kept on the CPU)."""
        self._pages.extend(page.detach().to(device="cpu", dtype=self.dtype) for page in pages)

    def finalize(self) -> None:
        """Nothing to build: the official scoring reads the pages as added."""

    def search(self, queries: Sequence, k: int, tie_ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-k pages per query: (scores [n_queries, k] float32, page indices [n_queries, k])."""
        queries = [query.detach().to(device="cpu", dtype=self.dtype) for query in queries]
        if self.similarity == "maxsim":
            scores = colpali_engine_scores(queries, self._pages)
        else:
            scores = raw_dot_scores(queries, self._pages)
        indices = np.stack([top_k(row, k, tie_ranks) for row in scores])
        return np.take_along_axis(scores, indices, axis=1), indices
