"""`pagebench cache info | clear`: what the cache holds, and emptying it."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.core.files import cache_root


def add_cache_command(commands, common: argparse.ArgumentParser) -> None:
    cache = commands.add_parser(
        "cache",
        parents=[common],
        help="show or clear the cache of page embeddings, OCR text and local datasets",
        description=(
            "Page embeddings are cached per retriever configuration (class, checkpoint, revision, "
            "dtype, device type, pooling) and page content; OCR text per page image and Tesseract "
            "version; the Arrow files `datasets` makes of local task data (the bundled tasks, "
            "hub-shaped folders) under <cache-dir>/datasets. Hub downloads stay in the Hugging Face "
            "cache. `info` lists what is there, `clear` deletes it (only folders pagebench made, "
            "which hold its .pagebench-cache marker)."
        ),
    )
    cache.add_argument("action", choices=("info", "clear"))
    cache.add_argument(
        "--cache-dir", type=Path, default=cache_root(), help="default: %(default)s ($PAGEBENCH_CACHE_DIR)"
    )
    which = cache.add_mutually_exclusive_group()
    which.add_argument("--embeddings-only", action="store_true", help="clear only page embeddings")
    which.add_argument("--ocr-only", action="store_true", help="clear only OCR text")
    which.add_argument(
        "--datasets-only", action="store_true", help="clear only the Arrow files of local datasets"
    )
    cache.set_defaults(command=cmd_cache)


def cmd_cache(args: argparse.Namespace) -> int:
    from benchmark.feed.embedding_cache import cache_contents, clear_cache, datasets_cache_contents
    from benchmark.report.efficiency import size_text
    from benchmark.report.table import render_table

    if args.action == "clear":
        only = args.embeddings_only or args.ocr_only or args.datasets_only
        outcome = clear_cache(
            args.cache_dir,
            embeddings=args.embeddings_only or not only,
            ocr=args.ocr_only or not only,
            datasets=args.datasets_only or not only,
        )
        lines = [f"removed {path}" for path in outcome.removed]
        lines += [f"left {path}: {why}; delete it yourself if it is a cache" for path, why in outcome.left]
        print("\n".join(lines) or f"{args.cache_dir}: nothing to clear")
        return 0
    configurations, ocr = cache_contents(args.cache_dir)
    print(f"cache: {args.cache_dir}")
    rows = [
        [
            entry.key.get("retriever", "?").rsplit(".", 1)[-1],
            entry.key.get("checkpoint"),
            entry.key.get("dtype"),
            entry.key.get("pool_factor"),
            entry.pages,
            entry.chunks,
            size_text(entry.bytes),
            entry.folder.name,
        ]
        for entry in configurations
    ]
    if rows:
        headers = ["retriever", "checkpoint", "dtype", "pool", "pages", "chunks", "size", "folder"]
        print(render_table(headers, rows))
    else:
        print("no page embeddings")
    print(f"OCR text: {ocr['pages']} page(s), {size_text(ocr['bytes'])}")
    local_data = datasets_cache_contents(args.cache_dir)
    size = size_text(local_data["bytes"])
    print(f"local datasets (Arrow files): {local_data['folders']} folder(s), {size}")
    return 0
