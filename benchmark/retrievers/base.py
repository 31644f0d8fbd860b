"""The Retriever protocol: what a retriever implements, and nothing more.

The runner owns everything around it (loading pages, OCR, progress, timing,
metrics, results), so a retriever is small:

    retriever.begin_index(languages)            # once per task, before its pages
    retriever.add_pages(batch)                  # batches of the corpus, in order
    retriever.finish_index()
    encoded = retriever.encode_queries(queries) # the model's work on the queries
    retriever.search(encoded, top_k)            # scoring + top-k: {query id: [(corpus id, score), ...]}
    retriever.index_nbytes()                    # bytes the index holds (embeddings, BM25 matrix)

Query encoding and search are separate calls so the runner can time each (online
query latency vs scoring cost).

A retriever that embeds pages may also offer `embedding_key()`, `page_vectors(batch)`
and `add_page_vectors(ids, vectors)` (EmbeddingRetriever does): the runner then caches
page vectors on disk and calls `page_vectors` only for pages it has not seen (see
`benchmark/feed/page_feed.py`); an `embedding_key()` of None caches nothing (a model
in memory, whose weights nothing names). Without them, `add_pages` is called and nothing
is cached. Such a retriever may split its CPU-side preparation (the processor) from the
forward pass with `page_inputs(batch)` and `page_vectors(batch, model_inputs)`: the
runner then prepares the next batches on the thread that decodes them, while the model
runs (`benchmark/feed/prefetch.py`). `page_input` says what a batch must carry: "text"
(the runner fills page text from the task or from OCR) or "image" (decoded RGB page
images).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from benchmark.core.defaults import POOL_FACTOR
from benchmark.core.protocols import DEFAULT_PROTOCOL
from benchmark.core.types import PageBatch, Query, RankedRun


@dataclass(frozen=True)
class RetrieverOptions:
    """Options from the command line; each retriever uses those it understands."""

    checkpoint: str | None = None
    revision: str | None = None
    device: str = "auto"  # or cuda, cuda:N, mps, cpu (see benchmark.core.device)
    dtype: str = "auto"
    batch_size: int | None = None  # None: defaults.BATCH_SIZE
    scoring_dtype: str = "auto"  # late-interaction / dot scoring: auto, float32, bfloat16
    pool_factor: int = POOL_FACTOR  # hierarchical token pooling of multi-vector pages
    index_dir: str | None = None  # keep page vectors on disk here (16-bit), not in memory
    params: dict[str, str] = field(default_factory=dict)  # --param key=value
    protocol: str = DEFAULT_PROTOCOL  # vidore: score with the official retriever's arithmetic


@dataclass(frozen=True)
class EncodedQueries:
    """What `encode_queries` returns and `search` takes back; only the retriever reads `payload`."""

    ids: list[str]
    payload: Any


@runtime_checkable
class Retriever(Protocol):
    name: str
    page_input: Literal["text", "image"]

    def describe(self) -> dict:
        """{"checkpoint", "revision", "parameters"} recorded in the results file."""
        ...

    def begin_index(self, languages: Sequence[str]) -> None: ...

    def add_pages(self, batch: PageBatch) -> None: ...

    def finish_index(self) -> None: ...

    def encode_queries(self, queries: Sequence[Query]) -> EncodedQueries: ...

    def search(self, encoded: EncodedQueries, top_k: int) -> RankedRun:
        """Best `top_k` corpus entries per query, best first, ties broken by corpus id
        descending (trec_eval's rule: `benchmark.engine.ranking`)."""
        ...

    def index_nbytes(self) -> int | None:
        """Bytes of what the index stores (None if unknown)."""
        ...
