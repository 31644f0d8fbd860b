"""Does indexing wait on page decoding? Index wall time against the model's forward time,
with the next batches decoded ahead (`benchmark/feed/prefetch.py`) and without.

    python benchmarks/pipeline.py [--pages 500] [--ms-per-page 10,40]
    python benchmarks/pipeline.py --device cuda   # the forward pass is real GPU work
    python benchmarks/pipeline.py --processor --pages 300 --ms-per-page 40,80

The model is a stand-in whose forward pass is a GPU-like wait: on the CPU it idles for
`ms_per_page` per page of the batch (a sleep), so the forward time is known exactly and
decoding may run beside it. With `--device cuda` the forward pass is bfloat16 matmuls
on the GPU, as many as take `ms_per_page` per page (calibrated first), ended by a
synchronise; the forward time is then measured alone, and the report adds the fraction
of the GPU's bfloat16 matmul peak (measured in the same run) that indexing sustained.

With `--processor` each batch also goes through ColPali's image processor (SigLIP's,
448 x 448: resize, rescale, normalise) as the stand-in's `page_inputs`, the step
pagebench runs ahead on the decoding thread (`PageFeed.prepare`); `decode_alone_s` then
counts decoding plus that step, and the results go to pipeline-processor.json.

The pages are real: `--pages` A4 pages of printed text,
rendered with PIL to PNG files (1190 x 1684 pixels, what 144 DPI gives) and into one
PDF rendered back at 144 DPI. For each input the script times decoding alone, then,
for each forward cost, indexing through `LocalIndexer` with prefetching on and off
(`PAGEBENCH_PREFETCH=0`), batch size 16, all in one run.

Target (issue 16): index wall time <= 1.05 x the forward time whenever decoding alone is
faster than the forward; without prefetching it is about forward + decode.

The last line of output is a JSON object, also written to benchmarks/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BATCH_SIZE = 16
PAGE_SIZE = (1190, 1684)  # A4 at 144 DPI
DPI = 144
TARGET_RATIO = 1.05


class WaitingModel:
    """A retriever whose forward pass idles `ms_per_page` per page, as a GPU would."""

    page_input = "image"

    def __init__(self, ms_per_page: float):
        self.ms_per_page = ms_per_page
        self.pages = 0
        self.flops = 0

    def begin_index(self, languages) -> None:  # noqa: ARG002 (the retriever protocol's signature)
        self.pages = self.flops = 0

    def add_pages(self, batch) -> None:
        self.forward(len(batch.ids))
        self.pages += len(batch.ids)

    def forward(self, pages: int) -> None:
        time.sleep(self.ms_per_page * pages / 1000)

    def finish_index(self) -> None:
        pass


class GpuWorkModel(WaitingModel):
    """A retriever whose forward pass is `ms_per_page` of bfloat16 matmuls per page on a GPU."""

    SIDE = 4096  # square matmuls: near the GPU's peak rate

    def __init__(self, ms_per_page: float, device: str):
        import torch

        super().__init__(ms_per_page)
        self._torch, self._device = torch, device
        self._a = torch.randn(self.SIDE, self.SIDE, device=device).to(torch.bfloat16)
        self._out = torch.empty_like(self._a)
        self.matmuls_per_page = 0.0
        if ms_per_page:
            self.matmuls_per_page = ms_per_page / 1000 / _matmul_seconds(self._a, self._out, device)

    def forward(self, pages: int) -> None:
        count = round(self.matmuls_per_page * pages)
        for _ in range(count):
            self._torch.mm(self._a, self._a, out=self._out)
        self._torch.cuda.synchronize(self._device)  # the GIL is released while it waits
        self.flops += count * 2 * self.SIDE**3


def _matmul_seconds(a, out, device) -> float:
    """Seconds of one a @ a on `device`, and so the bfloat16 peak rate: 2 side^3 / seconds."""
    import torch

    torch.mm(a, a, out=out)
    torch.cuda.synchronize(device)
    repeats = 50
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, a, out=out)
    torch.cuda.synchronize(device)
    return (time.perf_counter() - started) / repeats


class PreparingModel(WaitingModel):
    """A waiting model whose pages first go through ColPali's image processor, split from
    the forward pass as pagebench's own retrievers split it (`page_inputs`)."""

    def __init__(self, ms_per_page: float):
        from transformers import SiglipImageProcessor

        super().__init__(ms_per_page)
        self.processor = SiglipImageProcessor(size={"height": 448, "width": 448})

    def embedding_key(self) -> None:
        return None

    def page_inputs(self, batch):
        return self.processor(images=batch.images, return_tensors="pt")

    def page_vectors(self, batch, model_inputs=None) -> list:
        if model_inputs is None:
            model_inputs = self.page_inputs(batch)
        self.forward(len(batch.ids))
        return [None] * len(batch.ids)

    def add_page_vectors(self, ids, vectors) -> None:  # noqa: ARG002 (the protocol's signature)
        self.pages += len(ids)


def make_model(ms_per_page: float, device: str, processor: bool = False) -> WaitingModel:
    if processor:
        return PreparingModel(ms_per_page)
    return GpuWorkModel(ms_per_page, device) if device.startswith("cuda") else WaitingModel(ms_per_page)


def page_images(count: int):
    """Pages of printed text, each different (so no decoder shortcut)."""
    from PIL import Image, ImageDraw

    for number in range(count):
        page = Image.new("RGB", PAGE_SIZE, "white")
        draw = ImageDraw.Draw(page)
        for line in range(60):
            words = " ".join(f"word{(number * 7 + line * 13 + k) % 997}" for k in range(12))
            draw.text((60, 60 + line * 26), f"{number}.{line} {words}", fill=(20, 20, 20))
        draw.rectangle((60, 1620, 60 + 10 * (number % 100), 1640), fill=(200, 30, 30))
        yield page


def make_inputs(folder: Path, count: int) -> dict:
    """{"png": PageFiles of PNGs, "pdf": PageFiles of one PDF's pages}."""
    from benchmark.tasks.images import PageFile

    pngs = []
    for number, page in enumerate(page_images(count)):
        path = folder / f"page{number:04d}.png"
        page.save(path)
        pngs.append(PageFile(path))
    pdf_path = folder / "pages.pdf"
    pages = page_images(count)
    first = next(pages)
    first.save(pdf_path, save_all=True, append_images=pages, resolution=DPI)
    return {"png": pngs, "pdf": [PageFile(pdf_path, page) for page in range(1, count + 1)]}


def corpus_of(files):
    from benchmark.core.types import Corpus
    from benchmark.tasks.images import FileImages

    ids = tuple(f"p{i}" for i in range(len(files)))
    return Corpus(ids=ids, qrels_ids=ids, images=FileImages(files, DPI))


def page_batches(files, model):
    from benchmark.feed.batches import PageBatches

    return PageBatches(corpus_of(files), ["en"], model, batch_size=BATCH_SIZE)


def decode_alone_s(files, processor: bool) -> float:
    """Seconds of the page input alone: decoding, and with `processor` its preparation."""
    model = make_model(0, "cpu", processor)
    started = time.perf_counter()
    for batch in page_batches(files, model):
        if processor:
            model.page_inputs(batch)
    return time.perf_counter() - started


def index_once(
    files, ms_per_page: float, prefetch: bool, device: str, peak_gflops: float | None, processor: bool
) -> dict:
    from benchmark.feed.page_feed import PageFeed
    from benchmark.run.indexers import LocalIndexer
    from benchmark.run.settings import RunSettings

    os.environ["PAGEBENCH_PREFETCH"] = "1" if prefetch else "0"
    model = make_model(ms_per_page, device, processor)
    if isinstance(model, GpuWorkModel):  # the forward pass alone, on the same batches
        started = time.perf_counter()
        for start in range(0, len(files), BATCH_SIZE):
            model.forward(min(BATCH_SIZE, len(files) - start))
        forward_s = time.perf_counter() - started
    else:
        forward_s = ms_per_page * len(files) / 1000
    indexer = LocalIndexer(PageFeed(model), RunSettings(batch_size=BATCH_SIZE, show_progress=False), device)
    report = indexer.index(page_batches(files, model), ["en"])
    timing = report.timing
    run = {
        "prefetch": prefetch,
        "index_s": timing.total_s,
        "forward_s": forward_s,
        "index_over_forward": timing.total_s / forward_s,
        "index_model_s": timing.model_s,
        "index_input_wait_s": timing.input_wait_s,
    }
    if peak_gflops:
        run["fraction_of_bfloat16_matmul_peak"] = model.flops / timing.total_s / 1e9 / peak_gflops
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--ms-per-page", default="10,40", help="forward costs, comma-separated")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda[:N]: the forward pass runs on the GPU")
    parser.add_argument(
        "--processor", action="store_true", help="pages also go through ColPali's image processor"
    )
    parser.add_argument("--output", type=Path, help="default: benchmarks/results/pipeline[-cuda].json")
    args = parser.parse_args()
    costs = [float(cost) for cost in args.ms_per_page.split(",")]
    peak_gflops = None
    if args.device.startswith("cuda"):
        import torch

        square = torch.randn(GpuWorkModel.SIDE, GpuWorkModel.SIDE, device=args.device).to(torch.bfloat16)
        seconds = _matmul_seconds(square, torch.empty_like(square), args.device)
        peak_gflops = 2 * GpuWorkModel.SIDE**3 / seconds / 1e9
    report: dict = {
        "pages": args.pages,
        "batch_size": BATCH_SIZE,
        "page_pixels": PAGE_SIZE,
        "dpi": DPI,
        "device": args.device,
        "processor": "SiglipImageProcessor 448 x 448 (ColPali's)" if args.processor else None,
        "bfloat16_matmul_peak_gflops": peak_gflops,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "target": f"index_s <= {TARGET_RATIO} x forward_s where decoding alone is faster than the forward",
        "inputs": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        inputs = make_inputs(Path(folder), args.pages)
        for kind, files in inputs.items():
            decode_s = decode_alone_s(files, args.processor)
            runs = []
            for ms_per_page in costs:
                for prefetch in (True, False):
                    run = {
                        "ms_per_page": ms_per_page,
                        **index_once(files, ms_per_page, prefetch, args.device, peak_gflops, args.processor),
                    }
                    runs.append(run)
                    print(
                        f"{kind} {ms_per_page:g} ms/page prefetch={prefetch}: {json.dumps(run)}",
                        file=sys.stderr,
                    )
            for run in runs:
                decoding_faster = decode_s < run["forward_s"]
                run["decoding_alone_faster"] = decoding_faster
                run["meets_target"] = (
                    run["index_over_forward"] <= TARGET_RATIO if decoding_faster and run["prefetch"] else None
                )
            report["inputs"][kind] = {"decode_alone_s": decode_s, "runs": runs}
    name = "pipeline-cuda.json" if args.device.startswith("cuda") else "pipeline.json"
    if args.processor:
        name = name.replace("pipeline", "pipeline-processor")
    output = args.output or REPO / "benchmarks" / "results" / name
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
