"""Local folders: images and PDF pages, lazy decoding, and every bad input as a
one-line error that names the file, line or id at fault."""

import json

import pytest

from benchmark.feed.prefetch import PREFETCH_ENV
from benchmark.retrievers.base import EncodedQueries
from benchmark.run.evaluate import evaluate
from benchmark.run.settings import RunSettings
from benchmark.tasks import images as images_module
from benchmark.tasks import load_task
from benchmark.tasks.catalog import resolve_task
from tests.conftest import make_local_folder, page_image, write_jsonl, write_qrels

PAGES = {"p1": "zebra giraffe", "p2": "volcano lava", "p3": "piano violin"}
QUERIES = {"q1": "where is the zebra", "q2": "lava from a volcano"}
QRELS = [("q1", "p1", 1), ("q2", "p2", 1)]


@pytest.fixture
def folder(tmp_path):
    return make_local_folder(tmp_path / "my-docs", PAGES, QUERIES, QRELS)


def test_folder_runs_end_to_end(folder, cli, tmp_path):
    code, out, err = cli("run", "--task", folder, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "out")
    assert code == 0, err
    result = json.loads((tmp_path / "out" / "bm25-ocr" / "my-docs.json").read_text())
    assert result["task"]["name"] == "my-docs" and result["task"]["suite"] == "local"
    assert result["metrics"]["ndcg_at_5"] == 1.0
    assert "my-docs" in out and "1.0000" in out


def test_pdf_pages_render_at_the_stated_dpi(tmp_path):
    folder = tmp_path / "pdfs"
    folder.mkdir()
    first, second = page_image("first page"), page_image("second page")
    first.save(folder / "doc.pdf", save_all=True, append_images=[second], resolution=72)
    write_jsonl(
        folder / "corpus.jsonl",
        [{"_id": "a", "image": "doc.pdf#page=1"}, {"_id": "b", "image": "doc.pdf#page=2"}],
    )
    write_jsonl(folder / "queries.jsonl", [{"_id": "q", "text": "second"}])
    write_qrels(folder, [("q", "b", 1)])
    (folder / "task.toml").write_text('name = "two-pages"\npdf_dpi = 108\n')  # the rest defaults
    task = load_task(resolve_task(str(folder)))
    assert task.spec.name == "two-pages" and task.spec.languages == ("en",)
    images = task.corpus.images.load([0, 1], ["a", "b"])
    # the PDF page is 640x200 points (72 per inch); at 108 DPI it renders 1.5 times that.
    assert [image.size for image in images] == [(960, 300), (960, 300)]


@pytest.mark.parametrize("prefetch", ["0", "1"], ids=["in-the-caller", "decoded-ahead"])
def test_images_are_decoded_one_batch_at_a_time(folder, monkeypatch, prefetch):
    monkeypatch.setenv(PREFETCH_ENV, prefetch)
    decoded = []
    original = images_module.decode_image
    monkeypatch.setattr(images_module, "decode_image", lambda *a: decoded.append(a[1]) or original(*a))

    class ImageSpy:
        name, page_input = "spy", "image"

        def __init__(self):
            self.seen = []

        def describe(self):
            return {"checkpoint": None, "revision": None, "parameters": {}}

        def begin_index(self, languages):
            pass

        def add_pages(self, batch):
            # Only this batch has been decoded so far, not the rest of the corpus; decoding
            # ahead adds at most one batch waiting and one being decoded (depth 1).
            self.seen.extend(batch.ids)
            so_far = list(decoded)
            assert so_far[: len(self.seen)] == self.seen and len(batch.images) <= 2
            assert len(so_far) - len(self.seen) <= (0 if prefetch == "0" else 2 * 2)

        def finish_index(self):
            pass

        def encode_queries(self, queries):
            return EncodedQueries([query.id for query in queries], None)

        def search(self, encoded, _top_k):
            return {query_id: [("p1", 1.0)] for query_id in encoded.ids}

        def index_nbytes(self):
            return None

    spy = ImageSpy()
    evaluate(load_task(resolve_task(str(folder))), spy, RunSettings(batch_size=2, show_progress=False))
    assert spy.seen == ["p1", "p2", "p3"]


def _break(folder, what):
    """Apply one kind of damage to a valid folder; returns text the error must contain."""
    corpus = folder / "corpus.jsonl"
    if what == "bad json":
        corpus.write_text(corpus.read_text() + "{not json\n")
        return "corpus.jsonl line 4: invalid JSON"
    if what == "missing id":
        write_jsonl(corpus, [{"image": "pages/p1.png"}])
        return "corpus.jsonl line 1: missing field '_id'"
    if what == "missing image file":
        write_jsonl(corpus, [{"_id": "p1", "image": "pages/nope.png"}])
        return "(page 'p1'): image file 'pages/nope.png' not found"
    if what == "duplicate page id":
        write_jsonl(corpus, [{"_id": "p1", "image": "pages/p1.png"}, {"_id": "p1", "image": "pages/p2.png"}])
        return "duplicate page id 'p1'"
    if what == "duplicate query id":
        write_jsonl(folder / "queries.jsonl", [{"_id": "q1", "text": "a"}, {"_id": "q1", "text": "b"}])
        return "duplicate query id 'q1'"
    if what == "empty query":
        write_jsonl(folder / "queries.jsonl", [{"_id": "q1", "text": "  "}, {"_id": "q2", "text": "lava"}])
        return "query 'q1' has empty text"
    if what == "qrels unknown page":
        write_qrels(folder, [("q1", "p9", 1)])
        return "qrels of query 'q1' name page 'p9'"
    if what == "qrels unknown query":
        write_qrels(folder, [("q7", "p1", 1)])
        return "qrels name query 'q7'"
    if what == "qrels columns":
        (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tp1\n")
        return "test.tsv line 2: expected 3 tab-separated columns"
    if what == "qrels score":
        (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tp1\thigh\n")
        return "score must be an integer, got 'high'"
    if what == "empty corpus":
        corpus.write_text("")
        return "the corpus is empty"
    if what == "not utf-8":
        (folder / "queries.jsonl").write_bytes(b'{"_id": "q1", "text": "caf\xe9"}\n')
        return "queries.jsonl line 1: not valid UTF-8"
    if what == "wrong type":
        write_jsonl(folder / "queries.jsonl", [{"_id": "q1", "text": 42}])
        return "field 'text': expected text, got int 42"
    if what == "pdf page out of range":
        page_image("x").save(folder / "one.pdf")
        write_jsonl(corpus, [{"_id": "p1", "image": "one.pdf#page=3"}])
        return "one.pdf has 1 pages, there is no page 3"
    if what == "corrupt pdf":
        (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a PDF")
        records = [json.loads(line) for line in corpus.read_text().splitlines()]
        write_jsonl(corpus, [{"_id": "p1", "image": "broken.pdf#page=1"}, *records[1:]])  # p1: OCR needed
        return "broken.pdf#page=1): cannot open PDF"
    if what == "corrupt image":
        (folder / "pages" / "p2.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
        return "page 'p2' ("
    raise AssertionError(what)


@pytest.mark.parametrize(
    "what",
    [
        "bad json",
        "missing id",
        "missing image file",
        "duplicate page id",
        "duplicate query id",
        "empty query",
        "qrels unknown page",
        "qrels unknown query",
        "qrels columns",
        "qrels score",
        "empty corpus",
        "not utf-8",
        "wrong type",
        "pdf page out of range",
        "corrupt pdf",
    ],
)
def test_bad_input_is_one_line_naming_the_culprit(folder, cli, tmp_path, what):
    expected = _break(folder, what)
    code, _, err = cli("run", "--task", folder, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "out")
    assert code == 2
    assert expected in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_corrupt_image_names_page_and_file(folder, cli, tmp_path):
    # Text retrievers never open images when the folder ships text; drop it to force OCR.
    write_jsonl(folder / "corpus.jsonl", [{"_id": p, "image": f"pages/{p}.png"} for p in PAGES])
    expected = _break(folder, "corrupt image")
    code, _, err = cli("run", "--task", folder, "--retriever", "bm25-ocr", "--output-dir", tmp_path / "out")
    assert code == 2 and expected in err and "pages/p2.png" in err and "cannot decode image" in err


def test_retriever_options_reach_bm25(folder, tmp_path, cli):
    code, _, err = cli(
        "run",
        "--task",
        folder,
        "--retriever",
        "bm25-ocr",
        "--param",
        "k1=0.9",
        "--output-dir",
        tmp_path,
    )
    assert code == 0, err
    assert (
        json.loads((tmp_path / "bm25-ocr@k1-0.9" / "my-docs.json").read_text())["retriever"]["parameters"][
            "k1"
        ]
        == 0.9
    )
    code, _, err = cli("run", "--task", folder, "--retriever", "bm25-ocr", "--param", "k3=1")
    assert code == 2 and "unknown --param 'k3'" in err
