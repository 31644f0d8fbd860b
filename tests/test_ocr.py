"""Tesseract OCR for tasks without page text: real recognition, the cache, and the
errors when Tesseract or a language is missing. Needs Tesseract (installed by .ci/run)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from benchmark.core.errors import DependencyError
from benchmark.feed.ocr import TesseractOCR
from tests.conftest import make_local_folder, page_image

PAGES = {"p1": "zebra giraffe", "p2": "volcano lava", "p3": "piano violin"}
QUERIES = {"q1": "zebra", "q2": "volcano", "q3": "violin"}
QRELS = [("q1", "p1", 1), ("q2", "p2", 1), ("q3", "p3", 1)]


def test_tesseract_reads_a_rendered_page():
    text = TesseractOCR(languages=("en",)).recognise(page_image("volcano lava"))
    assert "volcano" in text.lower()


def test_ocr_run_then_cache_hit(tmp_path, cli):
    folder = make_local_folder(tmp_path / "scans", PAGES, QUERIES, QRELS, with_text=False)
    for attempt in ("first", "second"):
        code, _, err = cli(
            "run", "--task", folder, "--retriever", "bm25-ocr", "--output-dir", tmp_path / attempt
        )
        assert code == 0, err
    first = json.loads((tmp_path / "first" / "bm25-ocr" / "scans.json").read_text())
    second = json.loads((tmp_path / "second" / "bm25-ocr" / "scans.json").read_text())
    assert first["metrics"]["ndcg_at_1"] == 1.0  # the words were read from the images
    assert first["retriever"]["page_text"]["source"].startswith("OCR by tesseract")
    assert first["retriever"]["page_text"]["ocr_pages_recognised"] == 3
    assert second["retriever"]["page_text"] | {"source": None} == {
        "source": None,
        "ocr_pages_recognised": 0,
        "ocr_pages_from_cache": 3,
    }
    assert first["metrics"] == second["metrics"]


def test_missing_language_data_says_which_package():
    import pytesseract

    assert "ita" not in pytesseract.get_languages(config="")  # .ci/run installs eng and fra only
    with pytest.raises(DependencyError, match="apt-get install tesseract-ocr-ita"):
        TesseractOCR(languages=("it",))


def test_missing_tesseract_is_a_clear_error(tmp_path):
    folder = make_local_folder(tmp_path / "scans", PAGES, QUERIES, QRELS, with_text=False)
    # Every PATH entry holding a tesseract goes (/bin and /usr/bin are often the same).
    path = os.pathsep.join(
        entry for entry in os.environ["PATH"].split(os.pathsep) if not shutil.which("tesseract", path=entry)
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark",
            "run",
            "--task",
            str(folder),
            "--retriever",
            "bm25-ocr",
            "--output-dir",
            str(tmp_path / "out"),
        ],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert (
        "Tesseract OCR is not installed; install it with `apt-get install tesseract-ocr" in completed.stderr
    )
    assert "Traceback" not in completed.stderr


def test_tesseract_thread_limit_does_not_leak_into_later_processes(monkeypatch):
    """Tesseract runs with OMP_THREAD_LIMIT=1, but only Tesseract: a PyTorch child started
    later with that limit computes wrong numbers on the CPU (seen: colpali-engine's scores
    came back NaN in the official-evaluator tests after an OCR test had run)."""
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    ocr = TesseractOCR(languages=("en",), cache_dir=None)
    seen = []
    monkeypatch.setattr(
        ocr, "recognise", lambda _image: seen.append(os.environ.get("OMP_THREAD_LIMIT")) or "x"
    )
    assert ocr.recognise_pages([page_image("volcano lava")], ["p1"]) == ["x"]
    assert seen == ["1"]  # Tesseract itself is limited
    assert "OMP_THREAD_LIMIT" not in os.environ  # nothing after it is

    monkeypatch.setenv("OMP_THREAD_LIMIT", "3")  # a limit the user set stays as it is
    ocr.recognise_pages([page_image("lava volcano")], ["p2"])
    assert seen[-1] == "3" and os.environ["OMP_THREAD_LIMIT"] == "3"
