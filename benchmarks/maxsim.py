"""MaxSim engine vs the padded-einsum reference, and its cost per page as the corpus grows.

    python benchmarks/maxsim.py                  # 16 minutes on 2 CPU cores, about 11 GB of memory
    python benchmarks/maxsim.py --device cuda    # on a GPU: writes benchmarks/results/maxsim-cuda.json
    python benchmarks/maxsim.py --quick          # smaller shapes, for a smoke run

Shape (ColPali-like): 100 queries x 20 tokens against pages of 1030 vectors x 128 dims,
random unit vectors. For each method and dtype it reports ms per query per 1000 pages,
achieved GFLOP/s (matmul FLOPs: 2 x query tokens x page vectors x dim), the fraction of
the device's matmul peak for the same dtype (measured in the same run), and the peak
extra memory of the scoring call (RSS above what the process held before it on the
CPU; allocated GPU memory on CUDA).

Corpus size (issue 16): the engine is timed at 1000 pages and at each larger size
(default 5000 and 20000), in `--rounds` rounds of equal work: one search of the larger
index, then as many searches of the 1000-page index as score the same number of pages.
The cost per page of the larger index over that of the 1000-page one, summed over the
rounds, must stay within 1.1x. Timing both sides over equal spans matters on a shared
machine: here the float32 matmul rate drops by a third for tens of seconds at a time,
so the best of a few 3-second searches is not comparable with one 80-second search. Memory is taken on a
separate call: the RSS sampler is a thread that, on a 2-core machine, takes a core's
share from the matmul (about 12 % in float32 here), so a timed call never runs under
it.

The reference is the scoring loop of the official tool and colpali-engine: pad
blocks of 128 queries and 128 pages, einsum("bnd,csd->bcns"), max over page
vectors, sum over query tokens; it runs at 1000 pages only.

The last line of output is a JSON object, also written to the `--output` file.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmark.engine.index import PageVectorIndex
from benchmark.engine.ranking import id_ranks
from benchmark.engine.reference_scoring import colpali_engine_scores
from benchmark.measure.memory import PeakMemory

TOP_K = 100
DTYPES = ("float32", "bfloat16")
BASE_PAGES = 1000
CHUNK_PAGES = 500  # pages generated and added at a time, so the process stays lean
TARGETS = {
    "float32_speedup_vs_reference": 1.8,
    "float32_fraction_of_peak": 0.70,
    "bfloat16_speedup_vs_float32_reference": 4.0,
    "bfloat16_fraction_of_peak": 0.75,
    "reference_over_engine_peak_memory": 10.0,
}
COST_GROWTH_TARGET = 1.10  # ms per query per 1000 pages at a larger corpus over the 1000-page figure
MEMORY_GROWTH_TARGET = 1.10  # peak extra memory of a search, largest corpus over 1000 pages


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small shapes: checks the script, not the targets"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: %(default)s)")
    parser.add_argument(
        "--sizes", default="5000,20000", help="larger corpus sizes, in pages (default: %(default)s)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed calls per index (default: %(default)s)")
    parser.add_argument("--output", type=Path, help="default: benchmarks/results/maxsim[-cuda].json")
    args = parser.parse_args()
    device = torch.device(args.device)
    output = args.output or REPO / "benchmarks" / "results" / (
        "maxsim.json" if device.type == "cpu" else f"maxsim-{device.type}.json"
    )
    shape = {"queries": 100, "query_tokens": 20, "page_vectors": 1030, "dim": 128}
    sizes = [int(size) for size in args.sizes.split(",")]
    base = BASE_PAGES
    if args.quick:
        shape.update(queries=20, page_vectors=256)
        base, sizes = 200, [600]
    shape["pages"], shape["larger_pages"] = base, sizes

    generator = torch.Generator().manual_seed(0)
    queries = [_unit(shape["query_tokens"], shape["dim"], generator) for _ in range(shape["queries"])]
    pages = [_unit(shape["page_vectors"], shape["dim"], generator) for _ in range(base)]
    peaks = {dtype: matmul_peak_gflops(getattr(torch, dtype), device) for dtype in DTYPES}
    print(f"measured matmul peak (GFLOP/s): {peaks}", flush=True)

    rows, outputs, growth = [], {}, {}
    for dtype in DTYPES:
        engine_rows, outputs[("engine", dtype)], growth[dtype] = _engine(
            dtype, device, queries, pages, sizes, shape, args.rounds
        )
        rows += engine_rows
    for dtype in DTYPES:
        row, outputs[("reference", dtype)] = _reference(dtype, device, queries, pages, args.rounds)
        rows.append(row)
    del pages
    peaks = {dtype: max(peaks[dtype], matmul_peak_gflops(getattr(torch, dtype), device)) for dtype in DTYPES}
    print(f"matmul peak, best of two measurements: {peaks}", flush=True)

    flops_per_page = 2 * shape["queries"] * shape["query_tokens"] * shape["page_vectors"] * shape["dim"]
    for row in rows:
        row.update(_rates(row, flops_per_page, peaks, shape))
        print(json.dumps(row), flush=True)
    report = {
        "benchmark": "maxsim",
        "shape": shape,
        "top_k": TOP_K,
        "rounds": args.rounds,
        "machine": _machine(device),
        "matmul_peak_gflops": peaks,
        "results": rows,
        "agreement": _agreement(outputs),
        "cost_per_page_growth": growth,
        "targets": _targets(rows, growth, base),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))
    return 0


def _engine(dtype, device, queries, pages, sizes, shape, rounds):
    """The engine's rows at every size, its 1000-page output, and the cost growth per size."""
    base_index = _engine_index([pages], dtype, device)
    search = base_index.search
    search(queries[:1], TOP_K, base_index.ranks)  # warm-up: kernels, thread pools
    output = search(queries, TOP_K, base_index.ranks)
    base_memory, base_sampled_s = _peak_memory(lambda: search(queries, TOP_K, base_index.ranks), device)
    base_seconds, rows, growth = [], [], {}
    for size in sizes:
        index = _engine_index(_page_chunks(size, shape), dtype, device)
        index.search(queries[:1], TOP_K, index.ranks)  # its first touch, outside the timing
        memory, sampled_s = _peak_memory(
            lambda index=index: index.search(queries, TOP_K, index.ranks), device
        )
        # Equal work, alternating: `repeats` searches of the 1000-page index score as many
        # pages, over as long, as one search of the larger one, so a slow spell of a shared
        # machine (tens of seconds, seen here) weighs on both sides alike
        repeats = max(1, size // len(base_index))
        base_blocks, larger = [], []
        for _ in range(rounds):
            block = [_seconds(lambda: search(queries, TOP_K, base_index.ranks)) for _ in range(repeats)]
            base_seconds += block
            base_blocks.append(sum(block))
            larger.append(_seconds(lambda index=index: index.search(queries, TOP_K, index.ranks)))
        pages_per_side = repeats * len(base_index)
        growth[str(size)] = {
            "ratio": round(sum(larger) / size / (sum(base_blocks) / pages_per_side), 3),
            "ratio_per_round": [
                round(large / size / (block / pages_per_side), 3)
                for large, block in zip(larger, base_blocks, strict=True)
            ],
            f"searches_of_{len(base_index)}_pages_per_round": repeats,
            "seconds_of_those_searches": [round(t, 3) for t in base_blocks],
            f"seconds_at_{size}_pages": [round(t, 3) for t in larger],
        }
        print(f"engine {dtype} {size} pages: {json.dumps(growth[str(size)])}", flush=True)
        rows.append(_row("engine", dtype, size, larger, memory, sampled_s))
        del index
    rows.insert(0, _row("engine", dtype, len(base_index), base_seconds, base_memory, base_sampled_s))
    return rows, output, growth


def _reference(dtype, device, queries, pages, rounds):
    cast = [query.to(device=device, dtype=getattr(torch, dtype)) for query in queries]
    cast_pages = [page.to(device=device, dtype=getattr(torch, dtype)) for page in pages]
    reference_scores(cast[:1], cast_pages[:128])  # warm-up
    memory, sampled_s = _peak_memory(lambda: reference_scores(cast, cast_pages), device)
    seconds = [_seconds(lambda: reference_scores(cast, cast_pages)) for _ in range(rounds)]
    row = _row("reference", dtype, len(pages), seconds, memory, sampled_s)
    return row, reference_scores(cast, cast_pages)


def reference_scores(queries: list, pages: list):
    """The padded-einsum scoring of the official tool and colpali-engine (what `--protocol
    vidore` runs), as a float32 tensor."""
    return torch.from_numpy(colpali_engine_scores(queries, pages, block=128))


def matmul_peak_gflops(dtype, device) -> float:
    """Best plain-matmul rate over a square shape and the engine's own tile shape."""
    best = 0.0
    square = 8192 if device.type == "cuda" else 4096
    for m, k, n in ((square, square, square), (2060, 128, 2000)):
        a = torch.randn(m, k, device=device).to(dtype)
        b = torch.randn(k, n, device=device).to(dtype)
        out = torch.empty(m, n, dtype=dtype, device=device)
        torch.mm(a, b, out=out)
        repeats, elapsed = 1, 0.0
        while elapsed < 0.3:  # long enough to time on a CPU or a GPU
            _synchronize(device)
            start = time.perf_counter()
            for _ in range(repeats):
                torch.mm(a, b, out=out)
            _synchronize(device)
            elapsed = time.perf_counter() - start
            best = max(best, 2 * m * k * n * repeats / elapsed / 1e9)
            repeats *= 2
    return round(best, 1)


def _engine_index(page_chunks, dtype: str, device) -> PageVectorIndex:
    index = PageVectorIndex(dtype=dtype, device=str(device))
    for chunk in page_chunks:
        index.add(chunk)
    index.finalize()
    index.ranks = id_ranks([f"p{i:06d}" for i in range(len(index))])
    return index


def _page_chunks(size: int, shape: dict):
    """`size` pages, generated a chunk at a time (one tensor each, normalised in place)."""
    generator = torch.Generator().manual_seed(size)
    for start in range(0, size, CHUNK_PAGES):
        chunk = torch.randn(
            min(CHUNK_PAGES, size - start), shape["page_vectors"], shape["dim"], generator=generator
        )
        chunk /= chunk.norm(dim=-1, keepdim=True)
        yield list(chunk)


def _peak_memory(search, device) -> tuple[int, float]:
    """Peak extra bytes of one call (RSS on the CPU, allocated memory on CUDA), and its
    seconds, which on the CPU include the RSS sampler's share of the cores."""
    if device.type == "cuda":
        _synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        seconds = _seconds(search)
        return torch.cuda.max_memory_allocated(device) - before, seconds
    with PeakMemory() as memory:
        seconds = _seconds(search)
    return memory.extra_bytes, seconds


def _seconds(function) -> float:
    start = time.perf_counter()
    function()  # every call ends in .cpu(): the device has finished
    return time.perf_counter() - start


def _synchronize(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _unit(n: int, dim: int, generator) -> torch.Tensor:
    vectors = torch.randn(n, dim, generator=generator)
    return vectors / vectors.norm(dim=1, keepdim=True)


def _row(method, dtype, n_pages, seconds: list, extra_bytes, sampled_s) -> dict:
    return {
        "method": method,
        "dtype": dtype,
        "pages": n_pages,
        "seconds": round(min(seconds), 3),
        "all_seconds": [round(t, 3) for t in seconds],
        "peak_extra_memory_mb": round(extra_bytes / 2**20, 1),
        # the memory call's time: on the CPU, the sampler thread's cost shows against `seconds`
        "seconds_while_memory_sampled": round(sampled_s, 3),
    }


def _rates(row, flops_per_page, peaks, shape) -> dict:
    gflops = flops_per_page * row["pages"] / row["seconds"] / 1e9
    return {
        "ms_per_query_per_1000_pages": round(
            row["seconds"] * 1000 / shape["queries"] / (row["pages"] / 1000), 3
        ),
        "gflops": round(gflops, 1),
        "fraction_of_peak": round(gflops / peaks[row["dtype"]], 3),
    }


def _machine(device) -> dict:
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        machine["gpu"] = torch.cuda.get_device_name(device)
    return machine


def _agreement(scores: dict) -> dict:
    """Engine float32 vs reference scores, and top-10 overlap of bfloat16 with float32."""
    reference = scores[("reference", "float32")].numpy()
    engine_scores, engine_indices = scores[("engine", "float32")]
    gathered = np.take_along_axis(reference, engine_indices, axis=1)
    reference_top = np.argsort(-reference, axis=1, kind="stable")[:, :10]
    bf16_top = scores[("engine", "bfloat16")][1][:, :10]
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(reference_top, bf16_top, strict=True)])
    return {
        "float32_max_abs_score_difference": float(np.abs(gathered - engine_scores).max()),
        "float32_top10_identical_to_reference": bool((engine_indices[:, :10] == reference_top).all()),
        "bfloat16_top10_overlap_with_float32": round(float(overlap), 4),
    }


def _targets(rows: list, growth: dict, base: int) -> dict:
    def find(method, dtype, pages=base):
        return next(r for r in rows if (r["method"], r["dtype"], r["pages"]) == (method, dtype, pages))

    reference = find("reference", "float32")
    largest = max(r["pages"] for r in rows)
    values = {
        "float32_speedup_vs_reference": reference["seconds"] / find("engine", "float32")["seconds"],
        "float32_fraction_of_peak": find("engine", "float32")["fraction_of_peak"],
        "bfloat16_speedup_vs_float32_reference": reference["seconds"] / find("engine", "bfloat16")["seconds"],
        "bfloat16_fraction_of_peak": find("engine", "bfloat16")["fraction_of_peak"],
        "reference_over_engine_peak_memory": reference["peak_extra_memory_mb"]
        / max(find("engine", dtype)["peak_extra_memory_mb"] for dtype in DTYPES),
    }
    targets = {
        name: {"value": round(value, 3), "target": TARGETS[name], "met": value >= TARGETS[name]}
        for name, value in values.items()
    }
    for dtype, by_size in growth.items():
        for size, measured in by_size.items():
            targets[f"{dtype}_cost_per_page_{size}_over_{base}_pages"] = {
                "value": measured["ratio"],
                "target": COST_GROWTH_TARGET,
                "met": measured["ratio"] <= COST_GROWTH_TARGET,
            }
    memory_growth = max(
        find("engine", dtype, largest)["peak_extra_memory_mb"]
        / max(find("engine", dtype)["peak_extra_memory_mb"], 0.1)
        for dtype in DTYPES
    )
    targets[f"engine_memory_growth_{base}_to_{largest}_pages"] = {
        "value": round(memory_growth, 3),
        "target": MEMORY_GROWTH_TARGET,
        "met": memory_growth <= MEMORY_GROWTH_TARGET,
    }
    return targets


if __name__ == "__main__":
    raise SystemExit(main())
