"""The report commands of `pagebench`: leaderboard, compare, check (thin: parse, call, print)."""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

from benchmark.cli.options import positive_int
from benchmark.core import defaults
from benchmark.core.errors import PagebenchError
from benchmark.core.files import cache_root
from benchmark.core.vocabulary import DEFAULT_METRIC, metric_name


def add_report_commands(commands, common: argparse.ArgumentParser) -> None:
    _add_leaderboard(commands, common)
    _add_compare(commands, common)
    _add_check(commands, common)
    _add_report(commands, common)


def _add_leaderboard(commands, common) -> None:
    leaderboard = commands.add_parser(
        "leaderboard",
        parents=[common],
        help="write leaderboard.md (and its plots) from results files",
        description=(
            "Read every results file under the given folders (default: results/) and write a markdown "
            "leaderboard: per suite, one row per run, the suite's main score (or --metric) ×100 per task, "
            "the suite average (only for runs covering every task), query latency, indexing speed, "
            "index size per page and device; plus PNG plots (per-task bars, quality against latency and "
            "against bytes per page with the Pareto front). Published results from the official ViDoRe "
            "results JSON or MTEB result files can be imported to rank against. Unchanged inputs give an "
            "identical file."
        ),
        epilog="examples:\n  pagebench leaderboard\n"
        "  pagebench leaderboard results/ my-runs/ --import colpali_metrics.json --import mteb-results/\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    leaderboard.add_argument(
        "results",
        nargs="*",
        type=Path,
        default=[Path(defaults.RESULTS_DIR)],
        help="results folders or files (default: %(default)s, the committed baselines)",
    )
    leaderboard.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="published results: a ViDoRe results JSON, an MTEB <Task>.json or an MTEB results folder; "
        "repeatable",
    )
    leaderboard.add_argument(
        "--output", type=Path, default=Path(defaults.LEADERBOARD_FILE), help="default: %(default)s"
    )
    leaderboard.add_argument(
        "--plots-dir", type=Path, help="where the PNGs go (default: a folder named like --output, beside it)"
    )
    leaderboard.add_argument("--no-plots", action="store_true", help="write the markdown only")
    leaderboard.add_argument(
        "--metric",
        help="one metric for every table (default: each suite's main score, e.g. ndcg_at_10 for vidore-v3)",
    )
    leaderboard.set_defaults(command=cmd_leaderboard)


def _add_compare(commands, common) -> None:
    compare = commands.add_parser(
        "compare",
        parents=[common],
        help="is run B better than run A? per task, with significance",
        description=(
            "Compare two runs (run folders or results files) task by task and overall (tasks weigh the "
            "same): mean metric of each, the difference B - A with a 95% paired-bootstrap confidence "
            "interval, a paired randomisation-test p-value on per-query values, and how many queries B "
            "wins, ties and loses. Only tasks evaluated on the same data (fingerprint) are compared."
        ),
        epilog="example:\n  pagebench compare results/bm25-ocr results/dense-ocr",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("run_a", type=Path, metavar="RUN_A")
    compare.add_argument("run_b", type=Path, metavar="RUN_B")
    _add_statistics_options(compare)
    compare.add_argument("--json", action="store_true", help="print JSON instead of a table")
    compare.set_defaults(command=cmd_compare)


def _add_check(commands, common) -> None:
    check = commands.add_parser(
        "check",
        parents=[common],
        help="CI gate: fail if a task's metric fell against a baseline run",
        description=(
            "Compare the current run with a baseline run, task by task. Exit 0 when no task's metric fell "
            "by more than the tolerance; 1 on a regression (each one named with baseline, current "
            "and delta); 2 when a baseline task is missing from the current run or was "
            "evaluated on different data, or an input is wrong (a results file with a metric that is not "
            "a number in [0, 1], a missing or mistyped field; an option out of range). With --significant "
            "a fall also needs p < alpha in the paired "
            "randomisation test."
        ),
        epilog="example:\n  pagebench run --suite debian-faq --retriever bm25-ocr --output-dir runs\n"
        "  pagebench check --baseline results/bm25-ocr --current runs/bm25-ocr",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--baseline", type=Path, required=True, help="baseline run folder or results file")
    check.add_argument("--current", type=Path, required=True, help="current run folder or results file")
    check.add_argument(
        "--tolerance",
        type=tolerance,
        default=defaults.CHECK_TOLERANCE,
        help="largest fall allowed (default: %(default)s)",
    )
    check.add_argument(
        "--significant", action="store_true", help="a fall must also be significant (p < --alpha)"
    )
    check.add_argument(
        "--alpha",
        type=significance_level,
        default=defaults.SIGNIFICANCE_ALPHA,
        help="with --significant (default: %(default)s)",
    )
    _add_statistics_options(check)
    check.set_defaults(command=cmd_check)


def _add_report(commands, common) -> None:
    report = commands.add_parser(
        "report",
        parents=[common],
        help="an HTML error-analysis report of a run: worst queries with page thumbnails",
        description=(
            "Write one self-contained HTML file (inline styles, script and JPEG thumbnails; works offline) "
            "for a run folder: per task, the metric table with 95% paired-bootstrap intervals, the "
            "distribution of per-query nDCG@5, the N worst queries with the query text, the gold page and "
            "its rank, and the top-5 pages with their scores; filters for task, language and metric. "
            "With --compare, the queries where RUN_B lost most against RUN, both rankings side by side. "
            "Pages come from loading each task the results files name."
        ),
        epilog="examples:\n  pagebench report results/bm25-ocr -o report.html\n"
        "  pagebench report results/bm25-ocr --compare results/dense-ocr --task debian-faq-en --worst 10",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("run", type=Path, metavar="RUN", help="a run folder (<task>.json, .trec, .qrels)")
    report.add_argument("--compare", type=Path, metavar="RUN_B", help="a second run to compare against RUN")
    report.add_argument("--task", help="only this task of the run")
    report.add_argument(
        "--worst",
        type=positive_int,
        default=defaults.REPORT_WORST_QUERIES,
        help="worst queries shown per task (default: %(default)s)",
    )
    report.add_argument(
        "-o", "--output", type=Path, default=Path(defaults.REPORT_FILE), help="default: %(default)s"
    )
    report.add_argument(
        "--resamples",
        type=resample_count,
        default=defaults.RESAMPLES,
        help="bootstrap draws of the intervals (default: %(default)s)",
    )
    report.add_argument(
        "--seed", type=seed, default=defaults.STATISTICS_SEED, help="random seed (default: %(default)s)"
    )
    report.add_argument(
        "--cache-dir",
        type=Path,
        default=cache_root(),
        help="the run's embedding cache: similarity maps of multi-vector runs read page vectors "
        "from it and encode only the query (default: %(default)s)",
    )
    report.add_argument(
        "--no-maps", action="store_true", help="leave out the similarity maps (no model is loaded)"
    )
    report.add_argument(
        "--map-tokens",
        choices=("all", "words"),
        default="all",
        help="which query tokens get a map: all the query's own tokens, or words only (no "
        "punctuation); the query prefix and padding are never shown (default: %(default)s)",
    )
    report.add_argument(
        "--map-drop",
        action="append",
        default=[],
        metavar="TOKEN",
        help="a query token to leave out of the maps (case-insensitive; repeatable)",
    )
    report.set_defaults(command=cmd_report)


def _add_statistics_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metric",
        default=DEFAULT_METRIC,
        help="per-query metric, as stored (ndcg_at_10) or as tables print it (nDCG@10) "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--resamples",
        type=resample_count,
        default=defaults.RESAMPLES,
        help="bootstrap / randomisation draws (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=seed, default=defaults.STATISTICS_SEED, help="random seed (default: %(default)s)"
    )


def resample_count(text: str) -> int:
    """At least 1 (no draws, no interval), at most `MAX_RESAMPLES` (memory)."""
    value = positive_int(text)
    if value > defaults.MAX_RESAMPLES:
        raise argparse.ArgumentTypeError(
            f"expected at most {defaults.MAX_RESAMPLES:,} resamples, got {value:,}"
        )
    return value


def seed(text: str) -> int:
    """NumPy's generators take a non-negative seed."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a seed (an integer 0 or more), got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed (an integer 0 or more), got {value}")
    return value


def tolerance(text: str) -> float:
    """A fall of a metric in [0, 1]: itself in [0, 1]; NaN would pass every fall."""
    return _finite_in(text, 0.0, 1.0, "a tolerance from 0 to 1")


def significance_level(text: str) -> float:
    """`--alpha`: above 0 (p is never below 0) and at most 1; NaN would pass every fall."""
    value = _finite_in(text, 0.0, 1.0, "a significance level above 0, at most 1")
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a significance level above 0, at most 1, got {text!r}")
    return value


def _finite_in(text: str, low: float, high: float, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _checked_metric(name: str) -> str:
    return metric_name(name)  # `nDCG@5` as tables print it, or `ndcg_at_5`


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from benchmark.report.collect import read_results
    from benchmark.report.leaderboard import entries_from, render_markdown, suite_tables, write_leaderboard
    from benchmark.report.published import read_published
    from benchmark.tasks.catalog import all_specs

    metric = _checked_metric(args.metric) if args.metric is not None else None
    specs = all_specs()
    published = [run for path in args.imports for run in read_published(path, specs)]
    for run in published:
        if run.unmatched:
            print(f"{run.label}: no task of ours for {', '.join(run.unmatched)} (left out)")
    tables = suite_tables(entries_from(read_results(args.results), published), specs, metric)
    if not tables:
        raise PagebenchError(f"no results found in {', '.join(str(p) for p in args.results)}")
    plots = {}
    if not args.no_plots:
        from benchmark.report.plots import write_suite_plots

        folder = args.plots_dir or args.output.with_suffix("")
        for table in tables:
            plots[table.suite] = [
                (caption, Path(os.path.relpath(path, args.output.parent or ".")).as_posix())
                for caption, path in write_suite_plots(table, folder)
            ]
    sources = [p.as_posix() for p in args.results] + [p.as_posix() for p in args.imports]
    changed = write_leaderboard(render_markdown(tables, sources, plots), args.output)
    runs = sum(len(table.grid) for table in tables)
    state = "written" if changed else "unchanged"
    print(f"{args.output}: {state} ({len(tables)} suite(s), {runs} row(s))")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from benchmark.report.collect import read_run
    from benchmark.report.compare import compare_runs, comparison_table

    report = compare_runs(
        read_run(args.run_a),
        read_run(args.run_b),
        metric=_checked_metric(args.metric),
        labels=(str(args.run_a), str(args.run_b)),
        resamples=args.resamples,
        seed=args.seed,
    )
    # allow_nan=False: never print a NaN, which is not JSON (the reader refuses non-finite data)
    print(json.dumps(report.as_dict(), indent=1, allow_nan=False) if args.json else comparison_table(report))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from benchmark.report.check import check_regressions, describe_check
    from benchmark.report.collect import read_run

    outcome = check_regressions(
        read_run(args.baseline),
        read_run(args.current),
        metric=_checked_metric(args.metric),
        tolerance=args.tolerance,
        alpha=args.alpha if args.significant else None,
        resamples=args.resamples,
        seed=args.seed,
    )
    print(describe_check(outcome))
    return outcome.exit_code


def cmd_report(args: argparse.Namespace) -> int:
    from benchmark.report.html_report import ReportOptions, write_report

    for run in (args.run, args.compare):
        if run is not None and not run.is_dir():
            raise PagebenchError(f"{run}: not a run folder (expected a folder of <task>.json results files)")
    similarity_for = None
    if not args.no_maps:
        from benchmark.run.similarity_maps import maps_of_recorded_runs, words_only

        dropped = {token.casefold() for token in args.map_drop}
        kept_words = words_only if args.map_tokens == "words" else (lambda _token: True)
        similarity_for = maps_of_recorded_runs(
            args.cache_dir,
            token_filter=lambda token: kept_words(token) and token.strip().casefold() not in dropped,
        )
    options = ReportOptions(
        worst=args.worst,
        task=args.task,
        resamples=args.resamples,
        seed=args.seed,
        similarity_for=similarity_for,
    )
    path = write_report(args.run, args.output, compare=args.compare, options=options)
    print(f"{path}: written ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
