"""`pagebench report`: the self-contained HTML error-analysis report, on a bm25-ocr run of
the bundled debian-faq-en task (rendered in a browser by the browser test)."""

import base64
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.core.types import TokenMap
from benchmark.report.html_report import ReportOptions, build_report
from benchmark.report.thumbnails import heatmap_overlay, token_map_images

TASK = "debian-faq-en"
DATA_URI = re.compile(r'src="data:image/jpeg;base64,([^"]+)"')


@pytest.fixture(scope="module")
def bm25_run(tmp_path_factory) -> Path:
    """One bm25-ocr run of debian-faq-en made through the CLI (shared: it takes seconds)."""
    from benchmark.cli import main

    root = tmp_path_factory.mktemp("runs")
    assert main(["run", "--task", TASK, "--retriever", "bm25-ocr", "--output-dir", str(root)]) == 0
    return root / "bm25-ocr"


def _report(cli, tmp_path, *args) -> str:
    output = tmp_path / "report.html"
    code, out, err = cli("report", *args, "-o", output)
    assert code == 0, err
    return output.read_text(encoding="utf-8")


def _trec(path: Path) -> dict[str, list[str]]:
    ranked: dict[str, list[tuple[int, str]]] = {}
    for line in path.read_text().splitlines():
        qid, _, page, rank, *_ = line.split()
        ranked.setdefault(qid, []).append((int(rank), page))
    return {qid: [page for _, page in sorted(rows)] for qid, rows in ranked.items()}


def _decodes(encoded: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(encoded)))
    image.load()
    assert image.format == "JPEG"
    return image


def test_report_is_self_contained_with_the_worst_queries_in_order(cli, tmp_path, bm25_run):
    html = _report(cli, tmp_path, bm25_run, "--worst", "7")
    assert not re.search(r'(src|href)\s*=\s*["\']?\s*(https?:)?//', html, re.IGNORECASE)
    assert "<script>" in html and "<style>" in html and "<script src" not in html
    for select in ("filter-task", "filter-language", "filter-metric"):
        assert f'<select id="{select}">' in html
    assert f'<section class="task" data-task="{TASK}" data-language="en">' in html

    entries = re.findall(
        r'<li class="worst-query" data-query="([^"]+)" data-language="[^"]*" '
        r'data-ndcg="([^"]+)" data-gold-rank="([^"]+)">',
        html,
    )
    assert len(entries) == 7
    values = [float(ndcg) for _, ndcg, _ in entries]
    assert values == sorted(values)
    stored = json.loads((bm25_run / f"{TASK}.json").read_text())["per_query"]
    every = sorted(stored, key=lambda qid: (stored[qid]["ndcg_at_5"], qid))
    assert [qid for qid, _, _ in entries] == every[:7]

    ranking = _trec(bm25_run / f"{TASK}.trec")
    qrels = {}
    for line in (bm25_run / f"{TASK}.qrels").read_text().splitlines():
        qid, _, page, grade = line.split()
        if int(grade) > 0:
            qrels.setdefault(qid, []).append(page)
    for qid, _, gold_rank in entries:
        ranks = [ranking[qid].index(page) + 1 for page in qrels[qid] if page in ranking[qid]]
        assert gold_rank == (str(min(ranks)) if ranks else "none")

    images = DATA_URI.findall(html)
    assert len(images) >= 7 * 6  # the gold page and the top 5 of each worst query
    for encoded in images[:12]:
        assert _decodes(encoded).width == 160


def test_compare_lists_the_biggest_losses_first(cli, tmp_path, bm25_run):
    run_b = tmp_path / "worse"
    shutil.copytree(bm25_run, run_b)
    results = json.loads((run_b / f"{TASK}.json").read_text())
    perfect = sorted(qid for qid, values in results["per_query"].items() if values["ndcg_at_5"] == 1.0)
    lowered = {perfect[0]: 0.6, perfect[1]: 0.0, perfect[2]: 0.3}
    for qid, value in lowered.items():
        results["per_query"][qid]["ndcg_at_5"] = value
    results["run_name"] = "worse"
    (run_b / f"{TASK}.json").write_text(json.dumps(results))

    html = _report(cli, tmp_path, bm25_run, "--compare", run_b)
    losses = re.findall(
        r'<li class="compare-loss" data-query="([^"]+)" data-language="[^"]*" '
        r'data-delta="([^"]+)">',
        html,
    )
    assert losses == [(perfect[1], "-1.0000"), (perfect[2], "-0.7000"), (perfect[0], "-0.4000")]
    assert "<th>B − A</th>" in html


REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["README.md"], "README.md: not a run folder"),
        (["results"], "results: no results files (<task>.json) in this folder; it holds the runs"),
        (["results/bm25-ocr", "--task", "debian-faq-xx"], "unknown task 'debian-faq-xx'"),
        (["results/bm25-ocr", "--compare", "nowhere"], "nowhere: not a run folder"),
    ],
)
def test_bad_input_is_a_named_error(cli, tmp_path, monkeypatch, arguments, message):
    monkeypatch.chdir(REPO)
    code, _, err = cli("report", *arguments, "-o", tmp_path / "r.html")
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_a_missing_ranking_file_is_named(cli, tmp_path, bm25_run):
    run = tmp_path / "no-trec"
    shutil.copytree(bm25_run, run)
    (run / f"{TASK}.trec").unlink()
    code, _, err = cli("report", run, "-o", tmp_path / "r.html")
    assert code == 2 and f"{TASK}.trec: the ranking of this results file is missing" in err


def test_heatmap_colours_where_the_token_matched():
    page = Image.new("RGB", (160, 200), "white")
    grid = np.zeros((4, 4), dtype=np.float32)
    grid[0, 0] = 1.0  # top-left patch: the only match
    drawn = np.asarray(heatmap_overlay(page, TokenMap("gnu", grid)))
    top_left, bottom_right = drawn[5, 5], drawn[-5, -5]
    assert top_left[2] < 150 and top_left[0] > 200  # tinted red-yellow: blue drops
    assert tuple(bottom_right) == (255, 255, 255)  # no match: the page shows through
    [(token, uri, best)] = token_map_images(page, [TokenMap("gnu", grid)])
    assert token == "gnu" and best == 1.0
    assert _decodes(uri.split(",", 1)[1]).size == (160, 200)


def test_a_flat_or_odd_grid():
    page = Image.new("RGB", (32, 32), "white")
    flat = np.asarray(heatmap_overlay(page, TokenMap("a", np.full((3, 5), 0.2, dtype=np.float32))))
    assert (flat == 255).all()
    with pytest.raises(ValueError, match="'b': expected a 2-D patch grid"):
        heatmap_overlay(page, TokenMap("b", np.zeros(4, dtype=np.float32)))


def test_similarity_maps_come_from_the_provider(bm25_run):
    asked = []

    def provider(query: str, page_ids: list[str]) -> dict[str, list[TokenMap]]:
        asked.append((query, page_ids))
        grid = np.arange(12, dtype=np.float32).reshape(3, 4)
        return {
            page_id: [TokenMap("debian", grid), TokenMap("package", grid.T.copy())] for page_id in page_ids
        }

    without = build_report(bm25_run, options=ReportOptions(worst=2))
    assert 'class="similarity-maps"' not in without
    tasks = []

    def provider_for(document, task):
        tasks.append((document.retriever.name, task.spec.name))
        return provider

    html = build_report(bm25_run, options=ReportOptions(worst=2, similarity_for=provider_for))
    assert tasks == [("bm25-ocr", TASK)]
    assert len(asked) == 2 and all(1 <= len(pages) <= 2 for _, pages in asked)
    sections = re.findall(r'<section class="similarity-maps".*?</section>', html, re.DOTALL)
    assert len(sections) == 2
    maps = re.findall(
        r'class="thumbnail similarity-map" alt="(\w+)" src="data:image/jpeg;base64,([^"]+)"', html
    )
    assert {token for token, _ in maps} == {"debian", "package"}
    assert len(maps) == 2 * sum(len(pages) for _, pages in asked)
    _decodes(maps[0][1])


def test_a_local_folder_run_shows_its_pages_and_language(cli, tmp_path):
    from tests.conftest import make_local_folder

    folder = make_local_folder(
        tmp_path / "my-pages",
        {"p1": "debian archive mirror", "p2": "printer driver setup", "p3": "kernel boot loader"},
        {"q1": "archive mirror", "q2": "boot loader kernel", "q3": "sound card"},
        [("q1", "p1", 1), ("q2", "p3", 1), ("q3", "p2", 1)],
    )
    code, _, err = cli("run", "--task", folder, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "runs")
    assert code == 0, err
    html = _report(cli, tmp_path, tmp_path / "runs" / "bm25-ocr")
    entries = re.findall(r'<li class="worst-query" data-query="(\w+)" data-language="(\w*)"', html)
    assert entries[0][0] == "q3" and {language for _, language in entries} == {"en"}
    assert 'data-page="p2"' in html  # q3's gold page, loaded from the folder


def test_a_query_without_a_language_tag_takes_its_tasks_language(monkeypatch, bm25_run):
    import dataclasses

    from benchmark.report import run_pages

    loaded = run_pages.load_task

    def untagged(spec):
        task = loaded(spec)
        return dataclasses.replace(
            task, queries=tuple(dataclasses.replace(q, language=None) for q in task.queries)
        )

    monkeypatch.setattr(run_pages, "load_task", untagged)
    html = build_report(bm25_run, options=ReportOptions(worst=3))
    assert re.findall(r'class="worst-query" data-query="\w+" data-language="(\w*)"', html) == ["en"] * 3


def test_an_unreadable_page_is_a_placeholder_not_a_failed_report(cli, tmp_path):
    from tests.conftest import make_local_folder

    folder = make_local_folder(
        tmp_path / "my-pages",
        {"p1": "debian archive mirror", "p2": "printer driver setup"},
        {"q1": "archive mirror", "q2": "sound card"},
        [("q1", "p1", 1), ("q2", "p2", 1)],
    )
    code, _, err = cli("run", "--task", folder, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "runs")
    assert code == 0, err
    (folder / "pages" / "p2.png").write_bytes(b"not a png")
    html = _report(cli, tmp_path, tmp_path / "runs" / "bm25-ocr")
    assert '<figure class="missing" data-page="p2">(page p2 unreadable)' in html
    assert re.search(r'data-page="p1"><img class="thumbnail"', html)


def test_histogram_counts_each_tenth_with_one_in_the_last():
    from benchmark.report.html_assets import histogram_svg

    svg = histogram_svg([0.0, 0.05, 0.5, 0.95, 1.0], "nDCG@5")
    counts = [int(n) for n in re.findall(r"<title>[0-9.]+–[0-9.]+: (\d+) queries</title>", svg)]
    assert counts == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]
