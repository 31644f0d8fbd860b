"""The efficiency block of every run, and `pagebench profile`: fields present, sane and
consistent, index bytes equal to what is stored. No timing thresholds (see benchmarks/)."""

import json

import pytest

from benchmark.results.reader import read_result

LATENCY_FIELDS = [
    "query_ms_p50",
    "query_ms_p95",
    "query_encode_ms_p50",
    "query_encode_ms_p95",
    "query_encode_ms_p99",
    "search_ms_p50",
    "search_ms_p95",
]
POSITIVE_FIELDS = [
    "model_load_s",
    "task_load_s",
    "index_s",
    "index_pages_per_s",
    "index_ms_per_page",
    "search_ms_per_1000_pages",
    "search_total_s",
    "peak_rss_mb",
    "index_bytes_total",
    "index_bytes_per_page",
    "threads",
    *LATENCY_FIELDS,
]


def expected_model_dtype() -> str:
    """What --dtype auto gives on this machine (bfloat16 on a GPU): the suite runs on both."""
    from benchmark.core.device import resolve_device, resolve_dtype

    return resolve_dtype("auto", resolve_device("auto"))


def run_efficiency(cli, tmp_path, *args) -> tuple[dict, str]:
    code, out, err = cli("run", "--task", "debian-faq-en", "--output-dir", tmp_path, "--run-name", "e", *args)
    assert code == 0, err
    return json.loads((tmp_path / "e" / "debian-faq-en.json").read_text())["efficiency"], out


def check_sane(efficiency: dict) -> None:
    for field in POSITIVE_FIELDS:
        assert efficiency[field] > 0, field
    assert (
        efficiency["query_encode_ms_p50"]
        <= efficiency["query_encode_ms_p95"]
        <= efficiency["query_encode_ms_p99"]
    )
    assert efficiency["search_ms_p50"] <= efficiency["search_ms_p95"]
    assert efficiency["query_ms_p50"] <= efficiency["query_ms_p95"]
    # end to end is encode plus search, query by query: at least the larger of the two medians
    assert efficiency["query_ms_p50"] >= max(efficiency["query_encode_ms_p50"], efficiency["search_ms_p50"])
    assert efficiency["index_ms_per_page"] == pytest.approx(1000 / efficiency["index_pages_per_s"], rel=1e-3)
    assert efficiency["search_ms_per_1000_pages"] == pytest.approx(
        efficiency["search_ms_p50"] * 1000 / 73, rel=1e-3
    )
    # stored exactly (issue 17: it was rounded to 4 significant digits); tables round on display
    assert efficiency["index_bytes_per_page"] == efficiency["index_bytes_total"] / 73
    on_cuda = efficiency["device"].startswith("cuda")
    assert (efficiency["peak_accelerator_mb"] is not None) == on_cuda
    assert efficiency["index_warm_up_batch_excluded"] is True  # 73 pages in batches of 16
    # issue 16: the retriever's encode calls and the wait for decoded pages, inside indexing
    assert 0 < efficiency["index_model_s"] <= efficiency["index_s"]
    assert 0 <= efficiency["index_input_wait_s"] <= efficiency["index_s"] - efficiency["index_model_s"]


def test_bm25_run_reports_its_costs(cli, tmp_path):
    efficiency, out = run_efficiency(cli, tmp_path, "--retriever", "bm25-ocr")
    check_sane(efficiency)
    assert efficiency["latency_sample_queries"] == 123 and efficiency["dtype"] is None
    assert "query encoding p50/p95/p99" in out and "on a CPU" in out
    assert "indexing: model " in out and " s, waiting for pages " in out  # bm25-ocr always runs on the CPU


def test_latency_sample_is_capped_and_stated(cli, tmp_path):
    efficiency, out = run_efficiency(cli, tmp_path, "--retriever", "bm25-ocr", "--latency-queries", "10")
    assert efficiency["latency_sample_queries"] == 10 and "(batch size 1, 10 queries)" in out


@pytest.mark.parametrize("scoring_dtype, bytes_per_value", [("float32", 4), ("bfloat16", 2)])
def test_colpali_index_bytes_are_the_stored_embeddings(
    cli, tmp_path, checkpoints, scoring_dtype, bytes_per_value
):
    from PIL import Image
    from transformers import ColPaliProcessor

    args = [
        "--retriever",
        "colpali",
        "--checkpoint",
        checkpoints["colpali"],
        "--scoring-dtype",
        scoring_dtype,
    ]
    efficiency, _ = run_efficiency(cli, tmp_path, *args)
    check_sane(efficiency)
    # every page of this checkpoint has the same number of unmasked output vectors
    processor = ColPaliProcessor.from_pretrained(checkpoints["colpali"])
    vectors_per_page = int(
        processor.process_images(images=[Image.new("RGB", (827, 1170))])["attention_mask"].sum()
    )
    assert efficiency["index_bytes_total"] == 73 * vectors_per_page * 128 * bytes_per_value
    assert efficiency["index_bytes_per_page"] == vectors_per_page * 128 * bytes_per_value
    assert efficiency["dtype"] == expected_model_dtype() and efficiency["model_parameters"] > 0


def test_profile_on_a_task(cli):
    code, out, err = cli("profile", "--retriever", "bm25-ocr", "--task", "debian-faq-en")
    assert code == 0, err
    assert (
        out.startswith("profile of bm25-ocr on debian-faq-en")
        and "search p50/p95" in out
        and "peak RSS" in out
    )


def test_profile_on_synthetic_corpora_fits_growth(cli, tmp_path, checkpoints):
    output = tmp_path / "profile.json"
    args = ["--retriever", "colpali", "--checkpoint", checkpoints["colpali"], "--pages", "40,20,80"]
    code, out, err = cli("profile", *args, "--page-size", "64x64", "--queries", "5", "--output", output)
    assert code == 0, err
    measurements = json.loads(output.read_text())["measurements"]
    assert [m["pages"] for m in measurements] == [20, 40, 80]
    per_page = {m["index_bytes_total"] / m["pages"] for m in measurements}
    assert len(per_page) == 1  # equal pages: storage exactly linear in the corpus size
    assert all(m["latency_sample_queries"] == 5 for m in measurements)
    assert "growth per 1000 pages" in out and "projected at 100,000 pages" in out


def test_profile_rejects_bad_sizes(cli, capsys):
    with pytest.raises(SystemExit) as exited:
        cli("profile", "--retriever", "bm25-ocr", "--pages", "10,-5")
    assert exited.value.code == 2  # argparse's usage error, not a crash and not success
    assert "argument --pages: expected a positive integer, got -5" in capsys.readouterr().err


def test_version_1_results_still_read():
    from pathlib import Path

    document = read_result(Path(__file__).parent / "fixtures" / "results-schema-v1.json")
    assert document.schema_version == 3 and "timing" not in document.model_dump()
    assert document.evaluation.tie_rule == "page id ascending"
    assert document.efficiency.index_s > 0 and document.metrics["ndcg_at_5"] > 0.8
