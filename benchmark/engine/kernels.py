"""The inner loops of the late-interaction engine: per-tile buffers and the running top-k.

Both allocate their buffers once per query tile, so scoring a corpus allocates nothing
per page block and working memory does not grow with the corpus (see `index.py`).
"""

from __future__ import annotations


class Workspace:
    """Buffers of one query tile, allocated once: memory does not grow with the corpus."""

    def __init__(self, index, rows: int, token_counts: list[int]):
        """`index`: the PageVectorIndex being searched (its limits, dtype, device, bucket lengths)."""
        import torch

        dtype, device = index.dtype, index.device
        self._rows = rows
        self._tile_bytes = index.limits.tile_bytes
        self._item = torch.empty((), dtype=dtype).element_size()
        most_vectors = max(self.pages_per_matmul(length) * length for length in index.bucket_lengths)
        self._similarities = torch.empty(most_vectors * rows, dtype=dtype, device=device)
        block = min(index.limits.block_pages, len(index))
        self.page_max = torch.empty(block, rows, dtype=dtype, device=device)
        self._page_max_f32 = None if dtype == torch.float32 else torch.empty(block, rows, device=device)
        self._scores = torch.empty(block, len(token_counts), device=device)
        self._uniform = len(set(token_counts)) == 1
        if not self._uniform:
            owner = torch.repeat_interleave(torch.arange(len(token_counts)), torch.tensor(token_counts))
            self._assignment = torch.zeros(rows, len(token_counts), device=device)
            self._assignment[torch.arange(rows), owner] = 1.0

    def pages_per_matmul(self, length: int) -> int:
        return max(1, self._tile_bytes // (length * self._rows * self._item))

    def similarities(self, n_vectors: int):
        return self._similarities[: n_vectors * self._rows].view(n_vectors, self._rows)

    def sum_tokens(self, page_max):
        """[pages, rows] -> [pages, queries]: each query's rows summed in float32."""
        import torch

        pages = page_max.shape[0]
        if self._page_max_f32 is not None:
            page_max = self._page_max_f32[:pages].copy_(page_max)
        out = self._scores[:pages]
        if self._uniform:
            torch.sum(page_max.view(pages, out.shape[1], -1), dim=2, out=out)
        else:
            torch.mm(page_max, self._assignment, out=out)
        return out


class RunningTopK:
    """Exact running top-k per query (score descending, then tie rank ascending: see `ranking.id_ranks`).

    Candidates live in fixed [queries, k + block] buffers: the first k columns hold
    the best so far, the rest the block being merged; nothing is allocated per block.
    """

    def __init__(self, n_queries: int, k: int, block: int, ranks):
        import torch

        width, device = k + block, ranks.device
        self.k, self._no_page = k, len(ranks) - 1  # ranks[-1] ranks after every page
        self._ranks = ranks
        self.scores = torch.full((n_queries, width), -torch.inf, device=device)
        self.indices = torch.full((n_queries, width), self._no_page, dtype=torch.long, device=device)
        self._candidate_ranks = torch.empty(n_queries * width, dtype=torch.long, device=device)
        self._sorted_ranks = torch.empty(n_queries, width, dtype=torch.long, device=device)
        self._order = torch.empty(n_queries, width, dtype=torch.long, device=device)
        self._scores_by_rank = torch.empty(n_queries, width, device=device)
        self._indices_by_rank = torch.empty(n_queries, width, dtype=torch.long, device=device)
        self._sorted_scores = torch.empty(n_queries, width, device=device)
        self._best_indices = torch.empty(n_queries, k, dtype=torch.long, device=device)

    def add(self, block_scores, block_indices) -> None:
        """Merge a [queries, pages] block of scores for the pages `block_indices`."""
        import torch

        k, n = self.k, block_scores.shape[1]
        self.scores[:, k : k + n] = block_scores
        self.scores[:, k : k + n].nan_to_num_(nan=-torch.inf)  # NaN ranks last
        self.scores[:, k + n :] = -torch.inf
        self.indices[:, k : k + n] = block_indices
        self.indices[:, k + n :] = self._no_page
        # a stable sort by rank, then a stable sort by score: equal scores stay in rank order
        torch.index_select(self._ranks, 0, self.indices.view(-1), out=self._candidate_ranks)
        torch.sort(
            self._candidate_ranks.view_as(self._order),
            dim=1,
            stable=True,
            out=(self._sorted_ranks, self._order),
        )
        torch.gather(self.scores, 1, self._order, out=self._scores_by_rank)
        torch.gather(self.indices, 1, self._order, out=self._indices_by_rank)
        torch.sort(
            self._scores_by_rank, dim=1, descending=True, stable=True, out=(self._sorted_scores, self._order)
        )
        self.scores[:, :k] = self._sorted_scores[:, :k]
        torch.gather(self._indices_by_rank, 1, self._order[:, :k], out=self._best_indices)
        self.indices[:, :k] = self._best_indices
