"""Scoring pages against queries and keeping the best: MaxSim, dot product, top-k.

Ties are broken by corpus id (ascending), see `ranking.py`.

`PageVectorIndex` is the late-interaction engine. A page is a matrix of vectors
(ColPali: ~1030 x 128; single-vector retrievers: 1 x d), a query too, and
score(q, p) = sum over query vectors of the max over page vectors of their dot
product. The reference implementation (the official tool, colpali-engine) pads a
block of queries and a block of pages to the longest and materialises a
[queries, pages, query tokens, page vectors] tensor: memory grows with block size x
longest page, and padded page rows take part in the max. Here instead:

- pages are stored once, contiguous, in the scoring dtype, in buckets of equal
  length; a page shorter than its bucket is padded by repeating its own last
  vector, which leaves every max unchanged, so padding never affects a score;
- a tile of many query tokens is multiplied by a few pages at a time (one matmul,
  sized to stay in cache), the max over each page's vectors is taken at once, and
  token sums are done in float32; scores come back as float32;
- pages are scored in blocks and merged into a running exact top-k, so the full
  [queries, pages] score matrix never exists and memory does not grow with the corpus.

torch is imported lazily: the text baselines do not need it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.defaults import SCORING_DTYPES
from benchmark.core.heap import release_free_memory
from benchmark.engine.disk_store import DiskPageStore
from benchmark.engine.kernels import RunningTopK, Workspace

_TRIM_EVERY_BYTES = 256 << 20  # while finalize copies pages into buckets


@dataclass(frozen=True)
class EngineLimits:
    """Memory knobs of the engine; the defaults keep each tile in a CPU's L2/L3 cache."""

    tile_bytes: int = 8 << 20  # the similarity tile of one matmul
    max_query_rows: int = 2048  # query vectors scored together
    block_pages: int = 512  # pages scored between two top-k merges
    min_bucket_pages: int = 16  # fewer pages of one length share a bucket with longer ones...
    max_bucket_padding: float = 0.125  # ...unless that pads a page by more than this fraction

    @classmethod
    def for_device(cls, device) -> EngineLimits:
        """The defaults for `device`. A GPU gets tiles 32x larger: an 8 MB tile is one
        ColPali page against 2000 query rows, a matmul a GPU finishes in microseconds,
        so kernel launches, not arithmetic, would set the pace."""
        if str(device).startswith("cuda"):
            return cls(tile_bytes=256 << 20, max_query_rows=4096, block_pages=4096)
        return cls()


class PageVectorIndex:
    """Page vectors for exact late-interaction (or dot-product) search.

    Usage: `add` pages in corpus order, `finalize` once, then `search`.
    """

    def __init__(
        self,
        *,
        dtype: str = "float32",
        device: str = "cpu",
        limits: EngineLimits | None = None,
        store_dir: Path | None = None,
    ):
        """`limits`: default `EngineLimits.for_device(device)`. `store_dir`: keep page
        vectors on disk there, not in memory; see disk_store.py."""
        import torch

        if dtype not in SCORING_DTYPES:
            raise ValueError(f"scoring dtype must be one of {SCORING_DTYPES}, got {dtype!r}")
        self.dtype = getattr(torch, dtype)
        # the same-width integer type, to read float bits as (see _page_max)
        self._integer_dtype = {torch.float32: torch.int32, torch.bfloat16: torch.int16}[self.dtype]
        self.device = torch.device(device)
        self.limits = limits or EngineLimits.for_device(self.device)
        self._pending: list = []  # page tensors in the scoring dtype, until finalize()
        self._disk = DiskPageStore(store_dir, dtype) if store_dir is not None else None
        self._lengths: list[int] = []
        self._buckets: list[_Bucket] = []
        self.dim: int | None = None

    def __len__(self) -> int:
        return len(self._lengths)

    @property
    def n_vectors(self) -> int:
        """Real page vectors stored (bucket padding not counted)."""
        return sum(self._lengths)

    @property
    def bucket_lengths(self) -> list[int]:
        """Vectors per page of each bucket, padding included."""
        return [bucket.length for bucket in self._buckets]

    @property
    def nbytes(self) -> int:
        """Bytes of page-vector storage, bucket padding included."""
        return sum(bucket.nbytes for bucket in self._buckets)

    def add(self, pages: Sequence) -> None:
        """Append pages, each a [n_vectors, dim] tensor, in corpus order."""
        for vectors in pages:
            if vectors.ndim != 2 or vectors.shape[0] == 0:
                raise ValueError(
                    f"a page must be a non-empty [n_vectors, dim] matrix, got {tuple(vectors.shape)}"
                )
            if self.dim is None:
                self.dim = vectors.shape[1]
            elif vectors.shape[1] != self.dim:
                raise ValueError(f"page vectors have dimension {vectors.shape[1]}, earlier pages {self.dim}")
            if self._disk is not None:
                self._disk.add(vectors)
            else:
                self._pending.append(vectors.detach().to(device=self.device, dtype=self.dtype))
            self._lengths.append(vectors.shape[0])

    def finalize(self) -> None:
        """Group pages into contiguous buckets of equal (padded) length."""
        import torch

        if self._disk is not None:
            for padded_length, members in bucket_plan(self._lengths, self.limits).items():
                rows = self._disk.bucket_rows(members, padded_length, self.dtype, self.device)
                indices = torch.tensor(members, dtype=torch.long, device=self.device)
                self._buckets.append(_Bucket(length=padded_length, page_indices=indices, vectors=rows))
            self._disk.finish()
            return
        copied_since_trim = 0
        for padded_length, members in bucket_plan(self._lengths, self.limits).items():
            vectors = torch.empty(
                len(members) * padded_length, self.dim, dtype=self.dtype, device=self.device
            )
            for slot, index in enumerate(members):
                page, self._pending[index] = self._pending[index], None  # free as we go
                first = slot * padded_length
                vectors[first : first + len(page)] = page
                # repeat the last vector: every max is unchanged
                vectors[first + len(page) : first + padded_length] = page[-1]
                copied_since_trim += page.nbytes
                if copied_since_trim >= _TRIM_EVERY_BYTES:
                    # hand the freed pages back now, so the index is never held twice
                    release_free_memory()
                    copied_since_trim = 0
            self._buckets.append(
                _Bucket(
                    length=padded_length,
                    page_indices=torch.tensor(members, dtype=torch.long, device=self.device),
                    vectors=vectors,
                )
            )
        self._pending = []
        release_free_memory()

    def search(self, queries: Sequence, k: int, tie_ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-k pages per query: (scores [n_queries, k] float32, page indices [n_queries, k]).

        `queries` are [n_vectors, dim] tensors; `tie_ranks` orders equal scores.
        """
        import torch

        if self._pending:
            raise RuntimeError("call finalize() before search()")
        k = min(k, len(self))
        scores = np.empty((len(queries), k), dtype=np.float32)
        indices = np.empty((len(queries), k), dtype=np.int64)
        # one rank past the end stands for "no page yet" in the running top-k
        ranks = torch.as_tensor(np.append(tie_ranks, len(tie_ranks)), device=self.device)
        for start, stop in self._query_tiles(queries):
            tile = [query.detach().to(device=self.device, dtype=self.dtype) for query in queries[start:stop]]
            best_scores, best_indices = self._search_tile(tile, k, ranks)
            scores[start:stop] = best_scores.cpu().numpy()
            indices[start:stop] = best_indices.cpu().numpy()
        return scores, indices

    def _query_tiles(self, queries: Sequence):
        start, rows = 0, 0
        for position, query in enumerate(queries):
            if rows and rows + query.shape[0] > self.limits.max_query_rows:
                yield start, position
                start, rows = position, 0
            rows += query.shape[0]
        if start < len(queries):
            yield start, len(queries)

    def _search_tile(self, tile: list, k: int, ranks):
        import torch

        # [dim, rows]: the max over page vectors then runs over contiguous query rows
        queries_by_rows = torch.cat(tile).T.contiguous()
        rows = queries_by_rows.shape[1]
        workspace = Workspace(self, rows, [query.shape[0] for query in tile])
        best = RunningTopK(len(tile), k, workspace.page_max.shape[0], ranks)
        for bucket in self._buckets:
            for block_start in range(0, bucket.n_pages, self.limits.block_pages):
                block = range(block_start, min(block_start + self.limits.block_pages, bucket.n_pages))
                page_max = workspace.page_max[: len(block)]
                self._page_max(bucket, block, queries_by_rows, workspace, page_max, as_integers=True)
                if bucket.length > 1 and page_max.view(self._integer_dtype).amin() < 0:
                    # some (page, token) has only negative scores: redo the block exactly
                    self._page_max(bucket, block, queries_by_rows, workspace, page_max, as_integers=False)
                block_scores = workspace.sum_tokens(page_max)  # [pages, queries], float32
                best.add(block_scores.T, bucket.page_indices[block.start : block.stop])
        return best.scores[:, :k], best.indices[:, :k]

    def _page_max(
        self, bucket, block: range, queries_by_rows, workspace, page_max, *, as_integers: bool
    ) -> None:
        """page_max[page, row] = max over the page's vectors of their dot product with query row.

        With `as_integers` the max is taken over the float bits read as integers: for
        floats with the sign bit clear integer order is float order, so wherever the
        true max is >= 0 this gives exactly the same value, 2-7x faster than a float
        max on CPU. Where every value is negative the integer result has its sign bit
        set; the caller checks for that and asks again with floats.
        """
        import torch

        rows = queries_by_rows.shape[1]
        step = workspace.pages_per_matmul(bucket.length)
        for first in range(block.start, block.stop, step):
            last = min(first + step, block.stop)
            pages = bucket.vectors[first * bucket.length : last * bucket.length]
            out = page_max[first - block.start : last - block.start]
            if bucket.length == 1:
                torch.mm(pages, queries_by_rows, out=out)
                continue
            sim = torch.mm(pages, queries_by_rows, out=workspace.similarities((last - first) * bucket.length))
            sim = sim.view(last - first, bucket.length, rows)
            if as_integers:
                torch.amax(sim.view(self._integer_dtype), dim=1, out=out.view(self._integer_dtype))
            else:
                torch.amax(sim, dim=1, out=out)


def bucket_plan(lengths: list[int], limits: EngineLimits) -> dict[int, list[int]]:
    """padded length -> page positions. Pages of one length share a bucket; a length
    with few pages joins the next longer ones if that pads it by little."""
    by_length: dict[int, list[int]] = {}
    for position, length in enumerate(lengths):
        by_length.setdefault(length, []).append(position)
    plan: dict[int, list[int]] = {}
    members: list[int] = []
    shortest = None
    distinct = sorted(by_length)
    for i, length in enumerate(distinct):
        shortest = shortest or length
        members.extend(by_length[length])
        following = distinct[i + 1] if i + 1 < len(distinct) else None
        too_much_padding = following is None or following > shortest * (1 + limits.max_bucket_padding)
        if len(members) >= limits.min_bucket_pages or too_much_padding:
            plan[length] = sorted(members)
            members, shortest = [], None
    return plan


@dataclass(frozen=True)
class _Bucket:
    length: int  # vectors per page, padding included
    page_indices: object  # torch.LongTensor: corpus position of each page
    vectors: object  # torch.Tensor [n_pages * length, dim], or DiskRows that slice like one

    @property
    def n_pages(self) -> int:
        return len(self.page_indices)

    @property
    def bucket_lengths(self) -> list[int]:
        """Vectors per page of each bucket, padding included."""
        return [bucket.length for bucket in self._buckets]

    @property
    def nbytes(self) -> int:
        return self.vectors.nbytes  # a tensor's, or the DiskRows file's
