"""Published results in the real shapes (MTEB 2.26's TaskResult files, vidore-benchmark
5.0.0's results JSON): dataset revisions, partial language coverage, OCR-text dataset
ids, and the leaderboard ranking each suite by its own main score."""

import json
import shutil
from pathlib import Path

import pytest

from benchmark.core.errors import PagebenchError
from benchmark.report.published import OCR_CHUNK_NOTE, REVISION_NOT_RECORDED, read_published
from benchmark.tasks.catalog import all_specs
from tests.result_files import write_result_file

PUBLISHED = Path(__file__).parent / "fixtures" / "published"
# written by MTEB 2.26.24 itself (TaskResult.from_task_results(...).to_disk), real task metadata
MTEB_V2_V3 = PUBLISHED / "mteb-vidore2-vidore3"
MTEB_MODEL = MTEB_V2_V3 / "fixture-org__fixture-mteb-model" / "fedcba9876543210fedcba9876543210fedcba98"
MTEB_SIX_LANGUAGES = PUBLISHED / "mteb-six-languages"
MTEB_MODEL_LABEL = "fixture-org/fixture-mteb-model@fedcba987654"  # model_meta.json's name and revision
SIX_LANGUAGE_MODEL = "fixture-org/six-language-model@111111111111"
VIDORE_OCR_TEXT = PUBLISHED / "vidore-ocr-text" / "bm25_metrics.json"  # vidore-benchmark's merged file

MTEB_ESG_REVISION = "0542c0d03da0ec1c8cbc517c8d78e7e95c75d3d3"  # MTEB's pin for vidore/esg_reports_v2
OUR_ESG_REVISION = "87538b12b20b67a2b4326638921301f87f0cbaf0"


def mteb_file_without(tmp_path: Path, name: str, *, drop_subsets=(), drop_revision=False) -> Path:
    """A copy of one MTEB fixture file with some language subsets or the revision removed."""
    document = json.loads((MTEB_MODEL / name).read_text())
    document["scores"]["test"] = [e for e in document["scores"]["test"] if e["hf_subset"] not in drop_subsets]
    if drop_revision:
        del document["dataset_revision"]
    path = tmp_path / "fixture-org__model" / "rev" / name
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))
    return path


# --- dataset revisions ----------------------------------------------------------------


def test_mteb_dataset_revision_other_than_the_spec_pins_is_named_on_each_value():
    (run,) = read_published(MTEB_V2_V3, all_specs())
    note = run.notes["esg-reports-v2"]
    assert MTEB_ESG_REVISION in note and OUR_ESG_REVISION in note and "vidore/esg_reports_v2" in note
    for code in ("en", "fr", "es", "de"):  # the per-language values come from the same file
        assert run.notes[f"esg-reports-v2@{code}"] == note
    human_labeled = run.notes["esg-reports-human-labeled-v2"]
    assert "6d467dedb09a75144ede1421747e47cf036857dd" in human_labeled
    assert "5a338c329bf1608ac46ac2808060d44bcd92d521" in human_labeled


def test_mteb_file_without_a_revision_says_so(tmp_path):
    path = mteb_file_without(tmp_path, "Vidore2ESGReportsRetrieval.json", drop_revision=True)
    (run,) = read_published(path, all_specs())
    assert run.notes["esg-reports-v2"] == REVISION_NOT_RECORDED


def test_vidore_results_json_records_no_revision_so_pinned_tasks_say_so():
    runs = read_published(VIDORE_OCR_TEXT, all_specs())
    image = runs[0]
    assert image.notes["esg-reports-v2"] == REVISION_NOT_RECORDED
    # a `_tesseract` id is compared with the revision the spec pins for its text twin
    assert image.notes["infovqa"] == REVISION_NOT_RECORDED


# --- language coverage ----------------------------------------------------------------


def test_an_english_only_file_of_a_six_language_task_gives_no_task_score():
    (run,) = read_published(MTEB_V2_V3, all_specs())
    assert "v3-hr" not in run.scores  # 50.47 on English is not the task's score
    assert run.score("v3-hr@en", "ndcg_at_10") == 0.5047
    assert run.partial == {"v3-hr": ("en",)}
    (six,) = read_published(MTEB_SIX_LANGUAGES, all_specs())
    assert six.score("v3-hr", "ndcg_at_10") == pytest.approx(0.4172)  # the mean of the six languages
    assert six.score("v3-hr@en", "ndcg_at_10") == 0.5047 and six.partial == {}


def test_two_of_four_languages_are_kept_per_language_only(tmp_path):
    path = mteb_file_without(tmp_path, "Vidore2ESGReportsRetrieval.json", drop_subsets=("spanish", "german"))
    (run,) = read_published(path, all_specs())
    assert sorted(run.scores) == ["esg-reports-v2@en", "esg-reports-v2@fr"]
    assert run.partial == {"esg-reports-v2": ("en", "fr")}


def test_a_single_language_task_is_whole_from_its_one_subset():
    (run,) = read_published(MTEB_V2_V3, all_specs())
    assert run.score("esg-reports-human-labeled-v2", "ndcg_at_5") == 0.70  # MTEB's "default" subset
    assert "esg-reports-human-labeled-v2" not in run.partial


def test_a_subset_that_is_not_a_language_of_the_task_is_refused(tmp_path):
    path = mteb_file_without(tmp_path, "Vidore2ESGReportsRetrieval.json")
    document = json.loads(path.read_text())
    document["scores"]["test"][0]["hf_subset"] = "italian"
    path.write_text(json.dumps(document))
    with pytest.raises(PagebenchError, match=r"hf_subset 'italian' is not one of task 'esg-reports-v2'"):
        read_published(path, all_specs())


def test_metrics_outside_the_vocabulary_are_ignored_even_when_negative():
    (run,) = read_published(MTEB_V2_V3, all_specs())
    assert set(run.scores["esg-reports-v2@en"]) == {"ndcg_at_1", "ndcg_at_5", "ndcg_at_10", "recall_at_5"}


# --- OCR-text dataset ids -------------------------------------------------------------


def test_tesseract_ids_map_to_their_task_and_ocr_chunk_ids_to_the_chunked_suite():
    (run,) = read_published(VIDORE_OCR_TEXT, all_specs())
    assert sorted(run.scores) == ["docvqa-ocr-chunk", "esg-reports-v2", "infovqa", "tabfquad-ocr-chunk"]
    assert run.score("infovqa", "ndcg_at_5") == 0.6291  # vidore/infovqa_test_subsampled_tesseract
    assert run.score("tabfquad-ocr-chunk", "ndcg_at_5") == 0.4651
    assert run.unmatched == []


def test_without_an_ocr_chunk_spec_its_ids_go_to_a_marked_row():
    specs = [spec for spec in all_specs() if spec.suite != "vidore-v1-ocr-chunk"]
    image, ocr_chunk = read_published(VIDORE_OCR_TEXT, specs)
    assert image.label == "bm25" and sorted(image.scores) == ["esg-reports-v2", "infovqa"]
    assert ocr_chunk.label == "bm25 (OCR-chunk variant)"
    assert sorted(ocr_chunk.scores) == ["docvqa", "tabfquad"]
    assert ocr_chunk.notes == dict.fromkeys(["docvqa", "tabfquad"], OCR_CHUNK_NOTE)
    assert image.unmatched == [] and ocr_chunk.unmatched == []


def test_an_ocr_chunk_spec_when_there_is_one_is_matched_exactly():
    specs = [spec for spec in all_specs() if spec.suite != "vidore-v1-ocr-chunk"]
    docvqa = next(spec for spec in specs if spec.name == "docvqa")
    ocr_chunk_spec = type(docvqa)(
        **{
            **docvqa.__dict__,
            "name": "docvqa-ocr-chunk",
            "suite": "vidore-v1-ocr-chunk",
            "dataset": "vidore/docvqa_test_subsampled_ocr_chunk",
            "text_dataset": None,
            "page_text_column": None,
            "text_dataset_revision": None,
        }
    )
    runs = read_published(VIDORE_OCR_TEXT, [*specs, ocr_chunk_spec])
    image, fallback = runs
    assert "docvqa-ocr-chunk" in image.scores and "docvqa" not in image.scores
    assert sorted(fallback.scores) == ["tabfquad"]  # no spec of its own: still the marked fallback


def test_two_ids_of_one_task_in_one_file_are_refused(tmp_path):
    path = tmp_path / "both_metrics.json"
    path.write_text(
        json.dumps(
            {
                "metrics": {
                    "vidore/infovqa_test_subsampled": {"ndcg_at_5": 0.8},
                    "vidore/infovqa_test_subsampled_tesseract": {"ndcg_at_5": 0.6},
                }
            }
        )
    )
    with pytest.raises(PagebenchError, match="both map to task 'infovqa'"):
        read_published(path, all_specs())


# --- the leaderboard: each suite by its main score ------------------------------------


def leaderboard_sections(markdown: str) -> dict[str, str]:
    sections = {}
    for block in markdown.split("\n## ")[1:]:
        name, _, body = block.partition("\n")
        sections[name] = body
    return sections


def table_row(section: str, label: str) -> list[str]:
    (line,) = [line for line in section.splitlines() if line.startswith("|") and f"| `{label}` |" in line]
    return [cell.strip() for cell in line.strip("|").split("|")]


def header(section: str) -> list[str]:
    line = next(line for line in section.splitlines() if line.startswith("| rank"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def cell(section: str, label: str, column: str) -> str:
    return table_row(section, label)[header(section).index(column)]


def value(section: str, label: str, column: str) -> str:
    """A cell's number without bold or footnote marks."""
    return cell(section, label, column).partition(" [")[0].strip("*")


def write_v3_run(root: Path) -> None:
    """Our own run on one v3 task: nDCG@10 0.60, nDCG@5 0.50."""
    write_result_file(
        root,
        "ours",
        "v3-hr",
        [0.5] * 10,
        suite="vidore-v3",
        main_score="ndcg_at_10",
        metric_means={"ndcg_at_10": 0.6},
    )


@pytest.fixture
def published_leaderboard(cli, tmp_path, monkeypatch):
    """`pagebench leaderboard` over one run of ours and the published fixtures; returns a
    function of extra arguments giving the markdown's sections by suite."""
    write_v3_run(tmp_path / "results")
    for source in (MTEB_V2_V3, MTEB_SIX_LANGUAGES, VIDORE_OCR_TEXT.parent):
        shutil.copytree(source, tmp_path / source.name)
    monkeypatch.chdir(tmp_path)

    def generate(*extra: str) -> dict[str, str]:
        imports = ["--import", MTEB_V2_V3.name, "--import", MTEB_SIX_LANGUAGES.name]
        imports += ["--import", f"{VIDORE_OCR_TEXT.parent.name}/{VIDORE_OCR_TEXT.name}"]
        code, out, err = cli("leaderboard", "results", *imports, "--no-plots", *extra)
        assert code == 0, err
        return leaderboard_sections((tmp_path / "leaderboard.md").read_text())

    return generate


def test_each_suite_is_ranked_by_its_main_score_and_says_which(published_leaderboard):
    sections = published_leaderboard()
    v3, v2 = sections["vidore-v3"], sections["vidore-v2"]
    assert v3.startswith("\nRanked by nDCG@10 (`ndcg_at_10`) ×100, the suite's main score.\n")
    assert v2.startswith("\nRanked by nDCG@5 (`ndcg_at_5`) ×100, the suite's main score.\n")
    assert value(v3, "ours", "v3-hr") == "60.00"  # our run: nDCG@10, not its 50.00 nDCG@5
    assert value(v3, SIX_LANGUAGE_MODEL, "v3-hr") == "41.72"  # published: nDCG@10 too
    assert value(v2, MTEB_MODEL_LABEL, "esg-reports-v2") == "55.00"


def test_metric_option_overrides_every_table(published_leaderboard):
    sections = published_leaderboard("--metric", "ndcg_at_5")
    v3 = sections["vidore-v3"]
    assert v3.startswith("\nRanked by nDCG@5 (`ndcg_at_5`) ×100, set with `--metric`.\n")
    assert value(v3, "ours", "v3-hr") == "50.00"
    assert value(v3, SIX_LANGUAGE_MODEL, "v3-hr") == "38.72"


def test_partial_language_coverage_is_shown_per_language_and_never_as_the_task(published_leaderboard):
    v3 = published_leaderboard()["vidore-v3"]
    label = MTEB_MODEL_LABEL
    assert cell(v3, label, "v3-hr") == "en only"
    assert cell(v3, label, "average") == "incomplete (0/8)"
    assert cell(v3, label, "v3-hr@en").startswith("**50.47** [")  # the English value, footnoted
    assert table_row(v3, label)[0] == ""  # not ranked


def test_revision_caveats_are_footnoted_with_both_revisions(published_leaderboard):
    v2 = published_leaderboard()["vidore-v2"]
    label = MTEB_MODEL_LABEL
    value, _, mark = cell(v2, label, "esg-reports-v2").partition(" ")
    assert value == "**55.00**" and mark.startswith("[")
    footnote = next(line for line in v2.splitlines() if line.startswith(f"> {mark} "))
    assert MTEB_ESG_REVISION in footnote and OUR_ESG_REVISION in footnote
    assert cell(v2, label, "esg-reports-v2@fr").endswith(f" {mark}")
    assert not cell(v2, label, "esg-reports-human-labeled-v2").endswith(mark)  # another revision
    value, _, not_recorded = cell(v2, "bm25", "esg-reports-v2").partition(" ")
    assert value == "45.22" and not_recorded != mark
    assert f"> {not_recorded} {REVISION_NOT_RECORDED}" in v2


def test_ocr_chunk_ids_rank_in_the_chunked_suite(published_leaderboard):
    sections = published_leaderboard()
    chunked, v1 = sections["vidore-v1-ocr-chunk"], sections["vidore-v1"]
    assert value(chunked, "bm25", "tabfquad-ocr-chunk") == "46.51"
    assert "OCR-chunk variant" not in v1
    assert cell(v1, "bm25", "infovqa") == "**62.91** [1]"  # the tesseract id: the task itself


def test_a_suite_whose_tasks_disagree_on_the_main_score_is_refused(cli, tmp_path, monkeypatch):
    for task, main_score in (("local-a", "ndcg_at_5"), ("local-b", "ndcg_at_10")):
        write_result_file(
            tmp_path / "results", "mine", task, [0.5] * 10, suite="my-suite", main_score=main_score
        )
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("leaderboard", "results", "--no-plots")
    assert code == 2
    assert "suite 'my-suite': its tasks have different main scores" in err
    assert "ndcg_at_10: local-b; ndcg_at_5: local-a" in err and "--metric" in err
    assert cli("leaderboard", "results", "--no-plots", "--metric", "ndcg_at_5")[0] == 0
