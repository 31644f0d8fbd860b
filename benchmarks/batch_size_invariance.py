"""How much a neural retriever's scores and ranking move with the batch size.

    python benchmarks/batch_size_invariance.py                       # tiny checkpoints, debian-faq-en
    python benchmarks/batch_size_invariance.py --retriever colpali --checkpoint vidore/colpali-v1.3-hf

Each retriever evaluates the task at two batch sizes (default 1 and 16), everything
else equal (float32 model and scoring unless --dtype says otherwise). Reported per
retriever: the largest |score difference| of a (query, page) pair ranked in both runs,
the number of adjacent rank swaps in the `.trec` lists (pairs of pages whose order
differs), whether any top-k set differs, and the largest metric difference. Matrix
products are computed in a different order at another batch size, so float32 results
agree to rounding, not to the bit: pages whose scores differ by less than that can swap.

The last line of output is a JSON object, also written to
benchmarks/results/batch_size_invariance.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmark.devtools import tiny_checkpoints  # noqa: E402
from benchmark.retrievers import registry  # noqa: E402
from benchmark.retrievers.base import RetrieverOptions  # noqa: E402
from benchmark.run.evaluate import evaluate  # noqa: E402
from benchmark.run.settings import RunSettings  # noqa: E402
from benchmark.tasks import load_task  # noqa: E402
from benchmark.tasks.catalog import resolve_task  # noqa: E402

TINY = {
    "colpali": tiny_checkpoints.build_colpali,
    "colqwen2": tiny_checkpoints.build_colqwen2,
    "bisiglip": tiny_checkpoints.build_siglip,
    "bipali": tiny_checkpoints.build_bipali,
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task", default="debian-faq-en")
    parser.add_argument(
        "--retriever", action="append", help="default: every retriever with a tiny checkpoint"
    )
    parser.add_argument("--checkpoint", help="with one --retriever: a real checkpoint instead of a tiny one")
    parser.add_argument("--batch-sizes", type=int, nargs=2, default=(1, 16))
    parser.add_argument("--dtype", default="float32")
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "batch_size_invariance.json"
    )
    args = parser.parse_args()

    task = load_task(resolve_task(args.task), need_page_text=True)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.retriever or list(TINY):
            checkpoint = args.checkpoint or str(TINY[name](Path(scratch) / name))
            runs = {}
            for batch_size in args.batch_sizes:
                options = RetrieverOptions(
                    checkpoint=checkpoint, dtype=args.dtype, scoring_dtype="float32", batch_size=batch_size
                )
                settings = RunSettings(batch_size=batch_size, show_progress=False, cache_dir=None)
                runs[batch_size] = evaluate(task, registry.create(name, options), settings)
            rows.append(compare_runs(name, checkpoint if args.checkpoint else "tiny", *runs.values()))
            print(json.dumps(rows[-1]), flush=True)

    report = {
        "task": args.task,
        "batch_sizes": list(args.batch_sizes),
        "dtype": args.dtype,
        "retrievers": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))
    return 0


def compare_runs(name: str, checkpoint: str, first, second) -> dict:
    largest_score_difference, swaps, different_sets = 0.0, 0, 0
    for query_id, ranked in first.ranked.items():
        other = second.ranked[query_id]
        scores, other_scores = dict(ranked), dict(other)
        common = scores.keys() & other_scores.keys()
        largest_score_difference = max(
            [largest_score_difference, *(abs(scores[page] - other_scores[page]) for page in common)]
        )
        different_sets += scores.keys() != other_scores.keys()
        order = [page for page, _ in other if page in common]
        position = {page: i for i, page in enumerate(order)}
        mine = [page for page, _ in ranked if page in common]
        swaps += sum(position[a] > position[b] for i, a in enumerate(mine) for b in mine[i + 1 :])
    metrics = first.document.metrics
    return {
        "retriever": name,
        "checkpoint": checkpoint,
        "max_abs_score_difference": largest_score_difference,
        "rank_swaps": swaps,
        "queries_with_other_top_k": different_sets,
        "max_abs_metric_difference": max(abs(metrics[key] - second.document.metrics[key]) for key in metrics),
    }


if __name__ == "__main__":
    raise SystemExit(main())
