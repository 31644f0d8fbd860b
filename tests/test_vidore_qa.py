"""ViDoRe v1 QA format: the official semantics, on a parquet fixture with DocVQA's schema."""

import json

import pytest

from benchmark.core.errors import TaskDataError
from benchmark.tasks import load_task
from benchmark.tasks.spec import load_spec_file
from tests.conftest import png_bytes, write_parquet, write_spec

# (query, image_filename): duplicates, a None query and two rows showing one page.
ROWS = [
    ("what is the total revenue?", "a.png"),
    ("who signed the letter?", "b.png"),
    ("what is the total revenue?", "c.png"),  # repeated query: dropped, but its page (last row) is relevant
    (None, "d.png"),  # no query: dropped, page stays in the corpus
    ("when was the meeting held?", "a.png"),  # second row showing page a.png
]
PAGE_TEXT = {
    "a.png": "total revenue for the year; the meeting was held in march",
    "b.png": "this letter was signed by the director",
    "c.png": "revenue forecast",
    "d.png": "an unrelated page about gardening",
}


def docvqa_columns(rows, with_text: bool = False) -> tuple[dict, dict]:
    """Columns and features of vidore/docvqa_test_subsampled (REFERENCE.md section 1)."""
    from datasets import Image, Value

    n = len(rows)
    columns = {
        "questionId": [str(i) for i in range(n)],
        "query": [query for query, _ in rows],
        "question_types": [["free_text"]] * n,
        "image": [{"bytes": png_bytes(PAGE_TEXT[name][:20]), "path": None} for _, name in rows],
        "docId": list(range(n)),
        "image_filename": [name for _, name in rows],
        "page": ["1"] * n,
        "answer": [None] * n,
        "data_split": ["test"] * n,
        "source": ["docvqa"] * n,
    }
    features = {name: Value("string") for name in columns}
    features.update(
        {
            "question_types": [Value("string")],
            "image": Image(),
            "docId": Value("int64"),
            "answer": Value("string"),
        }
    )
    if with_text:
        columns["text_description"] = [PAGE_TEXT[name] for _, name in rows]
        features["text_description"] = Value("string")
    return columns, features


@pytest.fixture
def qa_task(tmp_path):
    columns, features = docvqa_columns(ROWS)
    write_parquet(tmp_path / "qa" / "data" / "test-00000-of-00001.parquet", columns, features)
    columns, features = docvqa_columns(ROWS, with_text=True)
    write_parquet(tmp_path / "qa_tesseract" / "data" / "test-00000-of-00001.parquet", columns, features)
    return write_spec(
        tmp_path / "qa.toml",
        name="mini-docvqa",
        suite="test",
        description="DocVQA-shaped fixture",
        format="vidore-qa",
        path="qa",
        languages=["en"],
        text_dataset=str(tmp_path / "qa_tesseract"),
        page_text_column="text_description",
    )


def test_official_semantics(qa_task):
    task = load_task(load_spec_file(qa_task))
    assert [(query.id, query.text) for query in task.queries] == [
        ("q0", "what is the total revenue?"),
        ("q1", "who signed the letter?"),
        ("q4", "when was the meeting held?"),
    ]
    # the official evaluator's `queries2filename` keeps the last row of a repeated query
    assert task.qrels == {"q0": {"c.png": 1}, "q1": {"b.png": 1}, "q4": {"a.png": 1}}
    assert len(task.corpus) == 5  # every row is a passage
    assert task.corpus.n_pages == 4
    assert task.corpus.qrels_ids == ("a.png", "b.png", "c.png", "d.png", "a.png")
    assert any("1 rows without a query" in note for note in task.notes)
    assert any("1 repeated queries dropped" in note for note in task.notes)
    assert any("1 repeated queries judged against their last row's page" in note for note in task.notes)
    assert task.corpus.texts is None  # not asked for


def test_page_text_joined_from_the_tesseract_twin(qa_task):
    task = load_task(load_spec_file(qa_task), need_page_text=True)
    assert task.corpus.texts[4] == PAGE_TEXT["a.png"]
    assert task.corpus.text_source.endswith("column 'text_description'")


def test_bm25_run_merges_rows_into_pages(qa_task, cli, tmp_path):
    code, _, err = cli("run", "--task", qa_task, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "out")
    assert code == 0, err
    result = json.loads((tmp_path / "out" / "bm25-ocr" / "mini-docvqa.json").read_text())
    assert result["task"]["n_queries"] == 3 and result["task"]["n_pages"] == 4
    assert result["task"]["n_corpus_entries"] == 5
    trec = (tmp_path / "out" / "bm25-ocr" / "mini-docvqa.trec").read_text().splitlines()
    q0 = [line.split() for line in trec if line.startswith("q0 ")]
    assert q0[0][2] == "a.png"
    assert sorted(row[2] for row in q0) == ["a.png", "b.png", "c.png", "d.png"]  # each page once
    # each query's own page is its best BM25 match, but q0's relevant page is the last row's (c.png)
    assert result["per_query"]["q0"]["ndcg_at_1"] == 0.0
    assert result["per_query"]["q1"]["ndcg_at_1"] == result["per_query"]["q4"]["ndcg_at_1"] == 1.0


def test_missing_column_is_named(tmp_path):
    columns, features = docvqa_columns(ROWS)
    del columns["image_filename"], features["image_filename"]
    write_parquet(tmp_path / "qa" / "data" / "test-00000-of-00001.parquet", columns, features)
    spec = write_spec(
        tmp_path / "qa.toml",
        name="broken",
        suite="t",
        description="d",
        format="vidore-qa",
        path="qa",
        languages=["en"],
    )
    with pytest.raises(TaskDataError, match="no image_filename column .* its columns are"):
        load_task(load_spec_file(spec))
