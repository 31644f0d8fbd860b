"""BEIR layout: a folder shaped like a ViDoRe v3 hub repository (int ids, `_` columns,
six-language queries, graded qrels, `markdown` page text)."""

import json

import pytest

from benchmark.core.errors import TaskDataError
from benchmark.tasks import load_task
from benchmark.tasks.catalog import resolve_task
from tests.conftest import make_beir_folder, png_bytes, write_spec

MARKDOWN = [
    "quarterly revenue grew by ten percent",
    "le chiffre d'affaires trimestriel a augmenté",
    "employee headcount and hiring plans",
]


def v3_like(folder, qrels_scores=(2, 1, 2), extra_qrel=None, drop_corpus_column=None):
    corpus = {
        "corpus_id": [0, 1, 2],
        "image": [{"bytes": png_bytes(text[:15]), "path": None} for text in MARKDOWN],
        "doc_id": ["report"] * 3,
        "markdown": MARKDOWN,
        "page_number_in_doc": [0, 1, 2],
    }
    if drop_corpus_column:
        del corpus[drop_corpus_column]
    queries = {
        "query_id": [10, 11, 12],
        "query": [
            "how much did revenue grow?",
            "combien le chiffre d'affaires a-t-il augmenté ?",
            "hiring plans?",
        ],
        "language": ["english", "french", "english"],
    }
    qrels = {
        "query_id": [10, 10, 11, 12],
        "corpus_id": [0, 1, 1, 2],
        "score": [qrels_scores[0], 1, qrels_scores[1], qrels_scores[2]],
    }
    if extra_qrel:
        for key, value in extra_qrel.items():
            qrels[key].append(value)
    return make_beir_folder(folder, corpus, queries, qrels)


def spec_for(tmp_path, folder, **extra):
    return write_spec(
        tmp_path / "v3.toml",
        name="mini-v3",
        suite="test",
        description="v3-shaped fixture",
        format="beir",
        path=str(folder),
        languages=["en", "fr"],
        page_text_column="markdown",
        **extra,
    )


def test_loads_graded_qrels_and_integer_ids(tmp_path):
    spec = resolve_task(str(spec_for(tmp_path, v3_like(tmp_path / "data"))))
    task = load_task(spec, need_page_text=True)
    assert task.corpus.ids == ("0", "1", "2")
    assert task.qrels == {"10": {"0": 2, "1": 1}, "11": {"1": 1}, "12": {"2": 2}}
    assert [query.language for query in task.queries] == ["en", "fr", "en"]
    assert task.corpus.texts == tuple(MARKDOWN)


def test_language_variant_keeps_only_its_queries_and_qrels(tmp_path):
    spec = resolve_task(str(spec_for(tmp_path, v3_like(tmp_path / "data"))))
    task = load_task(spec.for_language("fr"))
    assert [query.id for query in task.queries] == ["11"]
    assert task.qrels == {"11": {"1": 1}}
    assert task.fingerprint != load_task(spec).fingerprint


def test_graded_bm25_run_end_to_end(tmp_path, cli):
    spec = spec_for(tmp_path, v3_like(tmp_path / "data"))
    code, _, err = cli("run", "--task", spec, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "out")
    assert code == 0, err
    result = json.loads((tmp_path / "out" / "bm25-ocr" / "mini-v3.json").read_text())
    assert result["retriever"]["parameters"]["stemmer"] is None  # two languages: no single stemmer
    assert result["retriever"]["page_text"]["source"].endswith("column 'markdown'")
    # query 10 finds page 0 (grade 2) first; page 1 (grade 1) shares no word with it.
    assert result["per_query"]["10"]["ndcg_at_1"] == 1.0
    assert result["per_query"]["10"]["recall_at_100"] == pytest.approx(1.0)


def test_missing_image_column_lists_the_columns(tmp_path):
    spec = resolve_task(str(spec_for(tmp_path, v3_like(tmp_path / "data", drop_corpus_column="image"))))
    with pytest.raises(TaskDataError, match=r"config 'corpus': no image column .*'corpus_id'"):
        load_task(spec)


def test_qrels_naming_an_unknown_page_is_an_error(tmp_path):
    folder = v3_like(tmp_path / "data", extra_qrel={"query_id": 12, "corpus_id": 99, "score": 1})
    with pytest.raises(TaskDataError, match="qrels of query '12' name page '99', which is not in the corpus"):
        load_task(resolve_task(str(spec_for(tmp_path, folder))))


def test_qrels_naming_an_unknown_query_is_an_error(tmp_path):
    folder = v3_like(tmp_path / "data", extra_qrel={"query_id": 77, "corpus_id": 0, "score": 1})
    with pytest.raises(TaskDataError, match="qrels name query '77'"):
        load_task(resolve_task(str(spec_for(tmp_path, folder))))


def test_two_folders_with_one_name_do_not_share_a_cache(tmp_path):
    # datasets alone would serve the second folder from the first one's cache.
    first = v3_like(tmp_path / "a" / "data")
    second = v3_like(tmp_path / "b" / "data", qrels_scores=(1, 1, 1))
    assert load_task(resolve_task(str(spec_for(tmp_path / "a", first)))).qrels["10"]["0"] == 2
    assert load_task(resolve_task(str(spec_for(tmp_path / "b", second)))).qrels["10"]["0"] == 1


def test_published_sizes_that_differ_are_noted(tmp_path):
    spec = resolve_task(str(spec_for(tmp_path, v3_like(tmp_path / "data"), n_queries=5, n_pages=3)))
    assert load_task(spec).notes == ("the spec says 5 queries, the data has 3",)


def test_conflicting_duplicate_qrels_rows_are_named(tmp_path):
    folder = v3_like(tmp_path / "data", extra_qrel={"query_id": 10, "corpus_id": 0, "score": 0})
    with pytest.raises(
        TaskDataError, match=r"config 'qrels' row 4: query '10' and page '0' are judged 0 here and 2 in"
    ):
        load_task(resolve_task(str(spec_for(tmp_path, folder))))


def test_identical_duplicate_qrels_rows_are_fine(tmp_path):
    folder = v3_like(tmp_path / "data", extra_qrel={"query_id": 10, "corpus_id": 0, "score": 2})
    assert load_task(resolve_task(str(spec_for(tmp_path, folder)))).qrels["10"] == {"0": 2, "1": 1}


@pytest.mark.parametrize("score", [float("nan"), float("inf"), 1.5, 2.0**40])
def test_a_float_score_that_is_not_a_grade_is_named(tmp_path, score):
    folder = v3_like(tmp_path / "data", qrels_scores=(2.0, 1.0, score))
    with pytest.raises(TaskDataError, match="config 'qrels' row 3: score"):
        load_task(resolve_task(str(spec_for(tmp_path, folder))))


def test_same_ids_with_other_page_images_or_texts_have_another_fingerprint(tmp_path):
    """A folder's revision is a label; the pages' bytes say which pages were evaluated."""
    spec = resolve_task(str(spec_for(tmp_path, v3_like(tmp_path / "data"))))
    before = load_task(spec).fingerprint
    assert load_task(spec, need_page_text=True).fingerprint == before  # text and image retrievers agree
    corpus_file = tmp_path / "data" / "corpus" / "test-00000-of-00001.parquet"
    import pyarrow.parquet as pq

    table = pq.read_table(corpus_file)
    images = table.column("image").to_pylist()
    images[2] = {"bytes": png_bytes("a different page"), "path": None}
    table = table.set_column(1, "image", [images])
    pq.write_table(table, corpus_file)
    after = load_task(spec).fingerprint
    assert after != before
    texts = table.column("markdown").to_pylist()
    texts[0] = "other words"
    pq.write_table(table.set_column(3, "markdown", [texts]), corpus_file)
    assert load_task(spec).fingerprint not in (before, after)


def test_an_image_cell_that_names_a_file_is_refused_never_opened(tmp_path):
    """Data in these formats embeds its pages; a cell naming a file could point anywhere
    (`/etc/passwd`, a secret image beside the folder), so it is refused, naming the page."""
    from benchmark.core.errors import BadPageError

    outside = tmp_path / "outside.png"
    outside.write_bytes(png_bytes("a secret page"))
    spec = resolve_task(str(spec_for(tmp_path, v3_like(tmp_path / "data"))))
    corpus_file = tmp_path / "data" / "corpus" / "test-00000-of-00001.parquet"
    import pyarrow.parquet as pq

    table = pq.read_table(corpus_file)
    images = table.column("image").to_pylist()
    images[1] = {"bytes": None, "path": str(outside)}
    pq.write_table(table.set_column(1, "image", [images]), corpus_file)
    task = load_task(spec)
    assert task.corpus.images.page_pixels([1]) == [0]  # sized without opening the file
    with pytest.raises(BadPageError, match=r"page '1' .*names a file .*outside\.png.* instead of holding"):
        task.corpus.images.load([1], ["1"])
