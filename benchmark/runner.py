"""evaluate(task, retriever) -> TaskResult: everything around the retriever.

The runner feeds the corpus to the retriever batch by batch (decoding images or
supplying page text, running OCR where the task has none), searches, merges
corpus entries into pages (ViDoRe v1 QA rows, by max), ranks with ties broken by
page id, and computes metrics. It also measures what the run cost (the
`efficiency` block: load and index time, query latency at batch size 1, search
time, peak memory, index size). Retrievers write no timing, OCR or metric code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmark.distributed import Cluster
from benchmark.errors import PagebenchError
from benchmark.metrics import evaluate_run
from benchmark.pages import PageBatches, PageFeed, open_embedding_cache
from benchmark.profiling import (
    PeakMemory,
    Timer,
    accelerator_peak_mb,
    percentile,
    reset_accelerator_peak,
    thread_count,
)
from benchmark.progress import progress_bar
from benchmark.results import TaskResult
from benchmark.retrievers.base import Retriever
from benchmark.types import Corpus, RankedRun, TaskData

DEFAULT_TOP_K = 100  # the run keeps this many pages per query (enough for every @k metric)
QUERY_CHUNK = 64  # queries per search call: granularity of the progress bar
LATENCY_QUERIES = 200  # queries timed one by one for the latency percentiles
LATENCY_WARM_UP = 2  # queries run (not timed) before them
RANDOM_SEED = 0


@dataclass(frozen=True)
class RunSettings:
    batch_size: int = 16
    top_k: int = DEFAULT_TOP_K
    cache_dir: Path | None = None  # OCR text and page embeddings; None: no cache (--no-cache)
    show_progress: bool = True
    latency_queries: int = LATENCY_QUERIES
    on_bad_page: str = "fail"  # or "skip": leave unreadable pages out, and record them
    cluster: Cluster | None = None  # set under torchrun: encoding is shared by the ranks

    def page_batches(self, corpus: Corpus, languages, retriever) -> PageBatches:
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
    import random
    import sys

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def load_retriever(name: str, options) -> tuple[Retriever, float]:
    """The retriever and how long loading it (model weights included) took."""
    from benchmark.retrievers import registry

    clock = time.perf_counter()
    retriever = registry.create(name, options)
    return retriever, time.perf_counter() - clock


def evaluate(
    task: TaskData,
    retriever: Retriever,
    settings: RunSettings,
    *,
    task_load_s: float = 0.0,
    model_load_s: float | None = None,
) -> TaskResult | None:
    """The task's result; None on the ranks other than 0 of a distributed run."""
    started_at = datetime.now(timezone.utc)
    corpus = task.corpus
    device = retriever.describe().get("device", "cpu")
    seed_everything(RANDOM_SEED)
    reset_accelerator_peak(device)
    cluster, shard = settings.cluster, None
    with PeakMemory() as memory:
        pages = settings.page_batches(corpus, task.spec.languages, retriever)
        feed = PageFeed(retriever, open_embedding_cache(retriever, settings.cache_dir))
        if cluster is not None and not feed.gives_vectors:  # e.g. bm25-ocr: rank 0 does it all
            if not cluster.is_main:
                return None
            cluster = None
        # A QA page can stand in several rows; fetch deep enough that merging them
        # still leaves `top_k` distinct pages.
        entry_depth = settings.top_k + (len(corpus) - corpus.n_pages)
        if cluster is None:
            label = f"{task.spec.name}: "
            indexing = index_corpus(feed, pages, len(corpus), task.spec.languages, settings, device, label)
            entry_run, search_s = _search_all(task, retriever, entry_depth, settings, device)
        else:
            from benchmark.sharded import index_corpus_sharded, search_sharded

            indexing, shard = index_corpus_sharded(
                feed, pages, cluster, task.spec.languages, settings, device
            )
            entry_run, search_s = search_sharded(task, retriever, entry_depth, cluster, settings, device)
            if not cluster.is_main:
                return None
        latency = latency_probe(retriever, task.queries, entry_depth, settings.latency_queries, device)
    skipped = shard.skipped if shard else pages.skipped
    counts = (
        {"pages_encoded": shard.pages_encoded, "pages_from_cache": shard.pages_from_cache}
        if shard
        else feed.counts()
    )
    scale = {
        "world_size": cluster.world_size if cluster else 1,
        "index_pages_per_s_per_rank": shard.pages_per_s_per_rank if shard else None,
    }

    ranked = rank_pages(
        entry_run, corpus, settings.top_k, expected_queries=[query.id for query in task.queries]
    )
    metrics, per_query = evaluate_run(task.qrels, ranked)
    described = retriever.describe()
    return TaskResult(
        task=task,
        retriever_name=retriever.name,
        retriever=described,
        page_text=pages.report(),
        skipped_pages=[{"id": page.id, "reason": page.reason} for page in skipped],
        metrics=metrics,
        per_query=per_query,
        ranked=ranked,
        efficiency=efficiency_report(
            retriever,
            described,
            settings,
            n_pages=len(corpus) - len(skipped),
            indexing=indexing,
            latency=latency,
            memory=memory,
            extra={
                "model_load_s": model_load_s,
                "task_load_s": task_load_s,
                "search_total_s": search_s,
                **counts,
                **scale,
            },
        ),
        started_at=started_at,
        finished_at=datetime.now(timezone.utc),
    )


@dataclass(frozen=True)
class IndexTiming:
    """Indexing time: in all, and the retriever's own share per page.

    ms_per_page is the retriever's time per page: its add_pages calls after the
    first batch (which pays for lazy initialisation) divided by their pages, plus
    finish_index spread over every page (BM25 builds its matrix there).
    """

    total_s: float  # everything: decoding, OCR, the retriever's work, finishing the index
    ms_per_page: float | None
    warm_up_excluded: bool

    @property
    def pages_per_s(self) -> float | None:
        return 1000 / self.ms_per_page if self.ms_per_page else None


def index_corpus(
    feed: PageFeed, batches, n_pages: int, languages, settings: RunSettings, device: str, label: str = ""
) -> IndexTiming:
    """Feed every batch to the retriever, timing its own work batch by batch."""
    retriever = feed.retriever
    times: list[tuple[int, float]] = []
    with Timer(device) as total:
        retriever.begin_index(languages)
        with progress_bar(
            total=n_pages, unit="page", desc=f"{label}index", enabled=settings.show_progress
        ) as bar:
            for batch in batches:
                with Timer(device) as encode, explain_out_of_memory("encoding pages", settings, device):
                    feed.add(batch)
                times.append((len(batch.ids), encode.seconds))
                bar.update(len(batch.ids))
        with Timer(device) as finish:
            retriever.finish_index()
    timed = times[1:] or times  # the first batch pays for lazy initialisation
    timed_pages = sum(pages for pages, _ in timed)
    ms_per_page = (
        1000 * (sum(seconds for _, seconds in timed) / timed_pages + finish.seconds / n_pages)
        if timed_pages
        else None
    )
    return IndexTiming(total_s=total.seconds, ms_per_page=ms_per_page, warm_up_excluded=len(times) > 1)


def _search_all(
    task: TaskData, retriever, depth: int, settings: RunSettings, device: str
) -> tuple[RankedRun, float]:
    """The run itself: queries in chunks, encoded in the retriever's batch size."""
    entry_run: RankedRun = {}
    with (
        Timer(device) as clock,
        progress_bar(
            total=len(task.queries),
            unit="query",
            desc=f"{task.spec.name}: search",
            enabled=settings.show_progress,
        ) as bar,
    ):
        for start in range(0, len(task.queries), QUERY_CHUNK):
            chunk = task.queries[start : start + QUERY_CHUNK]
            with explain_out_of_memory("encoding queries and searching", settings, device):
                entry_run.update(retriever.search(retriever.encode_queries(chunk), depth))
            bar.update(len(chunk))
    return entry_run, clock.seconds


@contextmanager
def explain_out_of_memory(what: str, settings: RunSettings, device: str) -> Iterator[None]:
    """An out-of-memory error becomes one line that says what to change."""
    try:
        yield
    except Exception as error:
        if not _is_out_of_memory(error):
            raise
        smaller = max(1, settings.batch_size // 2)
        raise PagebenchError(
            f"out of memory on {device} while {what} at batch size {settings.batch_size}: "
            f"try a smaller --batch-size (e.g. --batch-size {smaller})"
            + (" or --scoring-dtype bfloat16" if device.startswith("cuda") else "")
        ) from None


def _is_out_of_memory(error: Exception) -> bool:
    # torch.OutOfMemoryError (CUDA, MPS) and MemoryError (host RAM); older torch raised a
    # plain RuntimeError whose message says "out of memory".
    return (
        isinstance(error, MemoryError)
        or type(error).__name__ == "OutOfMemoryError"
        or (isinstance(error, RuntimeError) and "out of memory" in str(error).lower())
    )


@dataclass(frozen=True)
class Latency:
    query_encode_ms: list[float]
    search_ms: list[float]


def latency_probe(retriever, queries, depth: int, sample: int, device: str) -> Latency:
    """Online latency: one query at a time (batch size 1), after a short warm-up."""
    queries = list(queries)
    for query in queries[:LATENCY_WARM_UP]:
        retriever.search(retriever.encode_queries([query]), depth)
    encode_ms, search_ms = [], []
    for query in queries[:sample]:
        with Timer(device) as encode:
            encoded = retriever.encode_queries([query])
        with Timer(device) as search:
            retriever.search(encoded, depth)
        encode_ms.append(encode.seconds * 1000)
        search_ms.append(search.seconds * 1000)
    return Latency(encode_ms, search_ms)


def efficiency_report(
    retriever,
    described: dict,
    settings: RunSettings,
    *,
    n_pages: int,
    indexing: IndexTiming,
    latency: Latency,
    memory,
    extra: dict,
) -> dict:
    """The `efficiency` block of a results file (and of `pagebench profile`); `described`
    is what `retriever.describe()` returned after indexing."""
    index_bytes = retriever.index_nbytes()
    search_p50 = percentile(latency.search_ms, 50)
    # One query end to end (encode, then search), as an online user waits for it.
    query_ms = [encode + search for encode, search in zip(latency.query_encode_ms, latency.search_ms)]
    device = described.get("device", "cpu")
    return {
        "device": device,
        "dtype": described.get("dtype"),
        "threads": thread_count(),
        "page_batch_size": settings.batch_size,
        "query_batch_size": described.get("parameters", {}).get("batch_size", settings.batch_size),
        "model_parameters": described.get("model_parameters"),
        **{key: _rounded(value) for key, value in extra.items()},
        "index_s": _rounded(indexing.total_s),
        "index_pages_per_s": _rounded(indexing.pages_per_s),
        "index_ms_per_page": _rounded(indexing.ms_per_page),
        "index_warm_up_batch_excluded": indexing.warm_up_excluded,
        "latency_sample_queries": len(latency.query_encode_ms),
        "query_ms_p50": _rounded(percentile(query_ms, 50)),
        "query_ms_p95": _rounded(percentile(query_ms, 95)),
        "query_encode_ms_p50": _rounded(percentile(latency.query_encode_ms, 50)),
        "query_encode_ms_p95": _rounded(percentile(latency.query_encode_ms, 95)),
        "query_encode_ms_p99": _rounded(percentile(latency.query_encode_ms, 99)),
        "search_ms_p50": _rounded(search_p50),
        "search_ms_p95": _rounded(percentile(latency.search_ms, 95)),
        "search_ms_per_1000_pages": _rounded(
            _ratio(search_p50 * 1000, n_pages) if search_p50 is not None else None
        ),
        "peak_rss_mb": _rounded(memory.peak_bytes / 2**20),
        "peak_accelerator_mb": _rounded(accelerator_peak_mb(device)),
        "index_bytes_total": index_bytes,
        "index_bytes_per_page": _rounded(_ratio(index_bytes, n_pages) if index_bytes is not None else None),
    }


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _rounded(value):
    """Four significant digits: measurements are not more precise than that."""
    return float(f"{value:.4g}") if isinstance(value, float) else value


def rank_pages(entry_run: RankedRun, corpus: Corpus, top_k: int, expected_queries: list[str]) -> RankedRun:
    """Corpus entries -> pages (max over entries showing a page), best first, ties by page id."""
    page_of = dict(zip(corpus.ids, corpus.qrels_ids))
    ranked: RankedRun = {}
    for query_id in expected_queries:
        best: dict[str, float] = {}
        for entry_id, score in entry_run.get(query_id, []):
            score = float("-inf") if math.isnan(score) else float(score)  # NaN ranks last
            page_id = page_of.get(entry_id)
            if page_id is None:
                raise PagebenchError(
                    f"the retriever returned {entry_id!r} for query {query_id!r}, which is not in the corpus"
                )
            if page_id not in best or score > best[page_id]:
                best[page_id] = score
        ranked[query_id] = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:top_k]
    return ranked
