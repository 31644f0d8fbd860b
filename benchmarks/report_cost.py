"""What `pagebench report` costs on a 1,000-page, 500-query task: time and file size.

    python benchmarks/report_cost.py                       # 1,000 pages, 500 queries
    python benchmarks/report_cost.py --pages 200 --queries 100   # a quick run

A local task folder of generated pages (PNG, 1000 x 1400 px, lines of words and grey
blocks, seeded) and one query per page's words, then a bm25-ocr run on it (the task
ships page text, so no OCR) — neither timed. Timed: `pagebench report` on that run, as
a user starts it (a fresh process: imports, loading the task, decoding and encoding the
thumbnails, the bootstrap intervals, writing the file). Targets: under 30 s and under
50 MB.

The last line of output is a JSON object, also written to benchmarks/results/report_cost.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGE_SIZE_PX = (1000, 1400)
TIME_LIMIT_S, SIZE_LIMIT_MB = 30.0, 50.0
WORDS = (
    "archive kernel package mirror release security update network printer driver sound video "
    "keyboard mouse install upgrade boot loader partition filesystem backup shell editor compiler "
    "library license source binary testing stable unstable volunteer mailing list bug report"
).split()


def make_task(folder: Path, n_pages: int, n_queries: int, seed: int = 0) -> None:
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    (folder / "pages").mkdir(parents=True)
    corpus, texts = [], {}
    for number in range(n_pages):
        page_id = f"page-{number:05d}"
        words = " ".join(rng.choice(WORDS) for _ in range(60)) + f" {page_id}"
        image = Image.new("RGB", PAGE_SIZE_PX, "white")
        draw = ImageDraw.Draw(image)
        for line in range(0, 60, 6):
            draw.text((60, 80 + line * 18), " ".join(words.split()[line : line + 6]), fill="black")
        for _ in range(3):
            x, y = rng.randrange(60, 700), rng.randrange(400, 1200)
            draw.rectangle((x, y, x + 240, y + 120), fill=(rng.randrange(120, 230),) * 3)
        image.save(folder / "pages" / f"{page_id}.png")
        corpus.append({"_id": page_id, "image": f"pages/{page_id}.png", "text": words})
        texts[page_id] = words
    targets = rng.sample(sorted(texts), n_queries)
    queries = [
        {"_id": f"q{n:04d}", "text": " ".join(rng.sample(texts[page].split()[:-1], 5))}
        for n, page in enumerate(targets)
    ]
    _jsonl(folder / "corpus.jsonl", corpus)
    _jsonl(folder / "queries.jsonl", queries)
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{n:04d}\t{page}\t1\n" for n, page in enumerate(targets)),
        encoding="utf-8",
    )


def _jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def pagebench(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=cwd, check=True, env=_env())


def _env() -> dict:
    import os

    return {**os.environ, "PYTHONPATH": str(REPO)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-cost-") as scratch:
        root = Path(scratch)
        task = root / "report-cost-task"
        started = time.perf_counter()
        make_task(task, args.pages, args.queries)
        made_s = time.perf_counter() - started
        pagebench("run", "--task", str(task), "--retriever", "bm25-ocr", "--output-dir", "runs", cwd=root)
        output = root / "report.html"
        started = time.perf_counter()
        pagebench("report", "runs/bm25-ocr", "-o", str(output), cwd=root)
        report_s = time.perf_counter() - started
        size_mb = output.stat().st_size / 1e6
    measured = {
        "pages": args.pages,
        "queries": args.queries,
        "page_size_px": list(PAGE_SIZE_PX),
        "worst_queries_shown": 20,
        "task_generation_s": round(made_s, 1),
        "report_s": round(report_s, 2),
        "report_mb": round(size_mb, 2),
        "targets": {"report_s": TIME_LIMIT_S, "report_mb": SIZE_LIMIT_MB},
        "within_targets": report_s < TIME_LIMIT_S and size_mb < SIZE_LIMIT_MB,
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
    }
    results = REPO / "benchmarks" / "results" / "report_cost.json"
    results.write_text(json.dumps(measured, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(measured))


if __name__ == "__main__":
    main()
