"""Peak memory of decoding one batch of large pages, with and without the pixel budget.

    python benchmarks/batch_memory.py

Two inputs, each small on disk but large once decoded: a PDF of 4 blank 6000-point
pages (rendered at the default 144 DPI: 12000 x 12000 pixels each) and 8 blank grayscale PNGs of
12000 x 12000 pixels. Each page is under the 150-megapixel page limit; a batch of 16 is
not. For each input, a fresh process iterates the pages as an image retriever receives
them (batch size 16, every batch held while "encoded") and reports its peak RSS, once
with the budget off (`PIXELS_PER_BATCH` set past any batch: the old behaviour) and once
with the default budget.

The last line of output is a JSON object, also written to
benchmarks/results/batch_memory.json.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BATCH_SIZE = 16


def make_pdf(path: Path) -> Path:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument.new()
    for _ in range(4):
        document.new_page(6000, 6000)
    document.save(str(path))
    return path


def make_pngs(folder: Path) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    blank = Image.new("L", (12000, 12000), 255)  # grayscale scans: about 140 KB each
    paths = []
    for i in range(8):
        path = folder / f"page{i}.png"
        blank.save(path, optimize=True)
        paths.append(path)
    return paths


def measure(kind: str, path: Path, budget: bool) -> dict:
    """Run `_decode_all` in a fresh process: peak RSS is per process."""
    completed = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path), "on" if budget else "off"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _decode_all(kind: str, path: Path, budget: bool) -> dict:
    from benchmark.core.defaults import PDF_DPI
    from benchmark.core.types import Corpus
    from benchmark.feed import batches
    from benchmark.tasks.images import FileImages, PageFile

    if not budget:
        batches.PIXELS_PER_BATCH = 10**15  # the behaviour before the budget: a batch decodes at once
    if kind == "pdf":
        files = [PageFile(path, page) for page in range(1, 5)]
    else:
        files = [PageFile(file) for file in sorted(path.glob("*.png"))]
    ids = tuple(f"p{i}" for i in range(len(files)))
    corpus = Corpus(ids=ids, qrels_ids=ids, images=FileImages(files, PDF_DPI))

    class ImageRetriever:
        page_input = "image"

    pages = batches.PageBatches(corpus, ["en"], ImageRetriever(), batch_size=BATCH_SIZE)
    n_batches_given = 0
    for batch in pages:  # the retriever holds a whole batch while it encodes it
        n_batches_given += 1
        del batch
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"peak_rss_mb": round(peak_mb), "batches_given": n_batches_given, "pages": len(files)}


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        kind, path, budget = sys.argv[2], Path(sys.argv[3]), sys.argv[4] == "on"
        print(json.dumps(_decode_all(kind, path, budget)))
        return
    from benchmark.feed.batches import PIXELS_PER_BATCH

    results = {"batch_size": BATCH_SIZE, "pixels_per_batch": PIXELS_PER_BATCH, "inputs": {}}
    with tempfile.TemporaryDirectory() as scratch:
        inputs = {
            "pdf_4_pages_6000pt": ("pdf", make_pdf(Path(scratch) / "blank.pdf")),
            "png_8_pages_12000px": ("png", make_pngs(Path(scratch) / "pngs")[0].parent),
        }
        for name, (kind, path) in inputs.items():
            size = (
                path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.glob("*.png"))
            )
            results["inputs"][name] = {
                "bytes_on_disk": size,
                "without_budget": measure(kind, path, budget=False),
                "with_budget": measure(kind, path, budget=True),
            }
            print(name, results["inputs"][name], flush=True)
    out = REPO / "benchmarks" / "results" / "batch_memory.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
