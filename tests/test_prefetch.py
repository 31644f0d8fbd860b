"""Page input decoded ahead of the model (issue 16): the same batches in the same order,
bad pages failed or skipped at the same batch with the same message, the worker thread
stopped on every way out, and a run's ranking and metrics identical with prefetching on
and off. No timings (see benchmarks/pipeline.py)."""

import itertools
import json
import threading

import pytest

from benchmark.core.errors import BadPageError, PagebenchError
from benchmark.core.types import Corpus
from benchmark.feed.batches import PageBatches
from benchmark.feed.prefetch import PREFETCH_ENV, Prefetched, prefetch_depth
from benchmark.tasks.images import FileImages, PageFile
from tests.conftest import page_image


def prefetch_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "pagebench-prefetch"]


class ImageRetriever:
    page_input = "image"


def damaged_batches(tmp_path, on_bad_page: str) -> PageBatches:
    """Seven pages in batches of two; p3 and p6 cannot be decoded."""
    files = []
    for i in range(7):
        path = tmp_path / f"p{i}.png"
        if i in (3, 6):
            path.write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
        else:
            page_image(f"page {i}").save(path)
        files.append(PageFile(path))
    ids = tuple(f"p{i}" for i in range(7))
    corpus = Corpus(ids=ids, qrels_ids=ids, images=FileImages(files, 144))
    return PageBatches(corpus, ["en"], ImageRetriever(), batch_size=2, on_bad_page=on_bad_page)


def consume(pages: PageBatches, depth: int) -> tuple[list, str | None]:
    """(ids and pixels of each batch received, the error's message if one was raised)."""
    received = []
    try:
        with Prefetched(pages, depth) as decoded:
            for batch in decoded:
                received.append((batch.ids, [image.tobytes() for image in batch.images]))
    except BadPageError as error:
        return received, str(error)
    return received, None


@pytest.mark.parametrize("depth", [1, 2])
def test_prefetched_batches_are_todays_in_the_same_order(tmp_path, depth):
    ahead, error = consume(damaged_batches(tmp_path, "skip"), depth)
    in_caller, _ = consume(damaged_batches(tmp_path, "skip"), 0)
    assert error is None and ahead == in_caller
    assert [ids for ids, _ in ahead] == [["p0", "p1"], ["p2"], ["p4", "p5"]]
    assert not prefetch_threads()


def test_a_bad_page_fails_at_the_same_batch_with_the_same_message(tmp_path):
    ahead, error_ahead = consume(damaged_batches(tmp_path, "fail"), 1)
    in_caller, error_in_caller = consume(damaged_batches(tmp_path, "fail"), 0)
    assert ahead == in_caller and [ids for ids, _ in ahead] == [["p0", "p1"]]
    assert error_ahead == error_in_caller and "'p3'" in error_ahead
    assert not prefetch_threads()


def test_bad_pages_are_skipped_and_recorded_as_without_prefetching(tmp_path):
    pages_ahead, pages_in_caller = damaged_batches(tmp_path, "skip"), damaged_batches(tmp_path, "skip")
    consume(pages_ahead, 1)
    consume(pages_in_caller, 0)
    assert pages_ahead.skipped == pages_in_caller.skipped
    assert [page.id for page in pages_ahead.skipped] == ["p3", "p6"]


@pytest.mark.parametrize("error", [RuntimeError("model failed"), KeyboardInterrupt()])
def test_the_worker_stops_when_the_caller_fails(error):
    produced = []

    def endless():
        for number in itertools.count():
            produced.append(number)
            yield number

    with pytest.raises(type(error)), Prefetched(endless(), 1) as decoded:
        for number in decoded:
            if number == 2:
                raise error
    assert not prefetch_threads()
    assert len(produced) <= 2 + 3  # the queue is bounded: a few items ahead at most


def test_the_worker_stops_when_the_caller_breaks_off():
    with Prefetched(itertools.count(), 1) as decoded:
        assert next(iter(decoded)) == 0
    assert not prefetch_threads()


def test_the_worker_hands_its_error_over_and_ends():
    def failing():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"), Prefetched(failing(), 1) as decoded:
        assert list(decoded) == [1]
    assert not prefetch_threads()


def test_the_switch_reads_the_environment(monkeypatch):
    monkeypatch.delenv(PREFETCH_ENV, raising=False)
    assert prefetch_depth() == 1
    monkeypatch.setenv(PREFETCH_ENV, "0")
    assert prefetch_depth() == 0
    monkeypatch.setenv(PREFETCH_ENV, "lots")
    with pytest.raises(PagebenchError, match=PREFETCH_ENV):
        prefetch_depth()


@pytest.mark.parametrize("cached", [False, True], ids=["no-cache", "cache"])
def test_a_run_is_identical_with_prefetching_on_and_off(cli, checkpoints, tmp_path, monkeypatch, cached):
    outputs = {}
    for switch in ("1", "0"):
        monkeypatch.setenv(PREFETCH_ENV, switch)
        cache = ["--cache-dir", tmp_path / f"cache{switch}"] if cached else ["--no-cache"]
        args = ["--retriever", "colpali", "--checkpoint", checkpoints["colpali"], *cache]
        code, _, err = cli(
            "run",
            "--task",
            "debian-faq-en",
            *args,
            "--latency-queries",
            "2",
            "--output-dir",
            tmp_path,
            "--run-name",
            "r" + switch,
        )
        assert code == 0, err
        result = json.loads((tmp_path / f"r{switch}" / "debian-faq-en.json").read_text())
        # every line but its last field, the run's name
        trec = [line.rsplit(" ", 1)[0] for line in (tmp_path / f"r{switch}" / "debian-faq-en.trec").open()]
        efficiency = result["efficiency"]
        counts = (efficiency["pages_encoded"], efficiency["pages_from_cache"])
        outputs[switch] = (trec, result["metrics"], counts, efficiency)
        # the task repeats 5 pages: with a cache, each repeat is read back, not encoded
        assert counts == ((68, 5) if cached else (73, 0))
        assert not prefetch_threads()
    assert outputs["1"][0] == outputs["0"][0] and outputs["1"][0]
    assert outputs["1"][1:3] == outputs["0"][1:3]
    for *_, efficiency in outputs.values():
        assert 0 < efficiency["index_model_s"] <= efficiency["index_s"]
        assert 0 <= efficiency["index_input_wait_s"] <= efficiency["index_s"]
        assert efficiency["index_model_s"] + efficiency["index_input_wait_s"] <= efficiency["index_s"]


class PreparingRetriever:
    """Embeds a page as one row holding a running count: encoding a page twice shows.
    Records the thread of each preparation and whether the forward pass got it."""

    page_input = "image"

    def __init__(self):
        self.encoded, self.prepared_on, self.forward_given_inputs, self.added = 0, set(), [], []

    def begin_index(self, languages):  # noqa: ARG002 (the protocol's signature)
        pass

    def finish_index(self):
        pass

    def embedding_key(self):
        return {"retriever": "counting"}

    def page_inputs(self, batch):
        self.prepared_on.add(threading.current_thread().name)
        return {"pages": len(batch.ids)}

    def page_vectors(self, batch, model_inputs=None):
        import torch

        self.forward_given_inputs.append(model_inputs == {"pages": len(batch.ids)})
        vectors = [torch.full((1, 4), float(self.encoded + i)) for i in range(len(batch.ids))]
        self.encoded += len(batch.ids)
        return vectors

    def add_page_vectors(self, ids, vectors):
        self.added += [(page_id, float(page[0, 0])) for page_id, page in zip(ids, vectors, strict=True)]


def index_with_a_cache(tmp_path, cache_dir, depth: str, monkeypatch) -> tuple:
    """Six pages in batches of two; p2 is p0 again, in the next batch."""
    from benchmark.feed.embedding_cache import EmbeddingCache
    from benchmark.feed.page_feed import PageFeed
    from benchmark.run.indexers import LocalIndexer
    from benchmark.run.settings import RunSettings

    monkeypatch.setenv(PREFETCH_ENV, depth)
    files = []
    for i in range(6):
        path = tmp_path / f"p{i}.png"
        page_image(f"page {0 if i == 2 else i}").save(path)
        files.append(PageFile(path))
    ids = tuple(f"p{i}" for i in range(6))
    corpus = Corpus(ids=ids, qrels_ids=ids, images=FileImages(files, 144))
    retriever = PreparingRetriever()
    feed = PageFeed(retriever, EmbeddingCache(cache_dir, retriever.embedding_key()))
    pages = PageBatches(corpus, ["en"], retriever, batch_size=2)
    report = LocalIndexer(feed, RunSettings(batch_size=2, show_progress=False), "cpu").index(pages, ["en"])
    return retriever, report


def test_the_processor_runs_ahead_on_the_decoding_thread(tmp_path, monkeypatch):
    retriever, _ = index_with_a_cache(tmp_path, tmp_path / "cache", "1", monkeypatch)
    assert retriever.prepared_on == {"pagebench-prefetch"}
    assert retriever.forward_given_inputs and all(retriever.forward_given_inputs)
    off, _ = index_with_a_cache(tmp_path, tmp_path / "cache-off", "0", monkeypatch)
    assert off.prepared_on == {threading.current_thread().name}


def test_a_page_the_batch_before_encodes_comes_from_the_cache_as_without_prefetching(tmp_path, monkeypatch):
    results = {}
    for depth in ("2", "0"):
        retriever, report = index_with_a_cache(tmp_path, tmp_path / f"cache-{depth}", depth, monkeypatch)
        results[depth] = (retriever.added, report.pages_encoded, report.pages_from_cache)
    assert results["2"] == results["0"]
    added, encoded, from_cache = results["2"]
    assert (encoded, from_cache) == (5, 1)
    assert dict(added)["p2"] == dict(added)["p0"]  # the vectors p0 stored, not a second encoding
