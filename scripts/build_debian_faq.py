"""Rebuild the bundled Debian FAQ tasks (debian-faq-en, debian-faq-fr) from Debian's packages.

    python scripts/build_debian_faq.py            # downloads with apt-get, needs dpkg
    python scripts/build_debian_faq.py --deb-dir DIR   # .deb files already downloaded

Every page of the FAQ PDF is a corpus page; every question in the PDF outline (an
entry with a question mark) is a query whose one relevant page is the page its
bookmark points to. Pages are stored as 16-level grayscale PNG at 100 DPI: about
55 KB a page, and Tesseract reads them about as well as a 200 DPI render (word
recall against the PDF's own text layer, measured on four pages: 0.98 at 100 DPI,
0.93 at 200 DPI). The OCR text of the stored image is shipped beside it, so text
baselines need no Tesseract at evaluation time.

The output folder is laid out like a Hugging Face dataset repository (a README with
`configs:` for corpus/queries/qrels), so it is read by the same `datasets` code as
ViDoRe v2/v3.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmark.feed.ocr import TesseractOCR
from benchmark.tasks.beir import BEIR_FOLDER_CARD
from benchmark.tasks.images import decode_image

PACKAGES = {"en": "debian-faq", "fr": "debian-faq-fr"}
PDF_IN_PACKAGE = "usr/share/doc/debian/FAQ/debian-faq.{lang}.pdf.gz"
COPYRIGHT_IN_PACKAGE = "usr/share/doc/{package}/copyright"
DPI = 100
GRAY_LEVELS = 16
BUILD_VERSION = 1  # bump when the build recipe changes, so fingerprints change too


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--deb-dir", type=Path, help="folder holding the two .deb files (default: apt-get download)"
    )
    parser.add_argument(
        "--output", type=Path, default=REPO / "tasks" / "debian_faq", help="default: %(default)s"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        deb_dir = args.deb_dir or _download(scratch)
        for language, package in PACKAGES.items():
            deb = _find_deb(deb_dir, package)
            root = scratch / package
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            version = subprocess.run(
                ["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True
            ).stdout.strip()
            pdf = gzip.decompress((root / PDF_IN_PACKAGE.format(lang=language)).read_bytes())
            copyright_text = (root / COPYRIGHT_IN_PACKAGE.format(package=package)).read_text(encoding="utf-8")
            build_task(
                language,
                package,
                version,
                pdf,
                copyright_text,
                args.output / f"debian-faq-{language}",
            )
    return 0


def _download(folder: Path) -> Path:
    subprocess.run(["apt-get", "download", *PACKAGES.values()], cwd=folder, check=True)
    return folder


def _find_deb(folder: Path, package: str) -> Path:
    found = sorted(folder.glob(f"{package}_*.deb"))
    if not found:
        raise SystemExit(f"no {package}_*.deb in {folder}")
    return found[-1]


def build_task(language: str, package: str, version: str, pdf: bytes, copyright_text: str, out: Path) -> None:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    page_ids = [f"page-{number:03d}" for number in range(1, len(document) + 1)]
    pngs = [_page_png(document[index]) for index in range(len(document))]
    print(
        f"{package}: {len(pngs)} pages rendered at {DPI} DPI, {sum(map(len, pngs)) // 1024} KB",
        flush=True,
    )

    ocr = TesseractOCR(languages=(language,))
    images = [decode_image(png, page_id, "build") for png, page_id in zip(pngs, page_ids, strict=True)]
    texts = ocr.texts(images)
    print(f"{package}: OCR done with {ocr.description}", flush=True)

    queries, qrels = [], []
    for entry in document.get_toc():
        title = _clean(entry.get_title())
        destination = entry.get_dest()
        if "?" not in title or destination is None:
            continue  # chapter and section titles are not questions
        query_id = f"q{len(queries) + 1:03d}"
        queries.append({"query-id": query_id, "query": title, "language": language})
        qrels.append({"query-id": query_id, "corpus-id": page_ids[destination.get_index()], "score": 1})
    print(f"{package}: {len(queries)} questions from the outline", flush=True)

    if out.exists():
        shutil.rmtree(out)
    _write_parquet(
        out / "corpus",
        {
            "corpus-id": page_ids,
            "image": [{"bytes": png, "path": None} for png in pngs],
            "text": texts,
            "page_number": list(range(1, len(pngs) + 1)),
        },
        image_column="image",
    )
    _write_parquet(out / "queries", {key: [row[key] for row in queries] for key in queries[0]})
    _write_parquet(out / "qrels", {key: [row[key] for row in qrels] for key in qrels[0]})
    (out / "COPYRIGHT").write_text(copyright_text, encoding="utf-8")
    build = {
        "package": package,
        "package_version": version,
        "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
        "pages": len(pngs),
        "questions": len(queries),
        "dpi": DPI,
        "gray_levels": GRAY_LEVELS,
        "ocr": ocr.description,
        "build_version": BUILD_VERSION,
    }
    (out / "build.json").write_text(json.dumps(build, indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(_card(language, build), encoding="utf-8")


def _page_png(page) -> bytes:
    image = page.render(scale=DPI / 72).to_pil().convert("L").quantize(GRAY_LEVELS)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _clean(title: str) -> str:
    return re.sub(r"\s+", " ", title.replace("\xa0", " ")).strip()


def _write_parquet(folder: Path, columns: dict, image_column: str | None = None) -> None:
    from datasets import Dataset, Features, Image, Value

    features = Features(
        {
            name: Image()
            if name == image_column
            else Value("int64" if isinstance(values[0], int) else "string")
            for name, values in columns.items()
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(columns, features=features).to_parquet(str(folder / "test-00000-of-00001.parquet"))


def _card(language: str, build: dict) -> str:
    name = "English" if language == "en" else "French"
    return (
        BEIR_FOLDER_CARD
        + f"""# debian-faq-{language}

The Debian GNU/Linux FAQ ({name}), from the Debian package `{build["package"]}`
{build["package_version"]}, as a page-retrieval task in the BEIR layout.

- corpus: every page of `debian-faq.{language}.pdf` ({build["pages"]} pages), rendered
  at {build["dpi"]} DPI in {build["gray_levels"]} gray levels; `text` is the OCR of that
  image by {build["ocr"]}.
- queries: every question of the PDF outline ({build["questions"]}).
- qrels: each question's relevant page is the page its bookmark points to.

Built by `scripts/build_debian_faq.py` in the pagebench repository. The question
is printed on its page, so text matching finds it easily: this is a ViDoRe-style
task on public documents, not a ViDoRe score.

## Licence

The Debian FAQ is distributed under the notice in `COPYRIGHT` (copied from the
package), which permits verbatim and modified copies provided the notice is kept.
"""
    )


if __name__ == "__main__":
    raise SystemExit(main())
