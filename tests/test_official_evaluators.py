"""pagebench against the official evaluators' own code, on the same data and scores.

vidore-benchmark 5.0.0 (`ViDoReEvaluatorQA`, `ViDoReEvaluatorBEIR`) and MTEB 2.x
(`calculate_retrieval_scores`) run in virtual environments of their own
(`tests/official`), on parquet fixtures with the real column schemas, through a
retriever whose scores the test fixes: negative, tied and bfloat16-rounded scores,
repeated and `None` queries, one page on several rows. pagebench, under the matching
`--protocol`, must report the same value for every metric at every cutoff.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.vocabulary import METRIC_NAMES
from benchmark.retrievers.base import EncodedQueries
from benchmark.run.evaluate import evaluate
from benchmark.run.settings import RunSettings
from benchmark.tasks import load_task
from benchmark.tasks.spec import load_spec_file
from tests.conftest import make_beir_folder, png_bytes, write_parquet, write_spec
from tests.official import HERE, official_python

TOLERANCE = 1e-6
# A few values, some negative, many equal: ties everywhere, and every one a bfloat16.
SCORE_GRID = np.array([-1.5, -0.5, -0.125, 0.0, 0.25, 0.5, 0.75, 1.0, 19.125, 19.25], dtype=np.float32)

# (query, image_filename), as in a ViDoRe v1 QA dataset: a query on several rows (its
# last row's page is the relevant one), rows without a query, a page on several rows.
QA_ROWS = [
    ("what does the chart show?", "a.png"),
    ("who signed the letter?", "b.png"),
    ("what does the chart show?", "c.png"),
    (None, "d.png"),
    ("when was the meeting?", "a.png"),
    ("where is the plant?", "e.png"),
    (None, "f.png"),
    ("which year had the most revenue?", "g.png"),
    ("how many employees?", "b.png"),
    ("what does the chart show?", "h.png"),
    ("why did costs rise?", "i.png"),
    ("when was the meeting?", "j.png"),
    ("what is the total?", "k.png"),
    ("what is the total?", "k.png"),
]


def score_table(texts: list[str], n_rows: int, seed: int) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    table = {text: [float(score) for score in rng.choice(SCORE_GRID, size=n_rows)] for text in texts}
    table[texts[0]] = [-1.5] * n_rows  # all negative: flooring, and the first page's exemption
    table[texts[1]] = [0.0] * n_rows  # all tied
    return table


class FixedScores:
    """A retriever whose score for (query text, corpus entry) is the table's, by entry position."""

    name = "fixed-scores"
    page_input = "image"

    def __init__(self, table: dict[str, list[float]]):
        self.table = table
        self.entry_ids: list[str] = []

    def describe(self) -> dict:
        return {"device": "cpu"}

    def begin_index(self, languages) -> None:  # noqa: ARG002 (the Retriever protocol)
        self.entry_ids = []

    def add_pages(self, batch) -> None:
        self.entry_ids.extend(batch.ids)

    def finish_index(self) -> None:
        pass

    def encode_queries(self, queries) -> EncodedQueries:
        return EncodedQueries(ids=[query.id for query in queries], payload=[query.text for query in queries])

    def search(self, encoded: EncodedQueries, top_k: int):  # noqa: ARG002 (the Retriever protocol)
        # every entry, as the official evaluators score every one; pagebench ranks them
        return {
            query_id: list(zip(self.entry_ids, self.table[text], strict=True))
            for query_id, text in zip(encoded.ids, encoded.payload, strict=True)
        }

    def index_nbytes(self) -> int | None:
        return None


def official_metrics(tool: str, environment: str, dataset: Path, table: dict, tmp_path: Path) -> dict:
    request = tmp_path / f"{tool}-request.json"
    request.write_text(json.dumps({"tool": tool, "dataset": str(dataset), "scores": table}), encoding="utf-8")
    completed = subprocess.run(
        [str(official_python(environment)), str(HERE / "score_with_official_tools.py"), str(request)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def pagebench_metrics(spec_path: Path, table: dict, protocol: str) -> dict:
    task = load_task(load_spec_file(spec_path))
    settings = RunSettings(cache_dir=None, show_progress=False, latency_queries=0, protocol=protocol)
    return evaluate(task, FixedScores(table), settings).document.metrics


def differences(ours: dict, official: dict) -> dict:
    """Every pagebench metric whose official value differs by more than TOLERANCE."""
    assert set(METRIC_NAMES) <= set(official)
    return {
        name: (ours[name], official[name])
        for name in METRIC_NAMES
        if abs(ours[name] - official[name]) > TOLERANCE
    }


def print_table(label: str, ours: dict, official: dict) -> None:
    """The side-by-side table the issue note quotes (shown with pytest -s)."""
    print(f"\n{label}: metric, pagebench, official, |difference|")
    for name in METRIC_NAMES:
        print(f"  {name:<16} {ours[name]:.6f} {official[name]:.6f} {abs(ours[name] - official[name]):.1e}")


@pytest.fixture
def qa_dataset(tmp_path) -> tuple[Path, Path, dict]:
    from datasets import Image, Value

    n = len(QA_ROWS)
    columns = {
        "questionId": [str(row) for row in range(n)],
        "query": [query for query, _ in QA_ROWS],
        "image": [{"bytes": png_bytes(name), "path": None} for _, name in QA_ROWS],
        "docId": list(range(n)),
        "image_filename": [name for _, name in QA_ROWS],
        "page": ["1"] * n,
        "answer": [None] * n,
        "source": ["fixture"] * n,
    }
    features = {name: Value("string") for name in columns} | {"image": Image(), "docId": Value("int64")}
    folder = tmp_path / "qa"
    write_parquet(folder / "data" / "test-00000-of-00001.parquet", columns, features)
    spec = write_spec(
        tmp_path / "qa.toml",
        name="official-qa",
        suite="test",
        description="ViDoRe v1 QA fixture",
        format="vidore-qa",
        path=str(folder),
        languages=["en"],
    )
    texts = list(dict.fromkeys(query for query, _ in QA_ROWS if query is not None))
    return folder, spec, score_table(texts, n, seed=1)


@pytest.fixture
def beir_dataset(tmp_path) -> tuple[Path, Path, dict]:
    return make_beir_dataset(tmp_path)


@pytest.fixture
def faulty_beir_dataset(tmp_path) -> tuple[Path, Path, dict]:
    """A hub dataset whose qrels name pages missing from the corpus and a query missing
    from the queries: the official tools score it, and so does pagebench."""
    return make_beir_dataset(tmp_path, faults=True)


def make_beir_dataset(tmp_path: Path, *, faults: bool = False) -> tuple[Path, Path, dict]:
    n_pages = 16
    corpus = {
        "corpus-id": list(range(n_pages)),
        "image": [{"bytes": png_bytes(f"page {page}"), "path": None} for page in range(n_pages)],
    }
    texts = [f"question number {query}" for query in range(9)]
    queries = {"query-id": list(range(len(texts))), "query": texts}
    rng = np.random.default_rng(2)
    qrels = {"query-id": [], "corpus-id": [], "score": []}
    for query in range(len(texts)):
        for page in rng.choice(n_pages, size=3, replace=False):
            qrels["query-id"].append(query)
            qrels["corpus-id"].append(int(page))
            qrels["score"].append(int(rng.integers(0, 3)))  # graded, 0 included
    if faults:  # pages 90 and 91 and query 50 exist nowhere else
        for query, page, score in [(0, 90, 2), (1, 91, 1), (2, 90, 0), (50, 3, 1)]:
            qrels["query-id"].append(query)
            qrels["corpus-id"].append(page)
            qrels["score"].append(score)
    folder = make_beir_folder(tmp_path / "beir", corpus, queries, qrels)
    # a hub dataset id (a folder here: datasets reads both alike) makes faults evaluable
    source = {"dataset": str(folder), "revision": "0" * 40} if faults else {"path": str(folder)}
    spec = write_spec(
        tmp_path / "beir.toml",
        name="official-beir",
        suite="test",
        description="ViDoRe v2 BEIR fixture",
        format="beir",
        languages=["en"],
        **source,
    )
    return folder, spec, score_table(texts, n_pages, seed=3)


@pytest.mark.parametrize(
    ("tool", "environment", "dataset", "protocol"),
    [
        ("vidore-qa", "vidore", "qa_dataset", "vidore"),  # ViDoReEvaluatorQA
        ("vidore-beir", "vidore", "beir_dataset", "vidore"),  # ViDoReEvaluatorBEIR
        ("mteb", "mteb", "beir_dataset", "mteb"),  # MTEB's calculate_retrieval_scores
        ("vidore-beir", "vidore", "faulty_beir_dataset", "vidore"),
        ("mteb", "mteb", "faulty_beir_dataset", "mteb"),
    ],
)
def test_each_protocol_matches_its_official_evaluator(
    tool, environment, dataset, protocol, request, tmp_path
):
    folder, spec, table = request.getfixturevalue(dataset)
    official = official_metrics(tool, environment, folder, table, tmp_path)
    ours = pagebench_metrics(spec, table, protocol)
    print_table(tool, ours, official)
    assert not differences(ours, official)


def test_the_default_protocol_differs_where_the_official_semantics_do(qa_dataset, tmp_path):
    """Guards the test itself: without the vidore semantics the numbers do not match."""
    folder, spec, table = qa_dataset
    official = official_metrics("vidore-qa", "vidore", folder, table, tmp_path)
    assert differences(pagebench_metrics(spec, table, "pagebench"), official)


# (query, image_filename, text_description), as in a `*_ocr_chunk` dataset: no image
# column, a page cut into several chunks (one row each), pages of one chunk, a chunk
# text on two pages, queries on a few rows only.
CHUNK_ROWS = [
    ("what does the chart show?", "a.png", "a chart of sales by region"),
    (None, "a.png", "sales rose in the north"),
    (None, "a.png", "footnote: figures unaudited"),
    ("who signed the letter?", "b.png", "signed by the director"),
    (None, "c.png", "footnote: figures unaudited"),
    ("when was the meeting?", "c.png", "the meeting was held in march"),
    ("what does the chart show?", "d.png", "a pie chart of costs"),
    (None, "d.png", "costs fell"),
    ("where is the plant?", "e.png", "the plant is in lyon"),
    ("how many employees?", "e.png", "we employ 300 people"),
    (None, "e.png", "contact details"),
]


class FixedTextScores(FixedScores):
    """A text retriever whose score for (query text, entry) is the table's, by the entry's text."""

    page_input = "text"

    def begin_index(self, languages) -> None:  # noqa: ARG002 (the Retriever protocol)
        self.entry_ids, self.entry_texts = [], []

    def add_pages(self, batch) -> None:
        self.entry_ids.extend(batch.ids)
        self.entry_texts.extend(batch.texts)

    def search(self, encoded: EncodedQueries, top_k: int):  # noqa: ARG002 (the Retriever protocol)
        return {
            query_id: [
                (entry, self.table[text][chunk])
                for entry, chunk in zip(self.entry_ids, self.entry_texts, strict=True)
            ]
            for query_id, text in zip(encoded.ids, encoded.payload, strict=True)
        }


@pytest.fixture
def qa_chunk_dataset(tmp_path) -> tuple[Path, Path, dict]:
    from datasets import Value

    n = len(CHUNK_ROWS)
    columns = {
        "questionId": [str(row) for row in range(n)],
        "query": [query for query, _, _ in CHUNK_ROWS],
        "docId": list(range(n)),
        "image_filename": [name for _, name, _ in CHUNK_ROWS],
        "page": ["1"] * n,
        "answer": [None] * n,
        "source": ["fixture"] * n,
        "text_description": [chunk for _, _, chunk in CHUNK_ROWS],
    }
    features = {name: Value("string") for name in columns} | {"docId": Value("int64")}
    folder = tmp_path / "qa_ocr_chunk"
    write_parquet(folder / "data" / "test-00000-of-00001.parquet", columns, features)
    spec = write_spec(
        tmp_path / "qa_ocr_chunk.toml",
        name="official-qa-ocr-chunk",
        suite="test",
        description="ViDoRe v1 OCR-chunk fixture",
        format="vidore-qa",
        path=str(folder),
        languages=["en"],
        page_text_column="text_description",
    )
    queries = list(dict.fromkeys(query for query, _, _ in CHUNK_ROWS if query is not None))
    chunks = list(dict.fromkeys(chunk for _, _, chunk in CHUNK_ROWS))
    by_position = score_table(queries, len(chunks), seed=4)  # flooring, ties, bfloat16 values
    table = {query: dict(zip(chunks, scores, strict=True)) for query, scores in by_position.items()}
    return folder, spec, table


def test_vidore_protocol_matches_the_official_evaluator_with_a_text_retriever_on_chunks(
    qa_chunk_dataset, tmp_path
):
    """ViDoReEvaluatorQA with `use_visual_embedding=False` embeds each row's `text_description`
    and scores a page by its best row: pagebench, fed each row's own chunk, must agree."""
    folder, spec, table = qa_chunk_dataset
    official = official_metrics("vidore-qa-text", "vidore", folder, table, tmp_path)
    task = load_task(load_spec_file(spec), need_page_text=True)
    settings = RunSettings(cache_dir=None, show_progress=False, latency_queries=0, protocol="vidore")
    ours = evaluate(task, FixedTextScores(table), settings).document.metrics
    print_table("vidore-qa-text", ours, official)
    assert not differences(ours, official)
