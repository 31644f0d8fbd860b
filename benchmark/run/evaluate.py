"""evaluate(task, retriever) -> TaskResult: everything around the retriever, for one task.

The runner feeds the corpus to the retriever batch by batch (decoded images, or page
text with OCR where the task has none, through the embedding cache), searches, merges
corpus entries into ranked pages, computes the metrics and measures what the run cost
(the `efficiency` block). Retrievers write no timing, OCR, caching or metric code.
"""

from __future__ import annotations

from datetime import datetime, timezone

from benchmark.core.defaults import RANDOM_SEED
from benchmark.core.protocols import PROTOCOLS
from benchmark.core.vocabulary import metrics_within
from benchmark.evaluation.metrics import evaluate_run
from benchmark.evaluation.pages import entry_depth, first_positions, rank_pages
from benchmark.feed.page_feed import PageFeed, open_embedding_cache
from benchmark.measure.memory import PeakMemory, reset_accelerator_peak
from benchmark.results.document import results_document
from benchmark.results.writer import TaskResult
from benchmark.retrievers.base import Retriever
from benchmark.run.cluster import agreed
from benchmark.run.efficiency import efficiency_report
from benchmark.run.indexers import make_indexer
from benchmark.run.latency import latency_probe
from benchmark.run.preflight import check_main_scores_within
from benchmark.run.settings import RunSettings, seed_everything
from benchmark.tasks.data import TaskData


def evaluate(
    task: TaskData,
    retriever: Retriever,
    settings: RunSettings,
    *,
    run_name: str | None = None,
    task_load_s: float = 0.0,
    model_load_s: float | None = None,
) -> TaskResult | None:
    """The task's result (its run name: `run_name`, else the retriever's name); None on
    the ranks other than 0 of a distributed run."""
    check_main_scores_within([task.spec], settings.top_k)  # callers other than `run` too
    started_at = datetime.now(timezone.utc)
    corpus = task.corpus
    device = retriever.describe().get("device", "cpu")
    seed_everything(RANDOM_SEED)
    reset_accelerator_peak(device)
    with PeakMemory() as memory:
        with agreed(settings.cluster):  # under torchrun, a failure here fails every rank
            pages = settings.page_batches(corpus, task.spec.languages, retriever)
            feed = PageFeed(retriever, open_embedding_cache(retriever, settings.cache_dir))
            indexer = make_indexer(feed, settings, device, label=f"{task.spec.name}: ")
        if indexer is None:
            return None
        protocol = PROTOCOLS[settings.protocol]
        depth = entry_depth(corpus, settings.top_k, floor_merged_scores=protocol.floor_merged_scores)
        indexed = indexer.index(pages, task.spec.languages)
        entry_run, search_s = indexer.search(task.queries, depth)
        if not indexer.is_main:
            return None
        latency = latency_probe(retriever, task.queries, depth, settings.latency_queries, device)

    # MRR in corpus order for ties needs every page; the other metrics stop at top_k anyway
    keep = None if protocol.mrr_ties == "corpus order" else settings.top_k
    every_page = rank_pages(
        entry_run,
        corpus,
        keep,
        expected_queries=[query.id for query in task.queries],
        floor_merged_scores=protocol.floor_merged_scores,
    )
    metrics, per_query = evaluate_run(task.qrels, every_page, protocol, first_positions(corpus))
    computable = metrics_within(settings.top_k)  # a cutoff above --top-k is unavailable, not wrong
    metrics = {name: metrics[name] for name in computable}
    per_query = {query: {name: values[name] for name in computable} for query, values in per_query.items()}
    ranked = {query_id: pages[: settings.top_k] for query_id, pages in every_page.items()}
    described = retriever.describe()
    efficiency = efficiency_report(
        retriever,
        described,
        settings,
        n_pages=len(corpus) - len(indexed.skipped),
        indexing=indexed.timing,
        latency=latency,
        memory=memory,
        extra={
            "model_load_s": model_load_s,
            "task_load_s": task_load_s,
            "search_total_s": search_s,
            "pages_encoded": indexed.pages_encoded,
            "pages_from_cache": indexed.pages_from_cache,
            "world_size": indexed.world_size,
            "index_pages_per_s_per_rank": indexed.pages_per_s_per_rank,
        },
    )
    document = results_document(
        task,
        run_name=run_name or retriever.name,
        retriever_name=retriever.name,
        described=described,
        page_text=pages.report(),
        skipped=[(page.id, page.reason) for page in indexed.skipped],
        protocol=protocol.name,
        metrics=metrics,
        per_query=per_query,
        efficiency=efficiency,
        started_at=started_at,
        finished_at=datetime.now(timezone.utc),
    )
    return TaskResult(document, ranked, task.qrels)
