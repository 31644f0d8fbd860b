"""ViDoRe v1 `*_ocr_chunk` data: several text chunks of a page, one row each, and no image
column; every chunk is a corpus entry and a page is scored by its best chunk, as the
official evaluator does with a text retriever. Also: `_tesseract` twins that hold several
texts for one page, rows without text, and the bundled `vidore-v1-ocr-chunk` suite."""

import json

import pytest

from benchmark.core.errors import TaskDataError
from benchmark.retrievers.base import EncodedQueries
from benchmark.run.evaluate import evaluate
from benchmark.run.settings import RunSettings
from benchmark.tasks import load_task
from benchmark.tasks.catalog import specs_in_suite
from benchmark.tasks.spec import load_spec_file
from tests.conftest import png_bytes, write_parquet, write_spec

# (query, image_filename, text_description). Page a.png is cut into three chunks, c.png
# into two, b.png is one chunk; the queries on a.png and c.png match a chunk of their
# page other than its first, so reading only a page's first chunk misses them.
ROWS = [
    (None, "a.png", "annual report of the company"),
    ("which river floods the valley each spring?", "a.png", "the river floods the valley each spring"),
    (None, "a.png", "the board approved the dividend in march"),
    ("who signed the letter to the shareholders?", "b.png", "the letter to the shareholders was signed"),
    (None, "c.png", "gardening tips for tomatoes"),
    ("which plants need full sun?", "c.png", "tomatoes need full sun"),
]
CHUNKS = [chunk for _, _, chunk in ROWS]


def chunk_columns(rows, *, with_images: bool) -> tuple[dict, dict]:
    """The QA columns (DocVQA's, REFERENCE.md section 1) with one row per text chunk."""
    from datasets import Image, Value

    n = len(rows)
    columns = {
        "questionId": [str(i) for i in range(n)],
        "query": [query for query, _, _ in rows],
        "docId": list(range(n)),
        "image_filename": [name for _, name, _ in rows],
        "page": ["1"] * n,
        "answer": [None] * n,
        "source": ["docvqa"] * n,
        "text_description": [chunk for _, _, chunk in rows],
    }
    features = {name: Value("string") for name in columns} | {"docId": Value("int64")}
    if with_images:
        columns["image"] = [{"bytes": png_bytes(name), "path": None} for _, name, _ in rows]
        features["image"] = Image()
    return columns, features


def chunk_task(folder, rows=ROWS, *, with_images: bool = False, **spec_fields):
    write_parquet(
        folder / "data" / "data" / "test-00000-of-00001.parquet",
        *chunk_columns(rows, with_images=with_images),
    )
    fields = {"page_text_column": "text_description"} | spec_fields
    return write_spec(
        folder / "task.toml",
        name="mini-ocr-chunk",
        suite="test",
        description="an _ocr_chunk-shaped fixture; text retrievers only",
        format="vidore-qa",
        path="data",
        languages=["en"],
        **{key: value for key, value in fields.items() if value is not None},
    )


class ChunkScores:
    """A text retriever scoring an entry by its text alone (a fixed table), to watch the merge."""

    name = "chunk-scores"
    page_input = "text"

    def __init__(self, table: dict[str, float]):
        self.table = table

    def describe(self) -> dict:
        return {}

    def begin_index(self, languages) -> None:  # noqa: ARG002 (the Retriever protocol)
        self.entries = []

    def add_pages(self, batch) -> None:
        self.entries.extend(zip(batch.ids, batch.texts, strict=True))

    def finish_index(self) -> None:
        pass

    def encode_queries(self, queries) -> EncodedQueries:
        return EncodedQueries(ids=[query.id for query in queries], payload=None)

    def search(self, encoded: EncodedQueries, top_k: int):  # noqa: ARG002 (the Retriever protocol)
        run = [(entry, self.table[text]) for entry, text in self.entries]
        return {query_id: run for query_id in encoded.ids}

    def index_nbytes(self) -> int | None:
        return None


@pytest.mark.parametrize("with_images", [False, True])
def test_every_chunk_is_an_entry_with_its_own_text(tmp_path, with_images):
    task = load_task(load_spec_file(chunk_task(tmp_path, with_images=with_images)), need_page_text=True)
    assert task.corpus.texts == tuple(CHUNKS)  # not the first chunk of each page on every row
    assert task.corpus.qrels_ids == ("a.png", "a.png", "a.png", "b.png", "c.png", "c.png")
    assert (len(task.corpus), task.corpus.n_pages) == (6, 3)
    assert task.corpus.text_source == "data column 'text_description'"
    assert task.qrels == {"q1": {"a.png": 1}, "q3": {"b.png": 1}, "q5": {"c.png": 1}}
    assert not any("take the first text" in note for note in task.notes)


def test_a_page_scores_as_its_best_chunk(tmp_path):
    task = load_task(load_spec_file(chunk_task(tmp_path)), need_page_text=True)
    table = dict(zip(CHUNKS, [0.125, 0.875, 0.25, 0.5, 0.375, 0.75], strict=True))
    settings = RunSettings(cache_dir=None, show_progress=False, latency_queries=0)
    result = evaluate(task, ChunkScores(table), settings)
    assert result.ranked["q1"] == [("a.png", 0.875), ("c.png", 0.75), ("b.png", 0.5)]


def test_bm25_ranks_pages_by_their_best_chunk(tmp_path, cli):
    spec = chunk_task(tmp_path)
    code, _, err = cli("run", "--task", spec, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "out")
    assert code == 0, err
    result = json.loads((tmp_path / "out" / "bm25-ocr" / "mini-ocr-chunk.json").read_text())
    assert result["task"]["n_corpus_entries"] == 6 and result["task"]["n_pages"] == 3
    assert result["retriever"]["page_text"]["source"] == "data column 'text_description'"
    # every query's page comes first, though q1's and q5's words are in a later chunk
    assert {query: values["ndcg_at_1"] for query, values in result["per_query"].items()} == {
        "q1": 1.0,
        "q3": 1.0,
        "q5": 1.0,
    }
    trec = (tmp_path / "out" / "bm25-ocr" / "mini-ocr-chunk.trec").read_text().splitlines()
    q5 = [line.split() for line in trec if line.startswith("q5 ")]
    assert [row[2] for row in q5] == ["c.png", "b.png", "a.png"]  # each page once, ties by id descending


def test_without_an_image_column_an_image_retriever_is_told_why(tmp_path, cli, checkpoints):
    spec = chunk_task(tmp_path)
    with pytest.raises(
        TaskDataError, match=r"task 'mini-ocr-chunk': .* no 'image' column, so only a text retriever"
    ):
        load_task(load_spec_file(spec))
    code, _, err = cli(
        "run", "--task", spec, "--retriever", "colpali", "--checkpoint", checkpoints["colpali"],
        "--output-dir", tmp_path / "out",
    )  # fmt: skip
    assert code == 2 and "task 'mini-ocr-chunk'" in err and "no 'image' column" in err


def test_without_images_or_a_text_column_there_is_nothing_to_read(tmp_path):
    spec = chunk_task(tmp_path, page_text_column=None)
    with pytest.raises(TaskDataError, match="no 'image' column and the spec names no page_text_column"):
        load_task(load_spec_file(spec), need_page_text=True)


def test_a_page_image_asked_of_data_without_images_is_a_clear_error(tmp_path):
    task = load_task(load_spec_file(chunk_task(tmp_path)), need_page_text=True)
    with pytest.raises(TaskDataError, match=r"task 'mini-ocr-chunk': .* no 'image' column: page 'row2'"):
        task.corpus.images.load([2], ["row2"])


def test_a_row_without_text_takes_its_pages_first(tmp_path):
    rows = [*ROWS[:2], (None, "a.png", None), *ROWS[3:]]
    task = load_task(load_spec_file(chunk_task(tmp_path, rows)), need_page_text=True)
    assert task.corpus.texts[:3] == (CHUNKS[0], CHUNKS[1], CHUNKS[0])
    assert "1 rows without text in column 'text_description' take the first text of their page" in task.notes
    rows = [*ROWS[:3], (None, "b.png", None), *ROWS[4:]]  # b.png has no text at all
    with pytest.raises(TaskDataError, match="no page text for image_filename 'b.png'"):
        load_task(load_spec_file(chunk_task(tmp_path / "none", rows)), need_page_text=True)


def test_a_tesseract_twin_with_several_texts_for_a_page_is_noted(tmp_path):
    """A twin is joined by filename: one text per page, and the others are counted, not hidden."""
    twin = tmp_path / "twin"
    write_parquet(twin / "data" / "test-00000-of-00001.parquet", *chunk_columns(ROWS, with_images=False))
    spec = chunk_task(tmp_path, with_images=True, text_dataset=str(twin))
    task = load_task(load_spec_file(spec), need_page_text=True)
    assert task.corpus.texts == (CHUNKS[0],) * 3 + (CHUNKS[3],) + (CHUNKS[4],) * 2
    assert any(note.startswith("2 pages have several different texts in") for note in task.notes)
    assert task.corpus.text_source == f"{twin} column 'text_description'"


def test_the_bundled_suite_mirrors_vidore_v1():
    """Each v1 task has its chunked twin: same data sizes and score, the `_ocr_chunk` dataset,
    each row's own text (no `_tesseract` join), and a description that says text only."""
    v1 = {spec.name: spec for spec in specs_in_suite("vidore-v1")}
    chunked = specs_in_suite("vidore-v1-ocr-chunk")
    assert sorted(spec.name for spec in chunked) == sorted(f"{name}-ocr-chunk" for name in v1)
    for spec in chunked:
        original = v1[spec.name.removesuffix("-ocr-chunk")]
        assert spec.format == "vidore-qa" and spec.dataset == f"{original.dataset}_ocr_chunk"
        assert (spec.languages, spec.n_queries, spec.n_pages, spec.main_score, spec.revision) == (
            original.languages,
            original.n_queries,
            original.n_pages,
            original.main_score,
            original.revision,
        )
        assert spec.page_text_column == "text_description" and spec.text_dataset is None
        assert "text retrievers only" in spec.description
