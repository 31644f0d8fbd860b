"""The `efficiency` block of a results file (and of `pagebench profile`), from what the
run measured: indexing, latency, memory and the size of the index."""

from __future__ import annotations

from benchmark.measure.memory import PeakMemory, accelerator_peak_mb
from benchmark.measure.timing import percentile, thread_count
from benchmark.results.schema import Efficiency
from benchmark.run.indexers import IndexTiming
from benchmark.run.latency import Latency
from benchmark.run.settings import RunSettings


def efficiency_report(
    retriever,
    described: dict,
    settings: RunSettings,
    *,
    n_pages: int,
    indexing: IndexTiming,
    latency: Latency,
    memory: PeakMemory,
    extra: dict,
) -> Efficiency:
    """`described` is what `retriever.describe()` returned after indexing; `extra` holds the
    fields only a run (not a profile) knows: load times, cache counts, ranks."""
    index_bytes = retriever.index_nbytes()
    search_p50 = percentile(latency.search_ms, 50)
    device = described.get("device", "cpu")
    return Efficiency(
        device=device,
        dtype=described.get("dtype"),
        threads=thread_count(),
        page_batch_size=settings.batch_size,
        query_batch_size=described.get("parameters", {}).get("batch_size", settings.batch_size),
        model_parameters=described.get("model_parameters"),
        **extra,
        index_s=indexing.total_s,
        index_pages_per_s=indexing.pages_per_s,
        index_ms_per_page=indexing.ms_per_page,
        index_warm_up_batch_excluded=indexing.warm_up_excluded,
        index_model_s=indexing.model_s,
        index_input_wait_s=indexing.input_wait_s,
        latency_sample_queries=len(latency.query_encode_ms),
        query_ms_p50=percentile(latency.query_ms, 50),
        query_ms_p95=percentile(latency.query_ms, 95),
        query_encode_ms_p50=percentile(latency.query_encode_ms, 50),
        query_encode_ms_p95=percentile(latency.query_encode_ms, 95),
        query_encode_ms_p99=percentile(latency.query_encode_ms, 99),
        search_ms_p50=search_p50,
        search_ms_p95=percentile(latency.search_ms, 95),
        search_ms_per_1000_pages=_ratio(search_p50 * 1000, n_pages) if search_p50 is not None else None,
        peak_rss_mb=memory.peak_bytes / 2**20,
        peak_accelerator_mb=accelerator_peak_mb(device),
        index_bytes_total=index_bytes,
        index_bytes_per_page=_ratio(index_bytes, n_pages) if index_bytes is not None else None,
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
