"""The efficiency block in words, as `run` and `profile` print it."""

from __future__ import annotations

from collections.abc import Sequence

from benchmark.results.schema import Efficiency


def describe_efficiency(efficiency: Efficiency) -> str:
    """One paragraph: where it was measured, then load, index, latency, memory and size."""
    parts = [*_loading_and_indexing(efficiency), *_latency(efficiency), *_memory_and_size(efficiency)]
    return f"[{_measured_on(efficiency)}] " + "; ".join(parts)


def _measured_on(e: Efficiency) -> str:
    where = f"{e.device}" + (f", {e.dtype}" if e.dtype else "") + f", {e.threads} threads"
    if (e.world_size or 1) > 1:
        where += f", {e.world_size} ranks"
    if e.model_parameters:
        where += f", model of {_count(e.model_parameters)} parameters"
    return where


def _loading_and_indexing(e: Efficiency) -> list[str]:
    parts = []
    if e.model_load_s is not None:
        parts.append(f"model load {e.model_load_s:.2f} s")
    if e.index_pages_per_s_per_rank:
        rates = ", ".join("-" if rate is None else f"{rate:.1f}" for rate in e.index_pages_per_s_per_rank)
        parts.append(f"encoding per rank {rates} pages/s")
    if e.pages_from_cache:
        parts.append(f"pages encoded {e.pages_encoded}, from the cache {e.pages_from_cache}")
    if e.index_pages_per_s is not None:
        parts.append(
            f"index {e.index_pages_per_s:.1f} pages/s ({e.index_ms_per_page:.2f} ms/page, "
            f"batch {e.page_batch_size}; {e.index_s:.2f} s in all)"
        )
    if e.index_model_s is not None and e.index_input_wait_s is not None:
        parts.append(
            f"indexing: model {e.index_model_s:.2f} s, waiting for pages {e.index_input_wait_s:.2f} s"
        )
    return parts


def _latency(e: Efficiency) -> list[str]:
    parts = []
    if e.query_ms_p50 is not None:
        parts.append(f"one query end to end p50/p95 {e.query_ms_p50:.2f}/{e.query_ms_p95:.2f} ms")
    if e.query_encode_ms_p50 is not None:
        parts.append(
            f"query encoding p50/p95/p99 {e.query_encode_ms_p50:.2f}/{e.query_encode_ms_p95:.2f}/"
            f"{e.query_encode_ms_p99:.2f} ms (batch size 1, {e.latency_sample_queries} queries)"
        )
        parts.append(
            f"search p50/p95 {e.search_ms_p50:.2f}/{e.search_ms_p95:.2f} ms "
            f"({e.search_ms_per_1000_pages:.3f} ms per 1000 pages)"
        )
    return parts


def _memory_and_size(e: Efficiency) -> list[str]:
    memory = f"peak RSS {e.peak_rss_mb:.0f} MB"
    if e.peak_accelerator_mb is not None:
        memory += f", peak GPU {e.peak_accelerator_mb:.0f} MB"
    parts = [memory]
    if e.index_bytes_total is not None:
        parts.append(
            f"index {size_text(e.index_bytes_per_page)}/page ({size_text(e.index_bytes_total)} in all)"
        )
    return parts


CPU_NOTE = (
    "efficiency figures were measured on a CPU: they do not compare with GPU figures "
    "(such as the ColPali paper's, on an NVIDIA L4)"
)


def size_text(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.1f} GB"


def _count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def describe_growth(measurements: Sequence[tuple[int, Efficiency]], projected_pages: int = 100_000) -> str:
    """How index size and search time grow with the corpus, fitted over the (pages, efficiency)
    measured."""
    bytes_per_1000, bytes_at_0 = growth(measurements, "index_bytes_total")
    search_per_1000, search_at_0 = growth(measurements, "search_ms_p50")
    sizes = ", ".join(str(pages) for pages, _ in measurements)
    projected_bytes = bytes_at_0 + bytes_per_1000 * projected_pages / 1000
    projected_search = search_at_0 + search_per_1000 * projected_pages / 1000
    lines = [
        f"  growth per 1000 pages (least squares over {sizes} pages): index +{size_text(bytes_per_1000)}, "
        f"search p50 +{search_per_1000:.3f} ms",
        f"  projected at {projected_pages:,} pages: index {size_text(projected_bytes)}, "
        f"search p50 {projected_search:.1f} ms per query",
    ]
    lines += [f"  caveat: {caveat}" for caveat in projection_caveats([e for _, e in measurements])]
    return "\n".join(lines)


# Below this a model is a test model: the smallest published page retrievers (e.g. a
# MiniLM text encoder, 22.7M) are larger.
TINY_MODEL_PARAMETERS = 10_000_000


def projection_caveats(measured: Sequence[Efficiency]) -> list[str]:
    """Why a projection may not say what a real run would cost: a tiny (test) model, a CPU."""
    caveats = []
    parameters = measured[0].model_parameters if measured else None
    if parameters is not None and parameters < TINY_MODEL_PARAMETERS:
        caveats.append(
            f"a model of {_count(parameters)} parameters is a test model: a real checkpoint has other "
            "vectors per page, dimensions and encoding times, so this projection says nothing of its cost"
        )
    if any(e.device == "cpu" for e in measured):
        caveats.append("projected from CPU figures: a GPU searches and encodes at other rates")
    return caveats


def growth(measurements: Sequence[tuple[int, Efficiency]], field: str) -> tuple[float, float]:
    """Least-squares line through (pages, field): (per 1000 pages, at 0 pages)."""
    import numpy as np

    pages = np.array([n_pages for n_pages, _ in measurements], dtype=float)
    values = np.array([getattr(efficiency, field) for _, efficiency in measurements], dtype=float)
    slope, intercept = np.polyfit(pages, values, 1)
    return float(slope * 1000), float(intercept)
