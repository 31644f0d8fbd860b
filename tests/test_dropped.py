"""Faulty hub data is evaluated, with what was dropped recorded; `--strict` and local data refuse it.

The fixtures are parquet folders in the hub formats, named by the spec as a hub
`dataset` (what decides the rule), with every fault the official tools go on through:
a judgement of a page not in the corpus, qrels of an unknown query, empty query text,
and QA rows without an image_filename.
"""

import json

import pytest

from benchmark.core.errors import TaskDataError
from benchmark.results.schema import DROPPED_IDS_KEPT
from benchmark.tasks import load_task
from benchmark.tasks.catalog import resolve_task
from benchmark.tasks.spec import load_spec_file
from tests.conftest import (
    make_beir_folder,
    make_local_folder,
    page_image,
    png_bytes,
    write_parquet,
    write_spec,
)

REVISION = "0123456789abcdef0123456789abcdef01234567"
PAGES = {"p1": "zebra giraffe savanna", "p2": "volcano lava eruption", "p3": "piano violin orchestra"}
QUERIES = {"q1": "where is the zebra", "q2": "", "q3": "   ", "q4": "lava from a volcano"}
QRELS = [("q1", "p1", 1), ("q1", "pX", 1), ("q2", "p2", 1), ("q3", "p3", 1), ("q4", "p2", 1)]
UNKNOWN_QUERIES = [f"ghost{n:02d}" for n in range(DROPPED_IDS_KEPT + 2)]  # more than the file keeps


def beir_folder(folder, queries=QUERIES, qrels=QRELS):
    return make_beir_folder(
        folder,
        corpus={
            "corpus-id": list(PAGES),
            "image": [{"bytes": png_bytes(), "path": None} for _ in PAGES],
            "text": list(PAGES.values()),
        },
        queries={"query-id": list(queries), "query": list(queries.values())},
        qrels={
            "query-id": [query for query, _, _ in qrels],
            "corpus-id": [page for _, page, _ in qrels],
            "score": [score for _, _, score in qrels],
        },
    )


def beir_spec(tmp_path, folder, *, hub: bool = True):
    source = {"dataset": str(folder), "revision": REVISION} if hub else {"path": str(folder)}
    return write_spec(
        tmp_path / f"{folder.name}.toml",
        name="faulty-beir",
        suite="test",
        description="BEIR data with faults",
        format="beir",
        languages=["en"],
        page_text_column="text",
        **source,
    )


@pytest.fixture
def hub_beir(tmp_path):
    qrels = QRELS + [(ghost, "p3", 1) for ghost in UNKNOWN_QUERIES]
    return beir_spec(tmp_path, beir_folder(tmp_path / "hub-beir", qrels=qrels))


# (query, image_filename): an empty query, rows without a filename (one the last row of
# a query repeated on a named row, one a query's only row), a None filename.
QA_ROWS = [
    ("where is the zebra", "a.png"),
    ("   ", "b.png"),
    ("lava from a volcano", ""),
    (None, None),
    ("piano and violin", "c.png"),
    ("lava from a volcano", "d.png"),
    ("what about gardening", ""),
]
QA_TEXT = {"a.png": "zebra", "b.png": "nothing", "c.png": "piano violin", "d.png": "lava volcano", "": "x"}


def qa_spec(tmp_path, rows=QA_ROWS, *, hub: bool = True):
    from datasets import Image, Value

    folder = tmp_path / "hub-qa"
    columns = {
        "query": [query for query, _ in rows],
        "image": [{"bytes": png_bytes(f"row {row}"), "path": None} for row in range(len(rows))],
        "image_filename": [name for _, name in rows],
        "text_description": [QA_TEXT[name or ""] for _, name in rows],
    }
    features = {name: Value("string") for name in columns} | {"image": Image()}
    write_parquet(folder / "data" / "test-00000-of-00001.parquet", columns, features)
    source = {"dataset": str(folder), "revision": REVISION} if hub else {"path": str(folder)}
    return write_spec(
        tmp_path / "qa.toml",
        name="faulty-qa",
        suite="test",
        description="QA data with faults",
        format="vidore-qa",
        languages=["en"],
        page_text_column="text_description",
        **source,
    )


def run_json(cli, spec, output_dir, *extra):
    code, _, err = cli("run", "--task", spec, "--retriever", "bm25-ocr", "--output-dir", output_dir, *extra)
    assert code == 0, err
    name = load_spec_file(spec).name
    return json.loads((output_dir / "bm25-ocr" / f"{name}.json").read_text()), err


def test_hub_beir_faults_are_evaluated_and_recorded(hub_beir, cli, tmp_path):
    result, err = run_json(cli, hub_beir, tmp_path / "out")
    assert sorted(result["per_query"]) == ["q1", "q4"]
    dropped = {record["kind"]: record for record in result["task"]["dropped"]}
    assert {kind: record["count"] for kind, record in dropped.items()} == {
        "empty-query-text": 2,
        "qrels-unknown-query": len(UNKNOWN_QUERIES),
        "qrels-unknown-page": 1,
    }
    assert dropped["empty-query-text"]["first_ids"] == ["q2", "q3"]
    assert dropped["qrels-unknown-query"]["first_ids"] == UNKNOWN_QUERIES[:DROPPED_IDS_KEPT]
    assert dropped["qrels-unknown-page"]["first_ids"] == ["q1 -> pX"]
    # As in vidore-benchmark and MTEB, the judgement of the missing page stays: p1 comes
    # first, but pX, which no retriever can return, is in the ideal ranking.
    assert result["per_query"]["q1"]["recall_at_5"] == 0.5
    assert result["per_query"]["q1"]["ndcg_at_5"] == pytest.approx(1 / (1 + 1 / 1.5849625007211562))
    assert "q1 0 pX 1" in (tmp_path / "out" / "bm25-ocr" / "faulty-beir.qrels").read_text()
    assert "evaluated despite faulty data: 2 empty-query-text, 12 qrels-unknown-query" in err
    assert "warning: task 'faulty-beir': 2 queries with empty text" in err


def test_hub_qa_rows_without_a_filename_are_left_out(tmp_path, cli):
    spec = qa_spec(tmp_path)
    result, err = run_json(cli, spec, tmp_path / "out")
    task = load_task(load_spec_file(spec))
    assert task.corpus.ids == ("row0", "row1", "row4", "row5")
    assert task.corpus.qrels_ids == ("a.png", "b.png", "c.png", "d.png")
    # q2's text is on a row without a filename first, but its last row (the relevant one) is named
    assert task.qrels == {"q0": {"a.png": 1}, "q2": {"d.png": 1}, "q4": {"c.png": 1}}
    [image] = task.corpus.images.load([3], ["row5"])  # corpus position 3 shows dataset row 5
    assert image.tobytes() == page_image("row 5").tobytes()
    assert any("1 queries left out" in note and "'q6'" in note for note in task.notes)
    records = {record["kind"]: record for record in result["task"]["dropped"]}
    assert records["empty-image-filename"]["first_ids"] == ["row 2", "row 3", "row 6"]
    assert records["empty-query-text"]["first_ids"] == ["q1"]
    assert sorted(result["per_query"]) == ["q0", "q2", "q4"]
    assert result["task"]["n_corpus_entries"] == 4
    assert "3 empty-image-filename, 1 empty-query-text" in err


FAULTS = [  # BEIR queries, qrels, the error; one fault each
    pytest.param(
        {"q1": "zebra", "q2": " "},
        [("q1", "p1", 1)],
        r"config 'queries' row 1: query 'q2' has empty text",
        id="empty text",
    ),
    pytest.param(
        {"q1": "zebra"},
        [("q1", "p1", 1), ("q9", "p2", 1)],
        r"config 'qrels' row 1: qrels name query 'q9', which is not among the queries",
        id="unknown query",
    ),
    pytest.param(
        {"q1": "zebra"},
        [("q1", "p1", 1), ("q1", "pX", 2)],
        r"config 'qrels' row 1: qrels of query 'q1' name page 'pX', which is not in the corpus",
        id="unknown page",
    ),
]


@pytest.mark.parametrize(("queries", "qrels", "message"), FAULTS)
def test_strict_refuses_each_fault_naming_row_and_id(tmp_path, queries, qrels, message):
    spec = load_spec_file(beir_spec(tmp_path, beir_folder(tmp_path / "one-fault", queries, qrels)))
    assert load_task(spec).dropped  # leniently: evaluated, recorded
    with pytest.raises(TaskDataError, match=message + r".*without --strict"):
        load_task(spec, strict=True)


def test_strict_refuses_a_qa_row_without_filename(tmp_path, cli):
    spec = qa_spec(tmp_path)
    code, _, err = cli("run", "--task", spec, "--retriever", "bm25-ocr", "--strict", "--output-dir", tmp_path)
    assert code == 2
    assert "hub-qa (split test) row 2: empty image_filename (strict loading" in err


@pytest.mark.parametrize(("queries", "qrels", "message"), FAULTS)
def test_hub_format_read_from_a_path_stays_strict(tmp_path, queries, qrels, message):
    spec = load_spec_file(beir_spec(tmp_path, beir_folder(tmp_path / "on-disk", queries, qrels), hub=False))
    with pytest.raises(TaskDataError, match=message + r".*local data is always checked strictly"):
        load_task(spec)


def test_qa_read_from_a_path_stays_strict(tmp_path):
    with pytest.raises(TaskDataError, match=r"row 2: empty image_filename \(local data is always checked"):
        load_task(load_spec_file(qa_spec(tmp_path, hub=False)))


@pytest.mark.parametrize(
    ("queries", "qrels", "message"),
    [
        ({"q1": "zebra", "q2": ""}, [("q1", "p1", 1)], r"queries.jsonl line 2: query 'q2' has empty text"),
        ({"q1": "zebra"}, [("q9", "p1", 1)], r"test.tsv line 2: qrels name query 'q9'"),
        (
            {"q1": "zebra"},
            [("q1", "p1", 1), ("q1", "pX", 1)],
            r"test.tsv line 3: qrels of query 'q1' name page 'pX'",
        ),
    ],
)
def test_local_folder_faults_stay_errors(tmp_path, cli, queries, qrels, message):
    folder = make_local_folder(tmp_path / "docs", PAGES, queries, qrels)
    code, _, err = cli("run", "--task", folder, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "out")
    assert code == 2
    assert "local data is always checked strictly: fix it in the files" in err
    with pytest.raises(TaskDataError, match=message):
        load_task(resolve_task(str(folder)))


def test_what_was_dropped_is_part_of_the_fingerprint(tmp_path):
    """The same evaluated content, once with a dropped qrel of an unknown query: not the same task."""
    folder = tmp_path / "data"
    spec = load_spec_file(beir_spec(tmp_path, beir_folder(folder, {"q1": "zebra"}, [("q1", "p1", 1)])))
    clean = load_task(spec)
    beir_folder(folder, {"q1": "zebra"}, [("q1", "p1", 1), ("q9", "p1", 1)])  # the same dataset, rewritten
    faulty = load_task(spec)
    assert (clean.queries, clean.qrels) == (faulty.queries, faulty.qrels) and not clean.dropped
    assert clean.fingerprint != faulty.fingerprint


def test_a_clean_task_writes_no_dropped_field(tmp_path, cli):
    spec = beir_spec(tmp_path, beir_folder(tmp_path / "clean", {"q1": "zebra"}, [("q1", "p1", 1)]))
    result, _ = run_json(cli, spec, tmp_path / "out")
    assert "dropped" not in result["task"]
