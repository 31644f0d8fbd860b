"""The embedding cache, resuming a killed run, bad pages, out-of-memory, determinism."""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from benchmark.feed.embedding_cache import EmbeddingCache
from tests.conftest import make_local_folder, write_jsonl

TASK = "debian-faq-en"
N_PAGES = 73


def run_colpali(cli, checkpoints, out: Path, cache: Path | None, *extra) -> tuple[int, str, dict]:
    args = ["run", "--task", TASK, "--retriever", "colpali", "--checkpoint", checkpoints["colpali"]]
    args += ["--output-dir", out, "--run-name", "r", "--latency-queries", "0", "--no-progress"]
    args += ["--cache-dir", cache] if cache else ["--no-cache"]
    code, _, err = cli(*args, *extra)
    result = json.loads((out / "r" / f"{TASK}.json").read_text()) if code == 0 else {}
    return code, err, result


def same_outcome(first: Path, second: Path) -> bool:
    """Identical metrics, per-query values and ranked run file."""
    a, b = (json.loads((folder / "r" / f"{TASK}.json").read_text()) for folder in (first, second))
    trec_a, trec_b = ((folder / "r" / f"{TASK}.trec").read_bytes() for folder in (first, second))
    return a["metrics"] == b["metrics"] and a["per_query"] == b["per_query"] and trec_a == trec_b


def chunks(cache: Path) -> list[Path]:
    return sorted(cache.glob("embeddings/*/chunk-*.npz"))


# --- the cache ------------------------------------------------------------------------


def test_second_run_encodes_no_page(cli, checkpoints, tmp_path):
    cache = tmp_path / "cache"
    code, err, first = run_colpali(cli, checkpoints, tmp_path / "first", cache)
    assert code == 0, err
    encoded = first["efficiency"]["pages_encoded"]
    # pages with identical pixels are encoded once: the FAQ has a few repeated pages
    assert encoded + first["efficiency"]["pages_from_cache"] == N_PAGES and encoded > 60
    code, err, second = run_colpali(cli, checkpoints, tmp_path / "second", cache)
    assert code == 0, err
    assert second["efficiency"]["pages_encoded"] == 0
    assert second["efficiency"]["pages_from_cache"] == N_PAGES
    assert same_outcome(tmp_path / "first", tmp_path / "second")


def test_no_cache_writes_nothing_and_scores_the_same(cli, checkpoints, tmp_path):
    run_colpali(cli, checkpoints, tmp_path / "cached", tmp_path / "cache")
    code, err, uncached = run_colpali(cli, checkpoints, tmp_path / "uncached", None)
    assert code == 0, err
    assert uncached["efficiency"]["pages_encoded"] == N_PAGES
    assert uncached["efficiency"]["pages_from_cache"] == 0
    assert not (Path(os.environ["PAGEBENCH_CACHE_DIR"]) / "embeddings").exists()
    cached = json.loads((tmp_path / "cached" / "r" / f"{TASK}.json").read_text())
    assert uncached["metrics"] == pytest.approx(cached["metrics"], abs=1e-12)


def test_another_checkpoint_never_reads_these_entries(cli, checkpoints, tmp_path):
    cache = tmp_path / "cache"
    _, _, first = run_colpali(cli, checkpoints, tmp_path / "first", cache)
    copy = shutil.copytree(checkpoints["colpali"], tmp_path / "colpali-copy")
    code, err, other = run_colpali(
        cli, {"colpali": str(copy)}, tmp_path / "other", cache
    )  # the same weights under another name: still another checkpoint
    assert code == 0, err
    assert other["efficiency"]["pages_encoded"] == first["efficiency"]["pages_encoded"]
    assert len([p for p in (cache / "embeddings").iterdir() if p.is_dir()]) == 2  # not the marker
    # and a local checkpoint whose files change is a new checkpoint too
    (copy / "config.json").write_text((copy / "config.json").read_text() + "\n")
    _, _, changed = run_colpali(cli, {"colpali": str(copy)}, tmp_path / "changed", cache)
    assert changed["efficiency"]["pages_from_cache"] == first["efficiency"]["pages_from_cache"]
    assert len([p for p in (cache / "embeddings").iterdir() if p.is_dir()]) == 3


def test_multi_vector_pages_are_stored_unpadded_and_exactly():
    import torch

    pages = [torch.randn(n, 16) for n in (3, 7, 1)]
    halves = [page.to(torch.bfloat16).float() for page in pages]  # what a bfloat16 model gives
    cache_root = Path(os.environ["PAGEBENCH_CACHE_DIR"])
    cache = EmbeddingCache(cache_root, {"retriever": "test"})
    cache.store(["a", "b", "c"], pages)
    cache.store(["d", "e", "f"], halves)
    found = cache.lookup(["a", "b", "c", "d", "e", "f", "unknown"])
    assert set(found) == {"a", "b", "c", "d", "e", "f"}
    for key, page in zip("abcdef", pages + halves, strict=True):
        assert torch.equal(found[key], page)  # bit for bit
    float32_chunk, bfloat16_chunk = sorted(chunks(cache_root), key=lambda p: p.stat().st_size, reverse=True)
    with np.load(bfloat16_chunk) as data:
        assert str(data["dtype"]) == "bfloat16" and data["vectors"].dtype == np.uint16
        assert data["vectors"].shape == (11, 16) and list(data["offsets"]) == [0, 3, 10, 11]  # no padding
    with np.load(float32_chunk) as data:
        assert str(data["dtype"]) == "float32"


@pytest.mark.parametrize("damage", ["truncated", "tampered"])
def test_a_damaged_chunk_is_detected_and_recomputed(cli, checkpoints, tmp_path, damage):
    cache = tmp_path / "cache"
    run_colpali(cli, checkpoints, tmp_path / "first", cache)
    victim = chunks(cache)[0]
    with np.load(victim) as data:
        contents = {name: data[name] for name in data.files}
    if damage == "truncated":  # a crash mid-write under the final name (which atomic writes prevent)
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    else:  # valid file, wrong numbers: only the checksum can tell
        contents["vectors"] = contents["vectors"] + 1
        with open(victim, "wb") as stream:
            np.savez(stream, **contents)
    code, err, second = run_colpali(cli, checkpoints, tmp_path / "second", cache)
    assert code == 0, err
    assert f"embedding cache chunk {victim}" in err and "encoded again" in err
    reason = "unreadable" if damage == "truncated" else "checksum does not match"
    assert reason in err
    assert second["efficiency"]["pages_encoded"] == len(contents["keys"])  # the pages of that batch
    assert same_outcome(tmp_path / "first", tmp_path / "second")


def test_cache_info_and_clear(cli, checkpoints, tmp_path):
    cache = tmp_path / "cache"
    _, _, first = run_colpali(cli, checkpoints, tmp_path / "first", cache)
    code, out, _ = cli("cache", "info", "--cache-dir", cache)
    assert code == 0 and "ColPaliRetriever" in out and checkpoints["colpali"] in out
    row = next(line.split() for line in out.splitlines() if line.startswith("ColPaliRetriever"))
    assert int(row[4]) == first["efficiency"]["pages_encoded"]  # pages column: every page stored
    code, out, _ = cli("cache", "clear", "--cache-dir", cache, "--embeddings-only")
    assert code == 0 and not (cache / "embeddings").exists()
    assert "no page embeddings" in cli("cache", "info", "--cache-dir", cache)[1]


# --- killed and resumed -----------------------------------------------------------------


def test_a_killed_run_resumes_and_ends_identical(cli, checkpoints, tmp_path):
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "benchmark", "run", "--task", TASK, "--retriever", "colpali"]
    command += ["--checkpoint", checkpoints["colpali"], "--batch-size", "1", "--cache-dir", str(cache)]
    command += ["--output-dir", str(tmp_path / "killed"), "--run-name", "r", "--latency-queries", "0"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(chunks(cache)) < 5 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    done = len(chunks(cache))
    assert 5 <= done < N_PAGES
    assert not (tmp_path / "killed" / "r" / f"{TASK}.json").exists()  # no results from a dead run

    code, err, resumed = run_colpali(cli, checkpoints, tmp_path / "resumed", cache, "--batch-size", "1")
    assert code == 0, err
    assert resumed["efficiency"]["pages_from_cache"] >= done  # nothing done before the kill is redone
    assert resumed["efficiency"]["pages_encoded"] <= N_PAGES - done
    code, err, _ = run_colpali(cli, checkpoints, tmp_path / "whole", tmp_path / "fresh", "--batch-size", "1")
    assert code == 0, err
    assert same_outcome(tmp_path / "resumed", tmp_path / "whole")


SIGINT_AS_A_TERMINAL = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('benchmark', run_name='__main__', alter_sys=True)"
)


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_terminated_run_removes_its_disk_index_and_says_so(checkpoints, tmp_path, signal_number):
    """SIGTERM (a scheduler's time limit) is handled like Ctrl-C: one line, cleanup, 128 + signal."""
    index = tmp_path / "index"
    # `python -m benchmark`, with Ctrl-C as a terminal delivers it: a harness started in
    # the background (`cmd &`) passes SIGINT down ignored, and Python then installs no
    # KeyboardInterrupt handler
    command = [sys.executable, "-c", SIGINT_AS_A_TERMINAL, "run", "--task", TASK, "--retriever", "colpali"]
    command += ["--checkpoint", checkpoints["colpali"], "--batch-size", "1", "--no-cache", "--no-progress"]
    command += ["--output-dir", str(tmp_path / "out"), "--latency-queries", "0"]
    command += ["--index-on-disk", str(index)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    staging = []
    while process.poll() is None and time.monotonic() < deadline:
        staging = [path for path in index.glob("pages-*/staging.bin") if path.stat().st_size > 0]
        if staging:
            break
        time.sleep(0.005)
    assert staging, "the run ended before it staged a page"
    process.send_signal(signal_number)
    _, err = process.communicate(timeout=60)
    assert process.returncode == (143 if signal_number == signal.SIGTERM else 130), err
    word = "terminated" if signal_number == signal.SIGTERM else "interrupted"
    ours = [line for line in err.splitlines() if "pagebench" in line or "Traceback" in line]
    assert ours == [f"pagebench: {word}"], err  # (transformers' weight-loading bar may come before)
    assert list(index.iterdir()) == []  # the staging file and its folder are gone
    assert not (tmp_path / "out").exists()


# --- bad pages ----------------------------------------------------------------------------


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but carries no image data (a bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.fixture
def damaged_folder(tmp_path):
    pages = {f"p{i}": f"page {i} words" for i in range(1, 7)}
    folder = make_local_folder(tmp_path / "docs", pages, {"q1": "page 1 words", "q2": "page 6"}, [])
    write_jsonl(folder / "qrels.jsonl", [])
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tp1\t1\nq2\tp6\t1\n")
    (folder / "pages" / "p2.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    (folder / "pages" / "p3.png").write_bytes(b"")
    (folder / "pages" / "p4.png").write_bytes(png_header(30_000, 30_000))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really a PDF")
    records = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines()]
    records[4]["image"] = "broken.pdf#page=1"  # p5
    write_jsonl(folder / "corpus.jsonl", records)
    return folder


@pytest.mark.parametrize(
    "page, message",
    [
        ("p2", "pages/p2.png): cannot decode image"),
        ("p3", "pages/p3.png): cannot decode image"),
        ("p4", "decompression bomb"),  # refused from its header, never decoded
        ("p4-below-pillow-limit", "more than the 150,000,000 a page may have"),
        ("p5", "broken.pdf#page=1): cannot open PDF"),
    ],
)
def test_a_bad_page_fails_the_run_naming_it(cli, checkpoints, damaged_folder, tmp_path, page, message):
    if page == "p4-below-pillow-limit":  # 160 megapixels: Pillow only warns, our limit refuses
        page = "p4"
        (damaged_folder / "pages" / "p4.png").write_bytes(png_header(16_000, 10_000))
    # keep only the good pages and the one under test
    records = [json.loads(line) for line in (damaged_folder / "corpus.jsonl").read_text().splitlines()]
    write_jsonl(damaged_folder / "corpus.jsonl", [r for r in records if r["_id"] in ("p1", page, "p6")])
    args = ["run", "--task", damaged_folder, "--retriever", "colpali", "--checkpoint", checkpoints["colpali"]]
    code, _, err = cli(*args, "--output-dir", tmp_path / "out")
    last_line = err.strip().splitlines()[-1]  # above it, only transformers' weight-loading bar
    assert code == 2 and message in last_line and "Traceback" not in err
    assert f"pagebench: error: page {page!r} (" in last_line
    assert not (tmp_path / "out").exists()


def test_bad_pages_can_be_skipped_and_are_recorded(cli, checkpoints, damaged_folder, tmp_path):
    args = ["run", "--task", damaged_folder, "--retriever", "colpali", "--checkpoint", checkpoints["colpali"]]
    code, _, err = cli(*args, "--output-dir", tmp_path / "out", "--run-name", "r", "--on-bad-page", "skip")
    assert code == 0, err
    assert "docs: 4 unreadable page(s) skipped" in err
    # each skip is logged by the library as it happens; the command line shows the records
    assert err.count("pagebench: skipped page ") == 4 and "pagebench: skipped page 'p2' (" in err
    result = json.loads((tmp_path / "out" / "r" / "docs.json").read_text())
    assert [page["id"] for page in result["skipped_pages"]] == ["p2", "p3", "p4", "p5"]
    assert "cannot open PDF" in result["skipped_pages"][3]["reason"]
    ranked = (tmp_path / "out" / "r" / "docs.trec").read_text()
    assert {line.split()[2] for line in ranked.splitlines()} == {"p1", "p6"}
    assert result["efficiency"]["pages_encoded"] + result["efficiency"]["pages_from_cache"] == 2


def test_bad_pages_needing_ocr_can_be_skipped_too(cli, damaged_folder, tmp_path):
    records = [json.loads(line) for line in (damaged_folder / "corpus.jsonl").read_text().splitlines()]
    write_jsonl(
        damaged_folder / "corpus.jsonl", [{k: v for k, v in r.items() if k != "text"} for r in records]
    )
    args = ["run", "--task", damaged_folder, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "out"]
    code, _, err = cli(*args, "--run-name", "r", "--on-bad-page", "skip")
    assert code == 0, err
    result = json.loads((tmp_path / "out" / "r" / "docs.json").read_text())
    assert [page["id"] for page in result["skipped_pages"]] == ["p2", "p3", "p4", "p5"]
    assert result["retriever"]["page_text"]["ocr_pages_recognised"] == 2


def test_queries_without_qrels_are_excluded_and_counted(cli, tmp_path):
    folder = make_local_folder(
        tmp_path / "docs", {"p1": "zebra", "p2": "lava"}, {"q1": "zebra", "q2": "lava", "q3": "x"}, []
    )
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tp1\t1\n")
    code, _, err = cli("run", "--task", folder, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "o")
    assert code == 0, err
    assert "2 queries have no qrels and are excluded" in err
    result = json.loads((tmp_path / "o" / "bm25-ocr" / "docs.json").read_text())
    assert list(result["per_query"]) == ["q1"] and result["task"]["n_queries"] == 1


# --- out of memory, determinism --------------------------------------------------------------


def test_out_of_memory_suggests_a_smaller_batch(cli, checkpoints, monkeypatch, tmp_path):
    import torch

    from benchmark.retrievers.colpali import ColPaliRetriever

    def exhausted(_self, _inputs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(ColPaliRetriever, "embed_page_inputs", exhausted)  # the forward pass
    code, _, err = cli(
        "run", "--task", TASK, "--retriever", "colpali", "--checkpoint", checkpoints["colpali"],
        "--batch-size", "16", "--output-dir", tmp_path,
    )  # fmt: skip
    last_line = err.strip().splitlines()[-1]  # above it, only transformers' weight-loading bar
    assert code == 2 and "Traceback" not in err
    assert "out of memory on cpu while encoding pages at batch size 16" in last_line
    assert "--batch-size 8" in last_line


def test_two_uncached_runs_are_byte_identical(cli, checkpoints, tmp_path):
    for name in ("one", "two"):
        code, err, _ = run_colpali(cli, checkpoints, tmp_path / name, None)
        assert code == 0, err
    assert same_outcome(tmp_path / "one", tmp_path / "two")
