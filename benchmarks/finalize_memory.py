"""Memory the in-memory engine needs to lay its pages out in buckets (`PageVectorIndex.finalize`).

    python benchmarks/finalize_memory.py [--pages 3000]   # about 30 seconds on 2 CPU cores

Pages are ColPali-shaped random unit vectors (1030 x 128, float32), added 500 at a time
as one tensor each (as a model's batches would be). The script measures the RSS the
process holds before `finalize`, the peak extra RSS during it (sampled by
`PeakMemory`), and its seconds. Until issue 16, `finalize` concatenated every bucket's
pages while still holding them, so its peak extra was the whole index again: 20,000
float32 pages (10.5 GB) needed 21 GB. It now copies each page into a preallocated
bucket and hands freed memory back every 256 MB. Target: peak extra at most 0.25x the
index.

The last line of output is a JSON object, also written to
benchmarks/results/finalize_memory.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmark.engine.index import PageVectorIndex
from benchmark.measure.memory import PeakMemory, resident_bytes

TARGET_EXTRA_OVER_INDEX = 0.25


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "finalize_memory.json"
    )
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    index = PageVectorIndex(dtype="float32")
    for start in range(0, args.pages, 500):
        chunk = torch.randn(min(500, args.pages - start), 1030, 128, generator=generator)
        chunk /= chunk.norm(dim=-1, keepdim=True)
        index.add(list(chunk))
        del chunk
    rss_before = resident_bytes()
    started = time.perf_counter()
    with PeakMemory() as memory:
        index.finalize()
    seconds = time.perf_counter() - started
    ratio = memory.extra_bytes / index.nbytes
    report = {
        "benchmark": "finalize_memory",
        "platform": platform.platform(),
        "pages": args.pages,
        "index_mb": round(index.nbytes / 2**20, 1),
        "rss_before_finalize_mb": round(rss_before / 2**20, 1),
        "finalize_peak_extra_mb": round(memory.extra_bytes / 2**20, 1),
        "finalize_s": round(seconds, 2),
        "peak_extra_over_index": round(ratio, 3),
        "target": TARGET_EXTRA_OVER_INDEX,
        "met": ratio <= TARGET_EXTRA_OVER_INDEX,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
