"""`pagebench profile`: the runner's efficiency probe on its own, without metrics.

On a task, or on synthetic corpora of the sizes asked, to answer "what would this
retriever cost at 100,000 pages?" from measurements at a few smaller sizes.
"""

from __future__ import annotations

from benchmark.pages import PageFeed
from benchmark.profiling import PeakMemory, reset_accelerator_peak
from benchmark.runner import RunSettings, efficiency_report, index_corpus, latency_probe
from benchmark.synthetic import synthetic_corpus
from benchmark.tasks import load_task
from benchmark.tasks.catalog import resolve_task
from benchmark.tasks.spec import TaskSpec
from benchmark.types import Corpus


def profile_task(
    spec: TaskSpec, retriever, settings: RunSettings, *, model_load_s: float | None = None
) -> dict:
    task = load_task(spec, need_page_text=retriever.page_input == "text")
    measured = profile_corpus(
        task.corpus, spec.languages, task.queries, retriever, settings, model_load_s=model_load_s
    )
    return {"pages": len(task.corpus), **measured}


def profile_synthetic(
    sizes: list[int],
    retriever,
    settings: RunSettings,
    *,
    width: int,
    height: int,
    n_queries: int,
    model_load_s: float | None = None,
) -> list[dict]:
    """One measurement per corpus size, queries from the bundled debian-faq-en task."""
    source = load_task(resolve_task("debian-faq-en"), need_page_text=True)
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
        measurements.append({"pages": n_pages, **measured})
    return measurements


def profile_corpus(corpus: Corpus, languages, queries, retriever, settings: RunSettings, **extra) -> dict:
    """Index `corpus`, then time `queries` one at a time; the efficiency block."""
    device = retriever.describe().get("device", "cpu")
    reset_accelerator_peak(device)
    with PeakMemory() as memory:
        # no embedding cache: a profile measures the cost of encoding
        indexing = index_corpus(
            PageFeed(retriever),
            settings.page_batches(corpus, languages, retriever),
            len(corpus),
            languages,
            settings,
            device,
            f"{len(corpus)} pages: ",
        )
        latency = latency_probe(retriever, queries, settings.top_k, settings.latency_queries, device)
    return efficiency_report(
        retriever,
        retriever.describe(),
        settings,
        n_pages=len(corpus),
        indexing=indexing,
        latency=latency,
        memory=memory,
        extra=extra,
    )
