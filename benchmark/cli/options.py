"""What `run` and `profile` share on the command line, and the argument types.

Defaults and choice lists come from `benchmark.core.defaults`; this module only says
how they are spelled on the command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.core import defaults
from benchmark.core.errors import PagebenchError
from benchmark.core.files import cache_root
from benchmark.core.protocols import DEFAULT_PROTOCOL, PROTOCOL_NAMES
from benchmark.retrievers.base import RetrieverOptions
from benchmark.tasks.images import MAX_PAGE_PIXELS


def add_retriever_options(parser: argparse.ArgumentParser) -> None:
    """Which retriever, and how to run it."""
    parser.add_argument(
        "--retriever",
        required=True,
        help="retriever name (see `pagebench retrievers`), or module:Class for one no registry names",
    )
    model = parser.add_argument_group("retriever options")
    model.add_argument("--checkpoint", help="model checkpoint: hub id or local folder")
    model.add_argument("--revision", help="checkpoint revision (commit, tag or branch)")
    model.add_argument(
        "--device",
        default=defaults.DEVICES[0],
        help=f"{', '.join(defaults.DEVICES)} or cuda:N; auto is cuda, then mps, then cpu "
        "(default: %(default)s)",
    )
    model.add_argument(
        "--dtype",
        default=defaults.DTYPES[0],
        help=f"{', '.join(defaults.DTYPES)}; auto is bfloat16 on CUDA, float32 elsewhere "
        "(default: %(default)s)",
    )
    model.add_argument(
        "--scoring-dtype",
        default=defaults.SCORING_DTYPE_CHOICES[0],
        choices=defaults.SCORING_DTYPE_CHOICES,
        help="dtype of page vectors in the MaxSim/dot engine: float32 is exact; auto = bfloat16 on CUDA, "
        "float32 elsewhere",
    )
    model.add_argument(
        "--pool-factor",
        type=positive_int,
        default=defaults.POOL_FACTOR,
        help="hierarchical token pooling of multi-vector pages: keep ~1/N of the vectors (default: off)",
    )
    model.add_argument(
        "--index-on-disk",
        metavar="DIR",
        help="keep page vectors in files under DIR instead of in memory, for corpora larger than "
        "memory (the engine streams them): float16 with --scoring-dtype float32, scores matching "
        "in-memory float32 to about 3 digits; bfloat16 with bfloat16, scores equal to in-memory",
    )
    model.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="retriever-specific setting, e.g. --param k1=1.2 for bm25-ocr; repeatable",
    )
    _add_running_options(parser)


def _add_running_options(parser: argparse.ArgumentParser) -> None:
    running = parser.add_argument_group("running")
    running.add_argument(
        "--batch-size",
        type=positive_int,
        default=defaults.BATCH_SIZE,
        help="pages (and queries) per batch given to the model (default: %(default)s)",
    )
    running.add_argument(
        "--latency-queries",
        type=int,
        default=defaults.LATENCY_QUERIES,
        help="queries timed one at a time for the latency percentiles (default: %(default)s; 0: none)",
    )
    running.add_argument(
        "--cache-dir",
        type=Path,
        default=cache_root(),
        help="cache of OCR text and page embeddings, so a re-run or a resumed run encodes only "
        "what is new (default: $PAGEBENCH_CACHE_DIR or ~/.cache/pagebench; now %(default)s)",
    )
    running.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    running.add_argument(
        "--on-bad-page",
        choices=defaults.ON_BAD_PAGE,
        default=defaults.ON_BAD_PAGE[0],
        help="an unreadable page (corrupt, empty, too large): fail naming it, or skip it and record "
        "its id in the results file (default: %(default)s)",
    )
    running.add_argument(
        "--protocol",
        choices=PROTOCOL_NAMES,
        default=DEFAULT_PROTOCOL,
        help="whose semantics the numbers follow: pagebench (exact float32 scores, trec_eval on the "
        ".trec reproduces every number), vidore (vidore-benchmark 5.0.0: its retrievers' score "
        "arithmetic (ColPali/ColQwen2 in bfloat16 as colpali-engine, BiSigLIP by raw dot product), "
        "scores floored at 0 when rows merge, its MRR tie order, means rounded to 5 digits) or mteb "
        "(MTEB 2.x: means rounded to 5 digits). Recorded in the results; runs under different "
        "protocols are never compared (default: %(default)s)",
    )
    running.add_argument(
        "--strict",
        action="store_true",
        help="refuse a hub dataset with faulty entries (qrels naming an unknown query or page, empty "
        "query text, QA rows without image_filename) instead of evaluating it without them and recording "
        "them under task.dropped in the results file; local data is always checked strictly",
    )
    running.add_argument(
        "--allow-outside-pages",
        action="store_true",
        help="let a local task folder's corpus.jsonl name pages outside the folder (absolute paths, "
        "'../', symlinks out); without it such an entry is refused before any page is read",
    )
    running.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress: neither pagebench's (a bar on a terminal, elsewhere a log line every 10 %% "
        "or 30 s) nor the bars of hub downloads, datasets and transformers' weight loading",
    )


def retriever_options(args: argparse.Namespace) -> RetrieverOptions:
    return RetrieverOptions(
        checkpoint=args.checkpoint,
        revision=args.revision,
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        scoring_dtype=args.scoring_dtype,
        pool_factor=args.pool_factor,
        index_dir=args.index_on_disk,
        params=parse_params(args.param),
        protocol=args.protocol,
    )


def run_settings(args: argparse.Namespace):
    from benchmark.run.settings import RunSettings  # numpy and PIL: not for `pagebench --help`

    return RunSettings(
        batch_size=args.batch_size,
        top_k=args.top_k,
        cache_dir=None if args.no_cache else args.cache_dir,
        show_progress=not args.no_progress,
        on_bad_page=args.on_bad_page,
        latency_queries=max(0, args.latency_queries),
        protocol=args.protocol,
        strict=args.strict,
        allow_outside_pages=args.allow_outside_pages,
    )


def parse_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise PagebenchError(f"--param expects KEY=VALUE, got {pair!r}")
        params[key.strip()] = value.strip()
    return params


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def page_counts(text: str) -> list[int]:
    counts = [positive_int(part.strip()) for part in text.split(",") if part.strip()]
    if not counts:
        raise argparse.ArgumentTypeError("expected page counts such as 1000,5000,20000")
    return sorted(set(counts))


def page_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 827x1170, got {text!r}")
    width, height = positive_int(width), positive_int(height)
    if width * height > MAX_PAGE_PIXELS:
        raise argparse.ArgumentTypeError(
            f"{width}x{height} is {width * height:,} pixels, "
            f"more than the {MAX_PAGE_PIXELS:,} a page may have"
        )
    return width, height
