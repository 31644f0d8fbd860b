"""How a run is carried out: the settings every layer below reads, with their defaults
from `benchmark.core.defaults`, and the seeding that makes runs repeatable."""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.defaults import BATCH_SIZE, LATENCY_QUERIES, ON_BAD_PAGE, RANDOM_SEED, TOP_K
from benchmark.core.protocols import DEFAULT_PROTOCOL
from benchmark.core.types import Corpus
from benchmark.feed.batches import PageBatches
from benchmark.run.cluster import Cluster


@dataclass(frozen=True)
class RunSettings:
    batch_size: int = BATCH_SIZE  # pages per model batch
    top_k: int = TOP_K  # pages kept per query
    cache_dir: Path | None = None  # OCR text and page embeddings; None: no cache (--no-cache)
    show_progress: bool = True
    latency_queries: int = LATENCY_QUERIES
    on_bad_page: str = ON_BAD_PAGE[0]  # or "skip": leave unreadable pages out, and record them
    cluster: Cluster | None = None  # set under torchrun: encoding is shared by the ranks
    protocol: str = DEFAULT_PROTOCOL  # whose semantics the metrics follow: benchmark.core.protocols
    strict: bool = False  # refuse a hub dataset's faulty entries instead of recording them (tasks.drops)
    allow_outside_pages: bool = False  # a local folder's pages may lie outside it (--allow-outside-pages)
    max_queries: int | None = None  # evaluate a fixed sample of this many queries per task (tasks.sample)
    query_sample_seed: int = RANDOM_SEED  # which sample: the same seed, the same queries

    def page_batches(self, corpus: Corpus, languages: Sequence[str], retriever) -> PageBatches:
        return PageBatches(
            corpus,
            languages,
            retriever,
            batch_size=self.batch_size,
            cache_dir=self.cache_dir,
            on_bad_page=self.on_bad_page,
        )


def seed_everything(seed: int) -> None:
    """No retriever should draw random numbers at inference, but if one does (a sampling
    processor, dropout left on), every run draws the same ones."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
