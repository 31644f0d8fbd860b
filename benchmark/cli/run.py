"""`pagebench tasks | retrievers | run | profile`: parse, call the library, print."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmark.cli.options import (
    add_retriever_options,
    page_counts,
    page_size,
    parse_params,
    positive_int,
    retriever_options,
    run_settings,
)
from benchmark.core import defaults
from benchmark.core.vocabulary import HEADLINE_METRICS, metric_label

RUN_DESCRIPTION = (
    "Evaluate a retriever on one or more tasks. Writes <output-dir>/<run-name>/<task>.json "
    "(metrics, per-query values, efficiency, environment) and <task>.trec (top pages per query), "
    "and prints nDCG@5, nDCG@10, recall@5 and MRR@10 per task, then what the run cost."
)
PROFILE_DESCRIPTION = (
    "Run only the efficiency probe: index a task's pages, or synthetic pages in the numbers asked, "
    "and time queries one at a time. Prints index speed and size, query-encoding and search latency "
    "and peak memory; with several sizes, how index size and search time grow per 1000 pages and what "
    "they would be at 100,000."
)


def add_run_commands(commands, common: argparse.ArgumentParser, epilog: str) -> None:
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
    _add_run(commands, common, epilog)
    _add_profile(commands, common)


def _add_run(commands, common: argparse.ArgumentParser, epilog: str) -> None:
    run = commands.add_parser(
        "run",
        parents=[common],
        help="evaluate a retriever on tasks",
        description=RUN_DESCRIPTION,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    selection = run.add_argument_group("what to evaluate")
    selection.add_argument(
        "--task",
        action="append",
        default=[],
        metavar="TASK",
        help="task name (name@lang for one query language), spec file (.toml) or local task folder; "
        "repeatable",
    )
    selection.add_argument("--suite", action="append", default=[], help="every task of a suite; repeatable")
    add_retriever_options(run)
    output = run.add_argument_group("output")
    output.add_argument(
        "--output-dir", type=Path, default=Path(defaults.OUTPUT_DIR), help="default: %(default)s"
    )
    output.add_argument(
        "--run-name", help="results sub-folder (default: retriever name, plus checkpoint if given)"
    )
    output.add_argument(
        "--top-k",
        type=positive_int,
        default=defaults.TOP_K,
        help="pages kept per query in the run; metrics with a larger cutoff (recall_at_100 with "
        "--top-k 5) are not computed, and the tasks' main scores must fit (default: %(default)s)",
    )
    run.set_defaults(command=cmd_run)


def _add_profile(commands, common: argparse.ArgumentParser) -> None:
    profile = commands.add_parser(
        "profile",
        parents=[common],
        help="measure what a retriever costs (no metrics)",
        description=PROFILE_DESCRIPTION,
        epilog="examples:\n  pagebench profile --retriever bm25-ocr --task debian-faq-en\n"
        "  pagebench profile --retriever colpali --checkpoint ./tiny-colpali --pages 1000,5000,20000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pages = profile.add_argument_group("pages to profile on").add_mutually_exclusive_group(required=True)
    pages.add_argument("--task", help="a task: name, spec file (.toml) or local task folder")
    pages.add_argument("--pages", type=page_counts, help="synthetic corpus sizes, e.g. 1000,5000,20000")
    synthetic = profile.add_argument_group("synthetic pages")
    synthetic.add_argument(
        "--page-size",
        type=page_size,
        default=defaults.PROFILE_PAGE_SIZE,
        help="WxH in pixels (default: %(default)s, A4 at 100 DPI)",
    )
    synthetic.add_argument(
        "--queries",
        type=positive_int,
        default=defaults.PROFILE_QUERIES,
        help="questions of debian-faq-en timed (default: %(default)s)",
    )
    add_retriever_options(profile)
    profile.add_argument("--output", type=Path, help="also write the measurements to this JSON file")
    profile.set_defaults(command=cmd_profile, top_k=defaults.TOP_K)


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


def cmd_retrievers(_args: argparse.Namespace) -> int:
    from benchmark.report.table import render_table
    from benchmark.retrievers.registry import available

    rows = [[entry.name, entry.origin, entry.description] for entry in available().values()]
    print(render_table(["retriever", "origin", "description"], rows))
    print("\nAny other class: --retriever my_package.module:MyRetriever (a Retriever or an encoder).")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark.run.cluster import AgreedFailure, join_cluster, leave_cluster

    cluster = join_cluster(args.device)  # under torchrun; None otherwise
    if cluster is None:
        return _run(args, None)
    try:
        code = _run(args, cluster)
    except AgreedFailure as error:  # raised on every rank alike: rank 0 says it, once
        if cluster.is_main:
            print(f"pagebench: error: {error}", file=sys.stderr)
        code = 2
    except BaseException:
        leave_cluster(cluster)  # a bug on this rank: torchrun stops the others
        raise
    sys.stdout.flush()
    leave_cluster(cluster, exit_status=code)  # no rank exits before rank 0 has printed
    return code


def _run(args: argparse.Namespace, cluster) -> int:
    from dataclasses import replace

    from benchmark.results.writer import check_run_name, default_run_name
    from benchmark.run.cluster import agreed, rank_device
    from benchmark.run.preflight import check_before_run
    from benchmark.run.session import load_retriever, resolve_specs, run_tasks

    main_process = cluster is None or cluster.is_main
    with agreed(cluster):  # bad input fails every rank alike, none waits on the others
        args.device = rank_device(cluster, args.device)
        specs = resolve_specs(args.task, args.suite)
        params = parse_params(args.param)
        run_name = check_run_name(
            args.run_name or default_run_name(args.retriever, args.checkpoint, args.protocol, params)
        )
        check_before_run(
            specs,
            output_dir=args.output_dir,
            run_name=run_name,
            top_k=args.top_k,
            cache_dir=None if args.no_cache else args.cache_dir,
            index_dir=Path(args.index_on_disk) if args.index_on_disk else None,
        )
        retriever, model_load_s = load_retriever(args.retriever, retriever_options(args))
        settings = run_settings(args)
    settings = replace(settings, cluster=cluster, show_progress=settings.show_progress and main_process)
    tasks = run_tasks(
        specs,
        retriever,
        settings,
        output_dir=args.output_dir,
        run_name=run_name,
        model_load_s=model_load_s,
    )
    if not main_process:  # rank 0 reports; the others only say, by their exit status, if a task failed
        failures = [outcome for outcome in tasks if outcome.error is not None]  # runs every task
        return 2 if failures else 0
    return _summarise(list(_reported(tasks)), run_name, args.retriever)


def _reported(outcomes):
    """Each task's lines on stderr as soon as it finishes (the summary table comes at the end)."""
    for outcome in outcomes:
        name = outcome.spec.name
        if outcome.error is not None:
            print(f"pagebench: error: {outcome.error}", file=sys.stderr)
        else:
            document = outcome.result.document
            for note in document.task.notes:
                print(f"{name}: note: {note}", file=sys.stderr)
            if document.task.dropped:
                counts = ", ".join(f"{record.count} {record.kind}" for record in document.task.dropped)
                print(f"{name}: evaluated despite faulty data: {counts} (see task.dropped)", file=sys.stderr)
            page_text = document.retriever.page_text
            if page_text is not None and page_text.source:
                print(f"{name}: page text from {page_text.source}", file=sys.stderr)
            if document.skipped_pages:
                print(
                    f"{name}: {len(document.skipped_pages)} unreadable page(s) skipped "
                    f"(ids under `skipped_pages` in the results file)",
                    file=sys.stderr,
                )
            print(
                f"{name}: {document.main_score.name} = {outcome.result.main_score:.4f} "
                f"({outcome.seconds:.1f} s) -> {outcome.path}",
                file=sys.stderr,
            )
        yield outcome


def _summarise(outcomes: list, run_name: str, retriever_name: str) -> int:
    from benchmark.report.efficiency import CPU_NOTE, describe_efficiency
    from benchmark.report.table import render_table

    done = [outcome for outcome in outcomes if outcome.error is None]
    failures = [outcome.spec.name for outcome in outcomes if outcome.error is not None]
    if done:
        print(f"\nrun {run_name!r}, retriever {retriever_name}")
        headers = ["task", "queries", "pages", *(metric_label(name) for name in HEADLINE_METRICS), "seconds"]
        rows = [
            [
                outcome.spec.name,
                outcome.result.document.task.n_queries,
                outcome.result.document.task.n_pages,
                *(outcome.result.document.metrics.get(name, "n/a") for name in HEADLINE_METRICS),
                f"{outcome.seconds:.1f}",
            ]
            for outcome in done
        ]
        print(render_table(headers, rows))
        if any(name not in outcome.result.document.metrics for outcome in done for name in HEADLINE_METRICS):
            print("n/a: a cutoff above --top-k (the run kept fewer pages than the metric reads)")
        print("\nefficiency (in each results file under `efficiency`)")
        for outcome in done:
            print(f"  {outcome.spec.name} {describe_efficiency(outcome.result.document.efficiency)}")
        if any(outcome.result.document.efficiency.device == "cpu" for outcome in done):
            print(f"  note: {CPU_NOTE}")
    if failures:
        print(f"\n{len(failures)} task(s) failed: {', '.join(failures)}", file=sys.stderr)
        return 2
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from benchmark.core.files import write_text_atomic
    from benchmark.report.efficiency import CPU_NOTE, describe_efficiency, describe_growth
    from benchmark.run.preflight import check_output_file
    from benchmark.run.profile import QUERY_SOURCE_TASK, profile_synthetic, profile_task
    from benchmark.run.session import load_retriever
    from benchmark.tasks.catalog import resolve_task

    spec = resolve_task(args.task) if args.task else None  # errors in the task first, before loading a model
    if args.output:
        check_output_file(args.output, "--output")
    retriever, model_load_s = load_retriever(args.retriever, retriever_options(args))
    settings = run_settings(args)
    name = args.retriever + (f" ({args.checkpoint})" if args.checkpoint else "")
    if spec is not None:
        measurements = [profile_task(spec, retriever, settings, model_load_s=model_load_s)]
        print(f"profile of {name} on {spec.name}")
        print(f"  {describe_efficiency(measurements[0].efficiency)}")
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
            f"profile of {name} on synthetic {width}x{height} pages, "
            f"{args.queries} queries from {QUERY_SOURCE_TASK}"
        )
        for measured in measurements:
            print(f"  {measured.pages} pages {describe_efficiency(measured.efficiency)}")
        if len(measurements) > 1:
            print(describe_growth([(measured.pages, measured.efficiency) for measured in measurements]))
    if measurements[0].efficiency.device == "cpu":
        print(f"  note: {CPU_NOTE}")
    if args.output:
        document = {"retriever": name, "measurements": [measured.as_dict() for measured in measurements]}
        write_text_atomic(args.output, json.dumps(document, indent=1, allow_nan=False) + "\n")
    return 0
