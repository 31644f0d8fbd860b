"""`pagebench profile`: the runner's efficiency probe on its own, without metrics.

On a task, or on synthetic corpora of the sizes asked, to answer "what would this
retriever cost at 100,000 pages?" from measurements at a few smaller sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmark.core.errors import PagebenchError
from benchmark.core.types import Corpus, Query
from benchmark.feed.page_feed import PageFeed
from benchmark.measure.memory import PeakMemory, reset_accelerator_peak
from benchmark.results.schema import Efficiency
from benchmark.run.efficiency import efficiency_report
from benchmark.run.indexers import LocalIndexer
from benchmark.run.latency import latency_probe
from benchmark.run.session import load_task_for
from benchmark.run.settings import RunSettings
from benchmark.tasks import load_task
from benchmark.tasks.catalog import resolve_task
from benchmark.tasks.images import MAX_PAGE_PIXELS
from benchmark.tasks.spec import TaskSpec
from benchmark.tasks.synthetic import synthetic_corpus

QUERY_SOURCE_TASK = "debian-faq-en"  # where synthetic profiles take their queries


@dataclass(frozen=True)
class Measurement:
    """What indexing `pages` pages and querying them cost."""

    pages: int
    efficiency: Efficiency

    def as_dict(self) -> dict:
        return {"pages": self.pages, **self.efficiency.model_dump(exclude_unset=True)}


def profile_task(
    spec: TaskSpec, retriever, settings: RunSettings, *, model_load_s: float | None = None
) -> Measurement:
    task = load_task_for(spec, retriever, settings)
    measured = profile_corpus(
        task.corpus, spec.languages, task.queries, retriever, settings, model_load_s=model_load_s
    )
    return Measurement(len(task.corpus), measured)


def profile_synthetic(
    sizes: list[int],
    retriever,
    settings: RunSettings,
    *,
    width: int,
    height: int,
    n_queries: int,
    model_load_s: float | None = None,
) -> list[Measurement]:
    """One measurement per corpus size, queries from the bundled debian-faq-en task."""
    if width <= 0 or height <= 0 or width * height > MAX_PAGE_PIXELS:
        raise PagebenchError(
            f"synthetic pages of {width}x{height} pixels: each side must be positive and the page at "
            f"most {MAX_PAGE_PIXELS:,} pixels"
        )
    source = load_task(resolve_task(QUERY_SOURCE_TASK), need_page_text=True)
    vocabulary = sorted({word for text in source.corpus.texts for word in text.split() if word.isalpha()})
    queries = source.queries[:n_queries]
    measurements = []
    for n_pages in sizes:
        corpus = synthetic_corpus(
            n_pages,
            width=width,
            height=height,
            with_text=retriever.page_input == "text",
            vocabulary=vocabulary,
        )
        measured = profile_corpus(corpus, ("en",), queries, retriever, settings, model_load_s=model_load_s)
        measurements.append(Measurement(n_pages, measured))
    return measurements


def profile_corpus(
    corpus: Corpus,
    languages: Sequence[str],
    queries: Sequence[Query],
    retriever,
    settings: RunSettings,
    **extra,
) -> Efficiency:
    """Index `corpus`, then time `queries` one at a time; the efficiency block."""
    device = retriever.describe().get("device", "cpu")
    reset_accelerator_peak(device)
    with PeakMemory() as memory:
        # no embedding cache: a profile measures the cost of encoding
        indexer = LocalIndexer(PageFeed(retriever), settings, device, label=f"{len(corpus)} pages: ")
        indexed = indexer.index(settings.page_batches(corpus, languages, retriever), languages)
        latency = latency_probe(retriever, queries, settings.top_k, settings.latency_queries, device)
    return efficiency_report(
        retriever,
        retriever.describe(),
        settings,
        n_pages=len(corpus),
        indexing=indexed.timing,
        latency=latency,
        memory=memory,
        extra=extra,
    )
