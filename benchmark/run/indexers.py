"""Indexing a corpus and searching it: one interface, a local and a sharded implementation.

`LocalIndexer` feeds every batch to the retriever in this process. `ShardedIndexer`
runs under torchrun: every rank encodes the page batches and query chunks it owns
(round-robin, see `cluster.py`); each round, rank 0 gathers one batch per rank, in
batch order, and adds it to the index, so memory holds one round at a time and the
index is built in the same order as in a single-process run. Only rank 0 searches.
Each round's work ends in a check-in, so a failure on any rank (an unreadable page)
stops every rank in that round, in step.

Both time the retriever's work the same way and report the same `IndexReport`, so
`evaluate` does not care which one ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from benchmark.core.defaults import QUERY_CHUNK
from benchmark.core.types import Query, RankedRun
from benchmark.feed.batches import PageBatches, SkippedPage
from benchmark.feed.page_feed import PageFeed
from benchmark.feed.prefetch import Prefetched
from benchmark.measure.timing import Timer
from benchmark.retrievers.base import EncodedQueries
from benchmark.run.cluster import Cluster, to_host
from benchmark.run.oom import explain_out_of_memory
from benchmark.run.progress import progress_bar
from benchmark.run.settings import RunSettings


@dataclass(frozen=True)
class IndexTiming:
    """Indexing time: in all, and the retriever's own share per page.

    Locally, ms_per_page is the retriever's time per page: its batches after the first
    (which pays for lazy initialisation), plus finish_index spread over every page (BM25
    builds its matrix there). Sharded, it is the wall time over the pages encoded.
    """

    total_s: float  # everything: decoding, OCR, the retriever's work, finishing the index
    ms_per_page: float | None
    warm_up_excluded: bool
    model_s: float | None = None  # inside the retriever's encode calls, every batch
    input_wait_s: float | None = None  # waiting for decoded pages (what prefetching did not hide)

    @property
    def pages_per_s(self) -> float | None:
        return 1000 / self.ms_per_page if self.ms_per_page else None


@dataclass(frozen=True)
class IndexReport:
    """What indexing did, over all ranks: time, pages skipped, encoded and read from the cache."""

    timing: IndexTiming
    skipped: list[SkippedPage]
    pages_encoded: int
    pages_from_cache: int
    world_size: int = 1
    pages_per_s_per_rank: list[float | None] | None = None  # each rank's own encoding throughput


class Indexer(Protocol):
    is_main: bool  # whether this process searches, measures and writes (rank 0)

    def index(self, pages: PageBatches, languages: Sequence[str]) -> IndexReport: ...

    def search(self, queries: Sequence[Query], depth: int) -> tuple[RankedRun, float]:
        """The run over every query (rank 0; other ranks get an empty one) and its wall time."""
        ...


def make_indexer(feed: PageFeed, settings: RunSettings, device: str, label: str) -> Indexer | None:
    """The indexer for this process; None on a rank that has nothing to do.

    A retriever without page vectors (bm25-ocr) cannot be sharded: rank 0 runs it alone.
    """
    cluster = settings.cluster
    if cluster is not None and feed.gives_vectors:
        return ShardedIndexer(feed, cluster, settings, device)
    if cluster is not None and not cluster.is_main:
        return None
    return LocalIndexer(feed, settings, device, label)


def query_chunks(queries: Sequence[Query]) -> list[Sequence[Query]]:
    return [queries[start : start + QUERY_CHUNK] for start in range(0, len(queries), QUERY_CHUNK)]


class LocalIndexer:
    is_main = True

    def __init__(self, feed: PageFeed, settings: RunSettings, device: str, label: str = ""):
        self.feed, self.settings, self.device, self.label = feed, settings, device, label

    def index(self, pages: PageBatches, languages: Sequence[str]) -> IndexReport:
        """Feed every batch to the retriever, timing its own work batch by batch; the next
        batches are decoded and prepared meanwhile (`feed/prefetch.py`, `PageFeed.prepare`)."""
        retriever, settings = self.feed.retriever, self.settings
        n_pages = pages.n_entries
        times: list[tuple[int, float]] = []
        prepared = (self.feed.prepare(batch) for batch in pages)
        with Timer(self.device) as total, Prefetched(prepared) as decoded:
            retriever.begin_index(languages)
            with progress_bar(
                total=n_pages, unit="page", desc=f"{self.label}index", enabled=settings.show_progress
            ) as bar:
                for batch in decoded:
                    with (
                        Timer(self.device) as encode,
                        explain_out_of_memory("encoding pages", settings.batch_size, self.device),
                    ):
                        self.feed.add(batch)
                    times.append((len(batch.ids), encode.seconds))
                    bar.update(len(batch.ids))
            with Timer(self.device) as finish:
                retriever.finish_index()
        timed = times[1:] or times  # the first batch pays for lazy initialisation
        timed_pages = sum(pages for pages, _ in timed)
        ms_per_page = (
            1000 * (sum(seconds for _, seconds in timed) / timed_pages + finish.seconds / n_pages)
            if timed_pages
            else None
        )
        timing = IndexTiming(
            total.seconds,
            ms_per_page,
            warm_up_excluded=len(times) > 1,
            model_s=sum(seconds for _, seconds in times),
            input_wait_s=decoded.input_wait_s,
        )
        return IndexReport(timing, pages.skipped, self.feed.pages_encoded, self.feed.pages_from_cache)

    def search(self, queries: Sequence[Query], depth: int) -> tuple[RankedRun, float]:
        """Queries in chunks, each encoded (in the retriever's batch size) then searched."""
        retriever, entry_run = self.feed.retriever, {}
        with (
            Timer(self.device) as clock,
            progress_bar(
                total=len(queries),
                unit="query",
                desc=f"{self.label}search",
                enabled=self.settings.show_progress,
            ) as bar,
        ):
            for chunk in query_chunks(queries):
                with explain_out_of_memory(
                    "encoding queries and searching", self.settings.batch_size, self.device
                ):
                    entry_run.update(retriever.search(retriever.encode_queries(chunk), depth))
                bar.update(len(chunk))
        return entry_run, clock.seconds


class ShardedIndexer:
    def __init__(self, feed: PageFeed, cluster: Cluster, settings: RunSettings, device: str):
        self.feed, self.cluster, self.settings, self.device = feed, cluster, settings, device
        self.is_main = cluster.is_main
        self._model_s = 0.0  # this rank's time inside the retriever's encode calls

    def index(self, pages: PageBatches, languages: Sequence[str]) -> IndexReport:
        """Rounds of one batch per rank; a rank's work between two gathers is `agreed` (see
        cluster.py), so a bad page on any rank stops every rank in the same round."""
        retriever, cluster, feed = self.feed.retriever, self.cluster, self.feed
        own_pages, own_seconds = 0, 0.0
        received: list = []  # rank 0: the batches gathered last round, added during this one
        with Prefetched(self._own_parts(pages)) as decoded:
            own_parts = iter(decoded)
            with Timer(self.device) as total:
                with cluster.agreed():
                    retriever.begin_index(languages)
                with progress_bar(
                    total=pages.n_batches,
                    unit="batch",
                    desc="index",
                    enabled=self.settings.show_progress and cluster.is_main,
                ) as bar:
                    for round_number in cluster.rounds(pages.n_batches):
                        with cluster.agreed():
                            self._add(received)
                            with Timer(self.device) as encode:
                                mine = self._encode_own_batch(own_parts, pages, round_number)
                        if mine is not None:
                            own_pages, own_seconds = own_pages + len(mine[0]), own_seconds + encode.seconds
                        received = cluster.gather(mine) or []  # rank order is batch order
                        done = round_number * cluster.world_size
                        bar.update(min(cluster.world_size, pages.n_batches - done))
                with cluster.agreed():
                    self._add(received)
                    if cluster.is_main:
                        retriever.finish_index()
        reports = cluster.gather(
            (pages.skipped, feed.pages_encoded, feed.pages_from_cache, own_pages, own_seconds)
        )
        if not cluster.is_main:
            return IndexReport(
                IndexTiming(total.seconds, None, False), pages.skipped, 0, 0, cluster.world_size
            )
        waited_s = decoded.input_wait_s
        return _merged_report(
            reports, total.seconds, cluster.world_size, model_s=self._model_s, input_wait_s=waited_s
        )

    def _own_parts(self, pages: PageBatches):
        """(batch index, prepared part) of the batches this rank owns, in order; (index, None)
        ends a batch."""
        for index in range(self.cluster.rank, pages.n_batches, self.cluster.world_size):
            for part in pages.parts(index):  # large pages: decoded a few at a time
                yield index, self.feed.prepare(part)
            yield index, None

    def _add(self, gathered: list) -> None:
        for item in gathered:
            if item is not None:
                self.feed.retriever.add_page_vectors(*item)

    def _encode_own_batch(self, own_parts, pages: PageBatches, round_number: int):
        """(ids, vectors on the host) of the batch this rank owns in this round; None if none.
        `own_parts` yields its parts, decoded ahead (`_own_parts`)."""
        index = round_number * self.cluster.world_size + self.cluster.rank
        if index >= pages.n_batches:
            return None
        ids, vectors = [], []
        with explain_out_of_memory("encoding pages", self.settings.batch_size, self.device):
            for part_index, part in own_parts:
                if part is None:
                    break
                assert part_index == index, "parts are decoded in the order of the rounds"
                with Timer(self.device) as model:
                    vectors += to_host(self.feed.vectors_for(part))
                self._model_s += model.seconds
                ids += part.ids
        return (ids, vectors) if ids else None

    def search(self, queries: Sequence[Query], depth: int) -> tuple[RankedRun, float]:
        """Ranks encode query chunks round-robin; rank 0 searches them all, in chunk order."""
        cluster = self.cluster
        chunks = query_chunks(queries)
        entry_run: RankedRun = {}
        received: list = []  # rank 0: the chunks gathered last round, searched during this one
        with Timer(self.device) as clock:
            for round_number in cluster.rounds(len(chunks)):
                with cluster.agreed():
                    self._search(received, depth, entry_run)
                    mine = self._encode_own_chunk(chunks, round_number)
                received = cluster.gather(mine) or []
            with cluster.agreed():
                self._search(received, depth, entry_run)
        return entry_run, clock.seconds

    def _encode_own_chunk(self, chunks: list[Sequence[Query]], round_number: int):
        """(ids, vectors on the host) of the query chunk this rank owns in this round; None if none."""
        index = round_number * self.cluster.world_size + self.cluster.rank
        if index >= len(chunks):
            return None
        with explain_out_of_memory("encoding queries", self.settings.batch_size, self.device):
            encoded = self.feed.retriever.encode_queries(chunks[index])
        return encoded.ids, to_host(encoded.payload)

    def _search(self, gathered: list, depth: int, entry_run: RankedRun) -> None:
        for item in gathered:
            if item is not None:
                entry_run.update(self.feed.retriever.search(EncodedQueries(*item), depth))


def _merged_report(
    reports: list, total_s: float, world_size: int, *, model_s: float, input_wait_s: float
) -> IndexReport:
    """Rank 0's view of every rank's (skipped, encoded, from cache, own pages, own seconds)."""
    skipped = sorted((page for report in reports for page in report[0]), key=lambda page: page.id)
    per_rank = [
        float(f"{pages_done / seconds:.4g}") if seconds else None for *_, pages_done, seconds in reports
    ]
    encoded_pages = sum(report[3] for report in reports)
    # the run's throughput: pages over the wall time of the whole sharded indexing
    ms_per_page = 1000 * total_s / encoded_pages if encoded_pages else None
    return IndexReport(
        # model time and input wait: rank 0's own
        timing=IndexTiming(
            total_s, ms_per_page, warm_up_excluded=False, model_s=model_s, input_wait_s=input_wait_s
        ),
        skipped=skipped,
        pages_encoded=sum(report[1] for report in reports),
        pages_from_cache=sum(report[2] for report in reports),
        world_size=world_size,
        pages_per_s_per_rank=per_rank,
    )
