"""`pagebench report` as a user sees it: the HTML rendered by headless Chromium (Debian's
chromium + chromium-driver, installed by .ci/run), for a bm25-ocr run and a tiny ColPali
run of a bundled task. Screenshots are kept under test-artifacts/ ($PAGEBENCH_TEST_ARTIFACTS)."""

from __future__ import annotations

import re
from pathlib import Path

TASK = "debian-faq-en"
IMAGES_DECODED = (
    "const images = [...document.querySelectorAll(arguments[0])];"
    "return [images.length, images.filter(i => i.complete && i.naturalWidth > 0).length];"
)
VISIBLE = "return [...document.querySelectorAll(arguments[0])].filter(e => e.offsetParent !== null).length;"


def _run_and_report(cli, tmp_path: Path, *run_args: str) -> Path:
    code, _, err = cli("run", "--task", TASK, *run_args, "--output-dir", tmp_path, "--run-name", "r")
    assert code == 0, err
    report = tmp_path / "report.html"
    code, _, err = cli("report", tmp_path / "r", "--worst", "5", "-o", report)
    assert code == 0, err
    return report


def test_the_report_renders_with_its_worst_queries_thumbnails_and_filters(cli, tmp_path, browser):
    report = _run_and_report(cli, tmp_path, "--retriever", "bm25-ocr")
    browser.open(report)
    assert len(browser.run("return document.body.innerText;")) > 500  # not a blank page

    worst = browser.run(
        "return [...document.querySelectorAll('li.worst-query')].map(e => Number(e.dataset.ndcg));"
    )
    assert len(worst) == 5 and worst == sorted(worst)
    assert browser.run(VISIBLE, "li.worst-query") == 5
    total, decoded = browser.run(IMAGES_DECODED, "img.thumbnail")
    assert total >= 5 * 2 and decoded == total  # each worst query: its gold page and top 5

    metrics = browser.run("return [...document.querySelectorAll('#filter-metric option')].map(o => o.value);")
    shown_before = browser.run(VISIBLE, "tr.metric-row")
    browser.select("#filter-metric", next(value for value in metrics if value))
    assert 0 < browser.run(VISIBLE, "tr.metric-row") < shown_before  # the filter hides the others
    browser.screenshot("report-bm25-ocr-filtered")


def test_a_tiny_colpali_report_draws_where_each_query_token_matched(cli, tmp_path, browser, checkpoints):
    report = _run_and_report(cli, tmp_path, "--retriever", "colpali", "--checkpoint", checkpoints["colpali"])
    browser.open(report)
    total, decoded = browser.run(IMAGES_DECODED, "img.similarity-map")
    assert total > 0 and decoded == total
    browser.run("document.querySelector('section.similarity-maps').scrollIntoView();")
    browser.screenshot("report-colpali-similarity-maps")


def test_a_text_run_has_no_map_section(cli, tmp_path):
    report = _run_and_report(cli, tmp_path, "--retriever", "bm25-ocr")
    assert (
        "similarity-map" not in report.read_text(encoding="utf-8").split("<script>")[0].split("</style>")[-1]
    )


def test_the_maps_token_filter_leaves_out_punctuation_and_named_tokens(cli, tmp_path, checkpoints):
    code, _, err = cli(
        "run", "--task", TASK, "--retriever", "colpali", "--checkpoint", checkpoints["colpali"],
        "--output-dir", tmp_path, "--run-name", "r",
    )  # fmt: skip
    assert code == 0, err

    def map_tokens(*options: str) -> set[str]:
        report = tmp_path / "report.html"
        code, _, err = cli("report", tmp_path / "r", "--worst", "3", "-o", report, *options)
        assert code == 0, err
        return set(re.findall(r'class="thumbnail similarity-map" alt="([^"]*)"', report.read_text()))

    every = map_tokens()
    assert "?" in every and "What" in every  # the query's own tokens, punctuation included
    kept = map_tokens("--map-tokens", "words", "--map-drop", "what")
    assert kept and "?" not in kept and "What" not in kept and kept < every
