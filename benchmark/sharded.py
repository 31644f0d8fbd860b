"""Indexing and search shared across the ranks of a torch.distributed run.

Every rank encodes the page batches and query chunks it owns (round-robin, see
`benchmark.distributed`); each round, rank 0 gathers one batch per rank, in batch
order, and adds it to the index, so memory holds one round at a time and the index
is built in the same order as in a single-process run. Only rank 0 searches.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.distributed import Cluster, to_host
from benchmark.pages import PageBatches, PageFeed, SkippedPage
from benchmark.profiling import Timer
from benchmark.progress import progress_bar
from benchmark.retrievers.base import EncodedQueries
from benchmark.runner import QUERY_CHUNK, IndexTiming, RunSettings, explain_out_of_memory
from benchmark.types import RankedRun, TaskData


@dataclass(frozen=True)
class ShardReport:
    """What rank 0 learns from all ranks about the indexing."""

    skipped: list[SkippedPage]
    pages_encoded: int
    pages_from_cache: int
    pages_per_s_per_rank: list[float | None]  # each rank's own encoding throughput


def index_corpus_sharded(
    feed: PageFeed, pages: PageBatches, cluster: Cluster, languages, settings: RunSettings, device: str
) -> tuple[IndexTiming, ShardReport | None]:
    retriever = feed.retriever
    own_pages, own_seconds = 0, 0.0
    with Timer(device) as total:
        retriever.begin_index(languages)
        with progress_bar(
            total=pages.n_batches,
            unit="batch",
            desc="index",
            enabled=settings.show_progress and cluster.is_main,
        ) as bar:
            for round_number in cluster.rounds(pages.n_batches):
                index = round_number * cluster.world_size + cluster.rank
                mine = None
                with Timer(device) as encode, explain_out_of_memory("encoding pages", settings, device):
                    batch = pages.batch(index) if index < pages.n_batches else None
                    if batch is not None:
                        mine = (batch.ids, to_host(feed.vectors_for(batch)))
                if batch is not None:
                    own_pages, own_seconds = own_pages + len(batch.ids), own_seconds + encode.seconds
                for item in cluster.gather(mine) or []:  # rank order is batch order
                    if item is not None:
                        retriever.add_page_vectors(*item)
                bar.update(min(cluster.world_size, pages.n_batches - round_number * cluster.world_size))
        if cluster.is_main:
            retriever.finish_index()
    reports = cluster.gather(
        (pages.skipped, feed.pages_encoded, feed.pages_from_cache, own_pages, own_seconds)
    )
    if not cluster.is_main:
        return IndexTiming(total.seconds, None, False), None
    skipped = sorted((page for report in reports for page in report[0]), key=lambda page: page.id)
    per_rank = [
        float(f"{pages_done / seconds:.4g}") if seconds else None for *_, pages_done, seconds in reports
    ]
    encoded_pages = sum(report[3] for report in reports)
    ms_per_page = 1000 * total.seconds / encoded_pages if encoded_pages else None
    shard = ShardReport(
        skipped=skipped,
        pages_encoded=sum(report[1] for report in reports),
        pages_from_cache=sum(report[2] for report in reports),
        pages_per_s_per_rank=per_rank,
    )
    # the run's throughput: pages over the wall time of the whole sharded indexing
    return IndexTiming(total.seconds, ms_per_page, warm_up_excluded=False), shard


def search_sharded(
    task: TaskData, retriever, depth: int, cluster: Cluster, settings: RunSettings, device: str
) -> tuple[RankedRun, float]:
    """Ranks encode query chunks round-robin; rank 0 searches them all, in chunk order."""
    chunks = [task.queries[start : start + QUERY_CHUNK] for start in range(0, len(task.queries), QUERY_CHUNK)]
    entry_run: RankedRun = {}
    with Timer(device) as clock:
        for round_number in cluster.rounds(len(chunks)):
            index = round_number * cluster.world_size + cluster.rank
            mine = None
            if index < len(chunks):
                with explain_out_of_memory("encoding queries", settings, device):
                    encoded = retriever.encode_queries(chunks[index])
                mine = (encoded.ids, to_host(encoded.payload))
            for item in cluster.gather(mine) or []:
                if item is not None:
                    entry_run.update(retriever.search(EncodedQueries(*item), depth))
    return entry_run, clock.seconds
