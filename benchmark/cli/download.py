"""`pagebench download`: fill the Hugging Face caches for a run without network."""

from __future__ import annotations

import argparse
import sys


def add_download_command(commands, common: argparse.ArgumentParser) -> None:
    download = commands.add_parser(
        "download",
        parents=[common],
        help="fetch tasks' hub data and checkpoints into the cache, for a later offline run",
        description=(
            "On a machine that reaches the Hugging Face hub, read each task's hub data (at the\n"
            "revisions its spec pins) and fetch a checkpoint (with the base model of an adapter)\n"
            "into the Hugging Face caches. Then, with the same HF_HOME,\n"
            "`HF_HUB_OFFLINE=1 pagebench run ...` needs no network."
        ),
        epilog=(
            "example:\n  pagebench download --suite vidore-v1 --retriever colqwen2\n"
            "  HF_HUB_OFFLINE=1 pagebench run --suite vidore-v1 --retriever colqwen2"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    download.add_argument("--task", action="append", default=[], help="task name or spec file (repeatable)")
    download.add_argument("--suite", action="append", default=[], help="every task of a suite (repeatable)")
    download.add_argument(
        "--retriever", help="also fetch this retriever's checkpoint (its default unless --checkpoint)"
    )
    download.add_argument("--checkpoint", help="model checkpoint to fetch: hub id")
    download.add_argument("--revision", help="checkpoint revision (branch, tag or commit)")
    download.add_argument(
        "--no-page-text",
        action="store_true",
        help="skip the OCR-text twins of ViDoRe v1 tasks (only text retrievers such as bm25-ocr read them)",
    )
    download.set_defaults(command=cmd_download)


def cmd_download(args: argparse.Namespace) -> int:
    from benchmark.core.errors import PagebenchError
    from benchmark.run.download import (
        check_hub_for_download,
        checkpoint_to_download,
        download_checkpoint,
        download_tasks,
    )
    from benchmark.run.session import resolve_specs

    if not (args.task or args.suite or args.retriever or args.checkpoint):
        raise PagebenchError("say what to download: --task / --suite, and/or --retriever / --checkpoint")
    specs = resolve_specs(args.task, args.suite) if args.task or args.suite else []
    repo_id = checkpoint_to_download(args.retriever, args.checkpoint)
    check_hub_for_download()
    failed = []
    for spec, outcome in download_tasks(specs, page_text=not args.no_page_text):
        if isinstance(outcome, PagebenchError):
            print(f"pagebench: error: {outcome}", file=sys.stderr)
            failed.append(spec.name)
            continue
        if not outcome:
            print(f"{spec.name}: local data, nothing to download")
        for item in outcome:
            print(f"{item.what}: {item.detail} (commit {item.commit or 'unknown'})")
    if repo_id is not None:
        for item in download_checkpoint(repo_id, args.revision):
            print(f"{item.what}: {item.detail}")
    elif args.retriever or args.checkpoint:
        print(f"{args.checkpoint or args.retriever}: no hub checkpoint to download")
    if failed:
        print(f"\n{len(failed)} task(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 2
    print("done: with the same HF_HOME, run with HF_HUB_OFFLINE=1 to use only the cache")
    return 0
