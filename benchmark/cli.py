"""`pagebench`: thin command line over the catalog, the registry and the runner."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import benchmark
from benchmark.cli_cache import add_cache_command
from benchmark.cli_reports import add_report_commands
from benchmark.errors import PagebenchError
from benchmark.files import cache_root

EPILOG = """examples:
  pagebench tasks
  pagebench run --task debian-faq-en --retriever bm25-ocr
  pagebench run --suite vidore-v1 --retriever bm25-ocr
  pagebench run --task ./my-docs --retriever bm25-ocr
  pagebench profile --retriever bm25-ocr --task debian-faq-en
  pagebench leaderboard
  pagebench compare results/bm25-ocr results/dense-ocr
  pagebench check --baseline results/bm25-ocr --current runs/bm25-ocr
"""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command"):
        parser.print_help()
        return 2
    try:
        return args.command(args)
    except PagebenchError as error:
        print(f"pagebench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pagebench: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: a short message unless --debug
        if getattr(args, "debug", False):
            raise
        print(
            f"pagebench: internal error: {type(error).__name__}: {error} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a sub-command's default must not undo `pagebench --debug run ...`.
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks for errors"
    )

    parser = argparse.ArgumentParser(
        prog="pagebench",
        description="Evaluate visual document retrievers on ViDoRe-style page retrieval tasks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"pagebench {benchmark.__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    tasks = commands.add_parser(
        "tasks", parents=[common], help="list tasks", description="List every bundled task."
    )
    tasks.add_argument("--suite", help="only tasks of this suite")
    tasks.set_defaults(command=cmd_tasks)

    retrievers = commands.add_parser(
        "retrievers",
        parents=[common],
        help="list retrievers",
        description="List built-in and plugin retrievers.",
    )
    retrievers.set_defaults(command=cmd_retrievers)

    run = commands.add_parser(
        "run",
        parents=[common],
        help="evaluate a retriever on tasks",
        description=(
            "Evaluate a retriever on one or more tasks. Writes <output-dir>/<run-name>/<task>.json "
            "(metrics, per-query values, efficiency, environment) and <task>.trec (top pages per query), "
            "and prints nDCG@5, nDCG@10, recall@5 and MRR@10 per task, then what the run cost."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    selection = run.add_argument_group("what to evaluate")
    selection.add_argument(
        "--task",
        action="append",
        default=[],
        metavar="TASK",
        help="task name (name@lang for one query language), spec file (.toml) or local task folder; repeatable",
    )
    selection.add_argument("--suite", action="append", default=[], help="every task of a suite; repeatable")
    _add_retriever_options(run)
    output = run.add_argument_group("output")
    output.add_argument("--output-dir", type=Path, default=Path("results"), help="default: %(default)s")
    output.add_argument(
        "--run-name", help="results sub-folder (default: retriever name, plus checkpoint if given)"
    )
    output.add_argument(
        "--top-k",
        type=_positive_int,
        default=100,
        help="pages kept per query in the run (default: %(default)s)",
    )
    run.set_defaults(command=cmd_run)

    profile = commands.add_parser(
        "profile",
        parents=[common],
        help="measure what a retriever costs (no metrics)",
        description=(
            "Run only the efficiency probe: index a task's pages, or synthetic pages in the numbers asked, "
            "and time queries one at a time. Prints index speed and size, query-encoding and search latency "
            "and peak memory; with several sizes, how index size and search time grow per 1000 pages and what "
            "they would be at 100,000."
        ),
        epilog="examples:\n  pagebench profile --retriever bm25-ocr --task debian-faq-en\n"
        "  pagebench profile --retriever colpali --checkpoint ./tiny-colpali --pages 1000,5000,20000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pages = profile.add_argument_group("pages to profile on").add_mutually_exclusive_group(required=True)
    pages.add_argument("--task", help="a task: name, spec file (.toml) or local task folder")
    pages.add_argument("--pages", type=_page_counts, help="synthetic corpus sizes, e.g. 1000,5000,20000")
    synthetic = profile.add_argument_group("synthetic pages")
    synthetic.add_argument(
        "--page-size",
        type=_page_size,
        default="827x1170",
        help="WxH in pixels (default: %(default)s, A4 at 100 DPI)",
    )
    synthetic.add_argument(
        "--queries",
        type=_positive_int,
        default=50,
        help="questions of debian-faq-en timed (default: %(default)s)",
    )
    _add_retriever_options(profile)
    profile.add_argument("--output", type=Path, help="also write the measurements to this JSON file")
    profile.set_defaults(command=cmd_profile, top_k=100)
    add_report_commands(commands, common)
    add_cache_command(commands, common)
    return parser


def _add_retriever_options(parser: argparse.ArgumentParser) -> None:
    """What `run` and `profile` share: which retriever, and how to run it."""
    parser.add_argument("--retriever", required=True, help="retriever name (see `pagebench retrievers`)")
    model = parser.add_argument_group("retriever options")
    model.add_argument("--checkpoint", help="model checkpoint: hub id or local folder")
    model.add_argument("--revision", help="checkpoint revision (commit, tag or branch)")
    model.add_argument("--device", default="auto", help="auto, cuda, mps or cpu (default: %(default)s)")
    model.add_argument(
        "--dtype", default="auto", help="auto, bfloat16, float16 or float32 (default: %(default)s)"
    )
    model.add_argument(
        "--scoring-dtype",
        default="auto",
        choices=("auto", "float32", "bfloat16"),
        help="dtype of page vectors in the MaxSim/dot engine: float32 is exact; auto = bfloat16 on CUDA, "
        "float32 elsewhere",
    )
    model.add_argument(
        "--pool-factor",
        type=_positive_int,
        default=1,
        help="hierarchical token pooling of multi-vector pages: keep ~1/N of the vectors (default: off)",
    )
    model.add_argument(
        "--index-on-disk",
        metavar="DIR",
        help="keep page vectors in float16 files under DIR instead of in memory, for corpora larger "
        "than memory (the engine streams them; scores match in-memory float32 to about 3 digits)",
    )
    model.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="retriever-specific setting, e.g. --param k1=1.2 for bm25-ocr; repeatable",
    )
    running = parser.add_argument_group("running")
    running.add_argument(
        "--batch-size",
        type=_positive_int,
        default=16,
        help="pages (and queries) per batch given to the model (default: %(default)s)",
    )
    running.add_argument(
        "--latency-queries",
        type=int,
        default=200,
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
        choices=("fail", "skip"),
        default="fail",
        help="an unreadable page (corrupt, empty, too large): fail naming it, or skip it and record "
        "its id in the results file (default: %(default)s)",
    )
    running.add_argument("--no-progress", action="store_true", help="no progress bars")


def cmd_tasks(args: argparse.Namespace) -> int:
    from benchmark.report.table import render_table
    from benchmark.tasks.catalog import all_specs, specs_in_suite

    specs = specs_in_suite(args.suite) if args.suite else all_specs()
    rows = [
        [
            spec.name,
            spec.suite,
            spec.format,
            ",".join(spec.languages),
            spec.n_queries,
            spec.n_pages,
            spec.dataset or "bundled",
            "yes" if spec.revision_is_pinned else "no",
        ]
        for spec in specs
    ]
    print(render_table(["task", "suite", "format", "languages", "queries", "pages", "data", "pinned"], rows))
    notes = [(spec.name, spec.notes) for spec in specs if spec.notes]
    if notes:
        print()
        for name, note in notes:
            print(f"{name}: {note}")
    print("\nname@lang selects one query language of a multilingual task, e.g. esg-reports-v2@fr.")
    return 0


def cmd_retrievers(args: argparse.Namespace) -> int:
    from benchmark.report.table import render_table
    from benchmark.retrievers.registry import available

    rows = [[entry.name, entry.origin, entry.description] for entry in available().values()]
    print(render_table(["retriever", "origin", "description"], rows))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark.distributed import join_cluster, leave_cluster, rank_device

    cluster = join_cluster(args.device)  # under torchrun; None otherwise
    args.device = rank_device(cluster, args.device)
    try:
        return _run_tasks(args, cluster)
    finally:
        leave_cluster(cluster)


def _run_tasks(args: argparse.Namespace, cluster) -> int:
    from dataclasses import replace

    from benchmark.metrics import HEADLINE_METRICS
    from benchmark.report.efficiency import CPU_NOTE, describe_efficiency
    from benchmark.report.table import render_table
    from benchmark.results import check_run_name, default_run_name, write_result
    from benchmark.runner import evaluate
    from benchmark.tasks import load_task
    from benchmark.tasks.catalog import resolve_task, specs_in_suite

    if not args.task and not args.suite:
        raise PagebenchError("say what to evaluate: --task NAME (repeatable) or --suite NAME")
    specs = [resolve_task(reference) for reference in args.task]
    for suite in args.suite:
        specs.extend(specs_in_suite(suite))
    run_name = check_run_name(args.run_name or default_run_name(args.retriever, args.checkpoint))
    retriever, model_load_s, settings = _retriever_and_settings(args)
    main_process = cluster is None or cluster.is_main
    settings = replace(settings, cluster=cluster, show_progress=settings.show_progress and main_process)

    rows, failures, efficiencies = [], [], []
    for spec in specs:
        try:
            clock = time.perf_counter()
            task = load_task(spec, need_page_text=retriever.page_input == "text")
            task_load_s = time.perf_counter() - clock
            result = evaluate(task, retriever, settings, task_load_s=task_load_s, model_load_s=model_load_s)
            if result is None:  # a rank other than 0: rank 0 reports and writes
                continue
            path = write_result(result, args.output_dir, run_name)
        except PagebenchError as error:
            if len(specs) == 1:
                raise
            print(f"pagebench: error: {error}", file=sys.stderr)
            failures.append(spec.name)
            continue
        seconds = time.perf_counter() - clock
        for note in task.notes:
            print(f"{spec.name}: note: {note}", file=sys.stderr)
        if result.page_text and result.page_text["source"]:
            print(f"{spec.name}: page text from {result.page_text['source']}", file=sys.stderr)
        if result.skipped_pages:
            print(
                f"{spec.name}: {len(result.skipped_pages)} unreadable page(s) skipped "
                f"(ids under `skipped_pages` in the results file)",
                file=sys.stderr,
            )
        print(
            f"{spec.name}: {spec.main_score} = {result.main_score:.4f} ({seconds:.1f} s) -> {path}",
            file=sys.stderr,
        )
        headline = [result.metrics[name] for name in HEADLINE_METRICS]
        rows.append([spec.name, len(task.queries), task.corpus.n_pages, *headline, f"{seconds:.1f}"])
        efficiencies.append((spec.name, result.efficiency))

    if rows:
        print(f"\nrun {run_name!r}, retriever {args.retriever}")
        headers = ["task", "queries", "pages", "nDCG@5", "nDCG@10", "recall@5", "MRR@10", "seconds"]
        print(render_table(headers, rows))
        print("\nefficiency (in each results file under `efficiency`)")
        for name, efficiency in efficiencies:
            print(f"  {name} {describe_efficiency(efficiency)}")
        if any(efficiency["device"] == "cpu" for _, efficiency in efficiencies):
            print(f"  note: {CPU_NOTE}")
    if failures:
        print(f"\n{len(failures)} task(s) failed: {', '.join(failures)}", file=sys.stderr)
        return 2
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from benchmark.probe import profile_synthetic, profile_task
    from benchmark.report.efficiency import CPU_NOTE, describe_efficiency, describe_growth
    from benchmark.tasks.catalog import resolve_task

    spec = resolve_task(args.task) if args.task else None  # errors in the task first, before loading a model
    retriever, model_load_s, settings = _retriever_and_settings(args)
    name = args.retriever + (f" ({args.checkpoint})" if args.checkpoint else "")
    if spec is not None:
        measurements = [profile_task(spec, retriever, settings, model_load_s=model_load_s)]
        print(f"profile of {name} on {spec.name}")
        print(f"  {describe_efficiency(measurements[0])}")
    else:
        width, height = args.page_size
        measurements = profile_synthetic(
            args.pages,
            retriever,
            settings,
            width=width,
            height=height,
            n_queries=args.queries,
            model_load_s=model_load_s,
        )
        print(
            f"profile of {name} on synthetic {width}x{height} pages, {args.queries} queries from debian-faq-en"
        )
        for measured in measurements:
            print(f"  {measured['pages']} pages {describe_efficiency(measured)}")
        if len(measurements) > 1:
            print(describe_growth(measurements))
    if measurements[0]["device"] == "cpu":
        print(f"  note: {CPU_NOTE}")
    if args.output:
        from benchmark.files import write_text_atomic

        write_text_atomic(
            args.output, json.dumps({"retriever": name, "measurements": measurements}, indent=1) + "\n"
        )
    return 0


def _retriever_and_settings(args: argparse.Namespace):
    from benchmark.retrievers.base import RetrieverOptions
    from benchmark.runner import RunSettings, load_retriever

    options = RetrieverOptions(
        checkpoint=args.checkpoint,
        revision=args.revision,
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        scoring_dtype=args.scoring_dtype,
        pool_factor=args.pool_factor,
        index_dir=args.index_on_disk,
        params=_parse_params(args.param),
    )
    retriever, model_load_s = load_retriever(args.retriever, options)
    settings = RunSettings(
        batch_size=args.batch_size,
        top_k=args.top_k,
        cache_dir=None if args.no_cache else args.cache_dir,
        show_progress=not args.no_progress,
        on_bad_page=args.on_bad_page,
        latency_queries=max(0, args.latency_queries),
    )
    return retriever, model_load_s, settings


def _parse_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise PagebenchError(f"--param expects KEY=VALUE, got {pair!r}")
        params[key.strip()] = value.strip()
    return params


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _page_counts(text: str) -> list[int]:
    counts = [_positive_int(part.strip()) for part in text.split(",") if part.strip()]
    if not counts:
        raise argparse.ArgumentTypeError("expected page counts such as 1000,5000,20000")
    return sorted(set(counts))


def _page_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 827x1170, got {text!r}")
    return _positive_int(width), _positive_int(height)
