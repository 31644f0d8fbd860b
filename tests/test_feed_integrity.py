"""Integrity of what feeds the retriever (issue 13): decoded pixels per batch stay under a
budget, 16-bit pages are scaled, OCR failures name their page, and the caches (OCR text,
embeddings, datasets) are checked when read, cleared only when pagebench made them, and
follow --cache-dir / --no-cache and the umask."""

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.core.types import Corpus
from benchmark.feed import batches
from benchmark.feed.embedding_cache import EmbeddingCache, _checksum
from benchmark.tasks.images import FileImages, PageFile, decode_image
from tests.conftest import make_local_folder, page_image

PAGES = {"p1": "zebra giraffe", "p2": "volcano lava", "p3": "piano violin"}
QUERIES = {"q1": "zebra", "q2": "volcano", "q3": "violin"}
QRELS = [("q1", "p1", 1), ("q2", "p2", 1), ("q3", "p3", 1)]


class ImageRetriever:
    page_input = "image"


# --- case 4: decoded pixels per batch ------------------------------------------------------------


def test_a_batch_of_large_pages_is_decoded_in_parts_under_the_pixel_budget(tmp_path, monkeypatch, caplog):
    files = []
    for i in range(5):
        path = tmp_path / f"page{i}.png"
        page_image(f"page {i}", size=(640, 200)).save(path)
        files.append(PageFile(path))
    ids = tuple(f"p{i}" for i in range(5))
    corpus = Corpus(ids=ids, qrels_ids=ids, images=FileImages(files, 144))
    monkeypatch.setattr(batches, "PIXELS_PER_BATCH", 2 * 640 * 200)  # two of these pages per part
    pages = batches.PageBatches(corpus, ["en"], ImageRetriever(), batch_size=16)
    with caplog.at_level(logging.INFO, logger="benchmark.feed.batches"):
        given = list(pages)
    assert [batch.ids for batch in given] == [["p0", "p1"], ["p2", "p3"], ["p4"]]
    assert all(sum(image.width * image.height for image in batch.images) <= 2 * 640 * 200 for batch in given)
    assert pages.batches_split == 1
    assert "decoded in 3 parts" in caplog.text


def test_page_sizes_are_read_without_decoding(tmp_path):
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument.new()
    document.new_page(6000, 6000)  # points: 12000 x 12000 pixels at 144 DPI
    document.save(str(tmp_path / "big.pdf"))
    Image.new("L", (12000, 12000), 255).save(tmp_path / "big.png")
    images = FileImages([PageFile(tmp_path / "big.pdf", 1), PageFile(tmp_path / "big.png")], 144)
    assert images.page_pixels([0, 1]) == [144_000_000, 144_000_000]


# --- case 7: 16-bit grayscale ----------------------------------------------------------------------


def test_16_bit_grayscale_is_scaled_to_8_bits_not_clipped(tmp_path):
    values = np.tile(np.arange(0, 65536, 256, dtype=np.uint16), (16, 1))  # 0, 256, ... 65280
    Image.fromarray(values).save(tmp_path / "scan.png")
    assert Image.open(tmp_path / "scan.png").mode == "I;16"
    decoded = np.asarray(decode_image(tmp_path / "scan.png", "scan", "test"))
    assert decoded.shape == (16, 256, 3)
    assert np.array_equal(decoded[0, :, 0], np.arange(256))  # the top byte of each value


# --- case 6: OCR cache checksums -------------------------------------------------------------------


def run_bm25_ocr(cli, folder: Path, out: Path, cache: Path, *extra) -> tuple[int, str, dict]:
    code, _, err = cli(
        "run", "--task", folder, "--retriever", "bm25-ocr", "--output-dir", out, "--run-name", "r",
        "--cache-dir", cache, "--latency-queries", "0", "--no-progress", *extra,
    )  # fmt: skip
    result = json.loads((out / "r" / f"{folder.name}.json").read_text()) if code == 0 else {}
    return code, err, result


def test_damaged_ocr_cache_entries_are_reported_and_recognised_again(cli, tmp_path):
    folder = make_local_folder(tmp_path / "scans", PAGES, QUERIES, QRELS, with_text=False)
    cache = tmp_path / "cache"
    code, err, first = run_bm25_ocr(cli, folder, tmp_path / "first", cache)
    assert code == 0, err
    entries = sorted((cache / "ocr").rglob("*.txt"))
    assert len(entries) == 3
    entries[0].write_bytes(entries[0].read_bytes()[:-6])  # truncated
    entries[1].write_bytes(b"\xff\xfe not UTF-8")
    code, err, second = run_bm25_ocr(cli, folder, tmp_path / "second", cache)
    assert code == 0, err
    assert err.count("OCR cache entry") == 2 and "recognising the page again" in err
    assert second["retriever"]["page_text"]["ocr_pages_recognised"] == 2
    assert second["metrics"] == first["metrics"]


# --- case 19: OCR failures -------------------------------------------------------------------------


def failing_tesseract(monkeypatch, failures_left: dict):
    """pytesseract that raises (as it did once: a lost temporary file) for pages whose text
    contains a word of `failures_left`, as many times as counted there."""
    import pytesseract

    real = pytesseract.image_to_string

    def flaky(image, **kwargs):
        text = real(image, **kwargs)
        for word, left in failures_left.items():
            if word in text.lower() and left > 0:
                failures_left[word] = left - 1
                raise FileNotFoundError(2, "No such file or directory", "/tmp/tess_x1y2.txt")
        return text

    monkeypatch.setattr(pytesseract, "image_to_string", flaky)


def test_an_ocr_failure_is_retried_once(cli, tmp_path, monkeypatch):
    folder = make_local_folder(tmp_path / "scans", PAGES, QUERIES, QRELS, with_text=False)
    failing_tesseract(monkeypatch, {"volcano": 1})
    code, err, result = run_bm25_ocr(cli, folder, tmp_path / "out", tmp_path / "cache")
    assert code == 0, err
    assert "OCR of page 'p2' failed (FileNotFoundError" in err and "trying once more" in err
    assert result["metrics"]["ndcg_at_1"] == 1.0


def test_an_ocr_failure_names_its_page_and_honours_skip(cli, tmp_path, monkeypatch):
    folder = make_local_folder(tmp_path / "scans", PAGES, QUERIES, QRELS, with_text=False)
    failing_tesseract(monkeypatch, {"volcano": 10})
    code, err, _ = run_bm25_ocr(cli, folder, tmp_path / "out", tmp_path / "cache")
    assert code == 2 and "Traceback" not in err
    assert "page 'p2': OCR failed twice: FileNotFoundError" in err.strip().splitlines()[-1]
    code, err, result = run_bm25_ocr(
        cli, folder, tmp_path / "out", tmp_path / "cache", "--on-bad-page", "skip"
    )
    assert code == 0, err
    assert json.dumps(result).count('"p2"') >= 1 and "OCR failed twice" in json.dumps(result)


# --- case 9: cache clear ---------------------------------------------------------------------------


def test_cache_clear_removes_only_folders_pagebench_made(cli, tmp_path):
    own = tmp_path / "mine"
    (own / "ocr").mkdir(parents=True)
    (own / "ocr" / "notes.txt").write_text("the user's, not pagebench's")
    (own / "embeddings").mkdir()
    code, out, _ = cli("cache", "clear", "--cache-dir", own)
    assert code == 0
    assert (own / "ocr" / "notes.txt").is_file() and (own / "embeddings").is_dir()
    assert f"left {own / 'ocr'}: it has no .pagebench-cache marker" in out

    folder = make_local_folder(tmp_path / "scans", PAGES, QUERIES, QRELS, with_text=False)
    cache = tmp_path / "cache"
    assert run_bm25_ocr(cli, folder, tmp_path / "out", cache)[0] == 0
    code, out, _ = cli("cache", "clear", "--cache-dir", cache)
    assert code == 0 and f"removed {cache / 'ocr'}" in out
    assert not (cache / "ocr").exists()


# --- case 11: damaged embedding cache chunks, damaged weights --------------------------------------


def stored_chunk(tmp_path) -> tuple[Path, dict, Path]:
    key = {"retriever": "test"}
    cache = EmbeddingCache(tmp_path, key)
    cache.store(["a" * 64, "b" * 64], [torch.ones(3, 4), torch.zeros(2, 4)])
    (chunk,) = cache.folder.glob("chunk-*.npz")
    return tmp_path, key, chunk


def test_a_folder_in_place_of_a_cache_chunk_is_reported_and_replaced(tmp_path, caplog):
    root, key, chunk = stored_chunk(tmp_path)
    chunk.unlink()
    chunk.mkdir()
    (chunk / "x").write_text("")
    with caplog.at_level(logging.WARNING):
        cache = EmbeddingCache(root, key)
    assert cache.lookup(["a" * 64]) == {} and "unreadable" in caplog.text
    cache.store(["a" * 64], [torch.ones(3, 4)])  # the name is free again
    assert set(EmbeddingCache(root, key).lookup(["a" * 64])) == {"a" * 64}


def test_a_forged_chunk_with_bad_offsets_is_reported_and_recomputed(tmp_path, caplog):
    root, key, chunk = stored_chunk(tmp_path)
    keys = np.array(["a" * 64, "b" * 64], dtype="U64")
    offsets = np.array([0, 9, 5], dtype=np.int64)  # past the end, then backwards
    vectors = np.ones((5, 4), dtype=np.float32)
    checksum = _checksum(keys, offsets, vectors, "float32")  # forged: consistent with itself
    np.savez(chunk, keys=keys, offsets=offsets, vectors=vectors, dtype=np.array("float32"),
             checksum=np.array(checksum))  # fmt: skip
    with caplog.at_level(logging.WARNING):
        found = EmbeddingCache(root, key).lookup(["a" * 64, "b" * 64])
    assert found == {}
    assert "malformed (offsets do not cut 5 vectors into 2 pages)" in caplog.text
    assert not chunk.exists()


def test_truncated_model_weights_are_named(cli, tmp_path):
    from benchmark.devtools import tiny_checkpoints

    checkpoint = tiny_checkpoints.build_colpali(tmp_path / "colpali")
    weights = checkpoint / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    code, _, err = cli(
        "run", "--task", "debian-faq-en", "--retriever", "colpali", "--checkpoint", checkpoint,
        "--output-dir", tmp_path / "out", "--no-cache", "--no-progress",
    )  # fmt: skip
    assert code == 2 and "Traceback" not in err
    assert f"cannot load the weights in {weights}" in err.strip().splitlines()[-1]


def test_truncated_sentence_transformers_weights_are_named(cli, tmp_path):
    from benchmark.retrievers.dense_ocr import _bundled_model_path

    checkpoint = Path(shutil.copytree(_bundled_model_path(), tmp_path / "minilm"))
    weights = checkpoint / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    code, _, err = cli(
        "run", "--task", "debian-faq-en", "--retriever", "dense-ocr", "--checkpoint", checkpoint,
        "--output-dir", tmp_path / "out", "--no-cache", "--no-progress",
    )  # fmt: skip
    assert code == 2 and "Traceback" not in err
    assert f"dense-ocr: cannot load the weights in {weights}" in err.strip().splitlines()[-1]


# --- case 18: the datasets cache follows --cache-dir and --no-cache; file modes follow the umask ----


def test_local_datasets_are_cached_under_cache_dir_or_not_at_all(cli, tmp_path):
    default_root = Path(os.environ["PAGEBENCH_CACHE_DIR"])
    common = ["run", "--task", "debian-faq-en", "--retriever", "bm25-ocr", "--latency-queries", "0"]
    code, _, err = cli(*common, "--output-dir", tmp_path / "a", "--cache-dir", tmp_path / "mine")
    assert code == 0, err
    assert any((tmp_path / "mine" / "datasets").iterdir())
    assert (tmp_path / "mine" / "datasets" / ".pagebench-cache").is_file()
    code, _, err = cli(*common, "--output-dir", tmp_path / "b", "--no-cache")
    assert code == 0, err
    assert not (default_root / "datasets").exists()


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_cache_files_follow_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        _, _, chunk = stored_chunk(tmp_path)
    finally:
        os.umask(previous)
    assert chunk.stat().st_mode & 0o777 == 0o666 & ~umask


def test_cache_folders_carry_the_marker(tmp_path):
    root, _, _ = stored_chunk(tmp_path)
    assert (root / "embeddings" / ".pagebench-cache").is_file()
    shutil.rmtree(root / "embeddings")
