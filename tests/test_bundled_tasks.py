"""The bundled Debian FAQ tasks: complete, consistent, licensed, and in the wheel."""

import json
import re
import subprocess
import sys
import zipfile

import pytest

from benchmark.tasks import load_task
from benchmark.tasks.catalog import resolve_task, spec_root

SIZES = {"debian-faq-en": (73, 123), "debian-faq-fr": (75, 123)}


def words(text):
    return re.findall(r"\w+", text.lower())


@pytest.mark.parametrize("name", SIZES)
def test_every_question_is_printed_on_its_relevant_page(name):
    task = load_task(resolve_task(name), need_page_text=True)
    assert (task.corpus.n_pages, len(task.queries)) == SIZES[name]
    page_text = dict(zip(task.corpus.ids, task.corpus.texts, strict=True))
    for query in task.queries:
        (page_id,) = task.qrels[query.id]
        on_page = set(words(page_text[page_id]))
        question = [word for word in words(query.text) if len(word) > 3]
        found = sum(word in on_page for word in question) / len(question)
        # The OCR text of the bookmarked page holds the question (a wrong page would not).
        assert found >= 0.8, (query.id, query.text, page_id)


@pytest.mark.parametrize("name", SIZES)
def test_pages_decode_at_100_dpi_and_the_licence_travels_with_them(name):
    task = load_task(resolve_task(name))
    images = task.corpus.images.load([0, 1, 2], list(task.corpus.ids[:3]))
    assert [image.size for image in images] == [(827, 1170)] * 3  # A4 at 100 DPI
    folder = spec_root() / "debian_faq" / name
    assert (
        "Permission is granted to make and distribute verbatim copies" in (folder / "COPYRIGHT").read_text()
    )
    build = json.loads((folder / "build.json").read_text())
    assert (build["pages"], build["questions"]) == SIZES[name]


def test_wheel_carries_specs_and_data_and_runs_without_the_checkout(tmp_path):
    repo = spec_root().parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "wheel"),
            str(repo),
        ],
        check=True,
    )
    (wheel,) = (tmp_path / "wheel").glob("pagebench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "benchmark/task_specs/debian_faq/debian-faq-en.toml" in names
    assert "benchmark/task_specs/vidore_v1/docvqa.toml" in names
    assert any(n.startswith("benchmark/task_specs/debian_faq/debian-faq-fr/corpus/") for n in names)
    assert "benchmark/task_specs/debian_faq/debian-faq-en/COPYRIGHT" in names

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    script = (
        "import benchmark, sys; from benchmark.cli import main; print(benchmark.__file__); "
        "sys.exit(main(['run', '--task', 'debian-faq-en', '--retriever', 'bm25-ocr', '--output-dir', 'out']))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={
            "PYTHONPATH": str(target),
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "HF_HUB_OFFLINE": "1",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(str(target))  # the installed copy, not the checkout
    assert (tmp_path / "out" / "bm25-ocr" / "debian-faq-en.json").is_file()
