"""The Python API (`from benchmark import evaluate`), the encoder adapter, `--retriever
module:attr`, and the training-loop example that uses them."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark import Evaluation, PagebenchError, evaluate
from benchmark.results.reader import read_result
from benchmark.retrievers import registry
from benchmark.retrievers.base import RetrieverOptions
from benchmark.tasks.catalog import resolve_task
from tests.conftest import write_jsonl, write_qrels

REPOSITORY = Path(__file__).resolve().parent.parent
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "black": (0, 0, 0)}
QUICK = {"latency_queries": 0, "show_progress": False}


def colour_folder(folder: Path) -> Path:
    """A local task: one plain page per colour, one query naming each colour."""
    records = []
    for name, rgb in COLOURS.items():
        path = folder / "pages" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 24), rgb).save(path)
        records.append({"_id": f"page-{name}", "image": f"pages/{name}.png"})
    write_jsonl(folder / "corpus.jsonl", records)
    write_jsonl(
        folder / "queries.jsonl", [{"_id": f"q-{name}", "text": f"the {name} page"} for name in COLOURS]
    )
    write_qrels(folder, [(f"q-{name}", f"page-{name}", 1) for name in COLOURS])
    return folder


def one_hot(index: int) -> np.ndarray:
    vector = np.zeros(len(COLOURS), dtype=np.float32)
    vector[index] = 1
    return vector


def colour_of_page(image) -> int:
    rgb = tuple(int(value) for value in np.asarray(image).reshape(-1, 3)[0])
    return list(COLOURS.values()).index(rgb)


def colour_of_query(text: str) -> int:
    return next(i for i, name in enumerate(COLOURS) if name in text)


class ColourEncoder:
    """One vector per item: the one-hot of its colour, so retrieval is perfect."""

    def __init__(self):
        self.pages_seen = 0

    def encode_queries(self, texts):
        return [one_hot(colour_of_query(text)) for text in texts]

    def encode_pages(self, images):
        self.pages_seen += len(images)
        return np.stack([one_hot(colour_of_page(image)) for image in images])  # [items, dim]: a row each


class SeveralVectors:
    """Pages of 3 vectors, queries of 2: scored by MaxSim; values fixed per colour."""

    name = "several-vectors"

    @staticmethod
    def vectors(index: int, rows: int, salt: int) -> np.ndarray:
        return np.random.default_rng(100 * index + salt).normal(size=(rows, 5)).astype(np.float32)

    def encode_queries(self, texts):
        return [self.vectors(colour_of_query(text), 2, 1) for text in texts]

    def encode_pages(self, images):
        return [self.vectors(colour_of_page(image), 3, 2) for image in images]


def read_trec_scores(path: Path) -> dict[tuple[str, str], float]:
    scores = {}
    for line in path.read_text().splitlines():
        query_id, _, page_id, _, score, _ = line.split()
        scores[query_id, page_id] = float(score)
    return scores


def test_import_benchmark_loads_nothing_heavy():
    code = (
        "import sys, benchmark; heavy = ('torch', 'datasets', 'transformers', 'bm25s'); "
        "before = [m for m in heavy if m in sys.modules]; from benchmark import evaluate, Evaluation; "
        "print(before, [m for m in heavy if m in sys.modules], callable(evaluate))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["[]", "[]", "True"]


def test_a_named_retriever_gives_what_the_command_line_writes(cli, tmp_path, monkeypatch):
    tmp_path = tmp_path / "work"  # beside the test's own cache folder
    tmp_path.mkdir()
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("run", "--task", "debian-faq-en", "--retriever", "bm25-ocr", "--output-dir", "cli")
    assert code == 0, err
    written = read_result(tmp_path / "cli" / "bm25-ocr" / "debian-faq-en.json")

    evaluation = evaluate("bm25-ocr", "debian-faq-en", **QUICK)
    assert isinstance(evaluation, Evaluation) and list(evaluation) == ["debian-faq-en"]
    document = evaluation["debian-faq-en"]
    assert document.metrics == written.metrics and document.per_query == written.per_query
    assert document.task.fingerprint == written.task.fingerprint
    assert evaluation.scores() == {"debian-faq-en": written.main_score.value}
    assert (
        evaluation.scores("nDCG@10")
        == evaluation.scores("ndcg_at_10")
        == {"debian-faq-en": written.metrics["ndcg_at_10"]}
    )
    assert evaluation.paths == {} and sorted(os.listdir(tmp_path)) == ["cli"]  # it wrote nothing

    evaluation = evaluate("bm25-ocr", "debian-faq-en", output_dir=tmp_path / "api", **QUICK)
    path = tmp_path / "api" / "bm25-ocr" / "debian-faq-en.json"
    assert evaluation.paths == {"debian-faq-en": path}
    assert read_result(path).metrics == written.metrics
    assert path.with_suffix(".trec").read_text() == (tmp_path / "cli/bm25-ocr/debian-faq-en.trec").read_text()


def test_an_encoder_with_one_vector_per_item_is_ranked_by_dot_product(tmp_path):
    encoder = ColourEncoder()
    evaluation = evaluate(encoder, colour_folder(tmp_path / "colours"), **QUICK)
    document = evaluation["colours"]
    assert document.metrics["ndcg_at_5"] == 1.0 and document.metrics["mrr_at_10"] == 1.0
    assert document.retriever.name == "ColourEncoder" and evaluation.run_name == "ColourEncoder"
    assert document.retriever.parameters["similarity"] == "dot"
    assert document.retriever.parameters["encoder"].endswith("ColourEncoder")
    assert document.efficiency.pages_encoded == len(COLOURS) == encoder.pages_seen


def test_an_encoder_with_several_vectors_is_scored_by_maxsim(tmp_path):
    folder = colour_folder(tmp_path / "colours")
    evaluation = evaluate(
        SeveralVectors(), folder, output_dir=tmp_path / "out", batch_size=3, scoring_dtype="float32", **QUICK
    )
    assert evaluation["colours"].retriever.parameters["similarity"] == "maxsim"
    scores = read_trec_scores(tmp_path / "out" / "several-vectors" / "colours.trec")
    assert len(scores) == len(COLOURS) ** 2
    for query_index, query_name in enumerate(COLOURS):
        query = SeveralVectors.vectors(query_index, 2, 1)
        for page_index, page_name in enumerate(COLOURS):
            page = SeveralVectors.vectors(page_index, 3, 2)
            expected = (query.astype(np.float64) @ page.T.astype(np.float64)).max(axis=1).sum()
            assert scores[f"q-{query_name}", f"page-{page_name}"] == pytest.approx(expected, abs=1e-5)
    on_disk = evaluate(SeveralVectors(), folder, index_dir=tmp_path / "index", **QUICK)["colours"]
    assert on_disk.retriever.parameters["index_storage"] == "disk, float16"
    assert on_disk.metrics == evaluation["colours"].metrics


class Returns:
    """An encoder whose pages get what `make(images)` returns."""

    def __init__(self, make):
        self.make = make

    def encode_queries(self, texts):
        return [np.ones(4, dtype=np.float32) for _ in texts]

    def encode_pages(self, images):
        return self.make(images)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda images: [np.ones(4)] * (len(images) - 1),
            r"Returns\.encode_pages returned \d+ arrays for \d+",
        ),
        (lambda images: [np.ones((2, 2, 4))] * len(images), r"page 'page-\w+' has shape \(2, 2, 4\)"),
        (lambda images: [np.full(4, np.nan)] * len(images), r"page 'page-\w+' holds NaN or infinite"),
        (
            lambda images: [np.ones(3)] * len(images),
            r"has dimension 3, earlier vectors 4|dimension 4, earlier",
        ),
        (lambda images: [np.zeros((0, 4))] * len(images), r"has shape \(0, 4\)"),
        (lambda images: ["not numbers"] * len(images), r"page 'page-\w+' is not a numeric array"),
        (lambda _images: 7, r"returned int, not one array per item"),
    ],
    ids=["count", "3-d", "nan", "dimension", "empty", "text", "not-a-list"],
)
def test_an_encoder_returning_the_wrong_arrays_is_a_named_error(tmp_path, make, message):
    with pytest.raises(PagebenchError, match=message):
        evaluate(Returns(make), colour_folder(tmp_path / "colours"), **QUICK)


def test_what_is_not_a_model_is_refused_naming_what_it_lacks(tmp_path):
    folder = colour_folder(tmp_path / "colours")

    class OnlyQueries:
        def encode_queries(self, texts):
            return texts

    with pytest.raises(PagebenchError, match="OnlyQueries is neither a retriever name, a Retriever, nor an"):
        evaluate(OnlyQueries(), folder, **QUICK)
    with pytest.raises(PagebenchError, match="checkpoint, dtype: does not apply to an encoder object"):
        evaluate(ColourEncoder(), folder, checkpoint="x", dtype="float16", **QUICK)
    with pytest.raises(PagebenchError, match="cache_key is for an encoder object"):
        evaluate("bm25-ocr", folder, cache_key="v1", **QUICK)


def test_an_encoder_is_cached_only_under_a_cache_key(tmp_path):
    folder = colour_folder(tmp_path / "colours")
    cache = tmp_path / "cache"
    evaluate(ColourEncoder(), folder, cache_dir=cache, **QUICK)
    assert not (cache / "embeddings").exists()  # no key: its weights have no name to cache under

    first = evaluate(ColourEncoder(), folder, cache_dir=cache, cache_key="step-100", **QUICK)
    assert first["colours"].efficiency.pages_encoded == len(COLOURS)
    encoder = ColourEncoder()
    again = evaluate(encoder, folder, cache_dir=cache, cache_key="step-100", **QUICK)
    assert again["colours"].efficiency.pages_from_cache == len(COLOURS) and encoder.pages_seen == 0
    assert again["colours"].metrics == first["colours"].metrics
    several = evaluate(SeveralVectors(), folder, cache_dir=cache, cache_key="maxsim", **QUICK)["colours"]
    from_cache = evaluate(SeveralVectors(), folder, cache_dir=cache, cache_key="maxsim", **QUICK)["colours"]
    assert from_cache.efficiency.pages_from_cache == len(COLOURS)
    for document in (several, from_cache):  # read from the vectors, cached or fresh
        assert document.retriever.parameters["similarity"] == "maxsim"
    other = evaluate(ColourEncoder(), folder, cache_dir=cache, cache_key="step-200", **QUICK)
    assert other["colours"].efficiency.pages_encoded == len(COLOURS)


def test_a_query_sample_is_fixed_by_its_seed_and_fingerprinted_apart():
    whole = evaluate("bm25-ocr", "debian-faq-en", **QUICK)["debian-faq-en"]
    sample = evaluate("bm25-ocr", "debian-faq-en", max_queries=10, **QUICK)["debian-faq-en"]
    again = evaluate("bm25-ocr", "debian-faq-en", max_queries=10, **QUICK)["debian-faq-en"]
    other_seed = evaluate("bm25-ocr", "debian-faq-en", max_queries=10, query_seed=1, **QUICK)["debian-faq-en"]
    assert sample.task.n_queries == len(sample.per_query) == 10 and set(sample.per_query) <= set(
        whole.per_query
    )
    assert sample.per_query == again.per_query and sample.task.fingerprint == again.task.fingerprint
    assert set(other_seed.per_query) != set(sample.per_query)
    assert len({whole.task.fingerprint, sample.task.fingerprint, other_seed.task.fingerprint}) == 3
    assert any("a sample of 10 of 123 (seed 0)" in note for note in sample.task.notes)
    for query_id, values in sample.per_query.items():  # each query scores as in the whole run
        assert values == whole.per_query[query_id]
    everything = evaluate("bm25-ocr", "debian-faq-en", max_queries=1000, **QUICK)["debian-faq-en"]
    assert everything.task.fingerprint == whole.task.fingerprint and everything.task.notes == whole.task.notes


def test_tasks_are_names_suites_folders_or_specs(tmp_path):
    folder = colour_folder(tmp_path / "colours")
    evaluation = evaluate(ColourEncoder(), [str(folder), folder, resolve_task(str(folder))], **QUICK)
    assert list(evaluation) == ["colours"] and evaluation.scores() == {"colours": 1.0}
    evaluation = evaluate("bm25-ocr", "debian-faq", **QUICK)
    assert list(evaluation) == ["debian-faq-en", "debian-faq-fr"]
    with pytest.raises(
        PagebenchError, match="unknown task or suite 'debian-faq-e'; did you mean 'debian-faq-en'"
    ):
        evaluate("bm25-ocr", "debian-faq-e", **QUICK)
    with pytest.raises(PagebenchError, match="tasks: 3 is a int"):
        evaluate("bm25-ocr", [3], **QUICK)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        ({"top_k": True}, "top_k must be a positive integer, got True"),
        ({"max_queries": 0}, "max_queries must be a positive integer or None, got 0"),
        ({"latency_queries": -1}, "latency_queries must be 0 or a positive integer"),
        ({"protocol": "trec"}, "protocol must be one of pagebench, vidore, mteb, got 'trec'"),
        ({"run_name": "../up"}, "run name '../up' must be letters"),
    ],
)
def test_bad_settings_are_refused_before_any_work(settings, message):
    class Untouchable(ColourEncoder):
        def encode_pages(self, _images):
            raise AssertionError("the run started")

    with pytest.raises(PagebenchError, match=message):
        evaluate(Untouchable(), "debian-faq-en", **{**QUICK, **settings})


def test_an_unknown_metric_lists_the_valid_ones(tmp_path):
    evaluation = evaluate(ColourEncoder(), colour_folder(tmp_path / "colours"), **QUICK)
    with pytest.raises(
        PagebenchError, match=r"unknown metric 'nDCG@7'; did you mean .*\(metrics: ndcg_at_1, "
    ):
        evaluation.scores("nDCG@7")
    with pytest.raises(KeyError, match="no result for task 'colour'; did you mean 'colours'"):
        evaluation["colour"]


def test_a_retriever_object_is_evaluated_as_it_is(tmp_path):
    retriever = registry.create("bm25-ocr", RetrieverOptions(params={"k1": "1.2"}))
    evaluation = evaluate(retriever, "debian-faq-en", output_dir=tmp_path, **QUICK)
    assert evaluation["debian-faq-en"].retriever.parameters["k1"] == 1.2
    assert (tmp_path / "bm25-ocr" / "debian-faq-en.json").is_file()
    with pytest.raises(PagebenchError, match="checkpoint: does not apply to a Retriever object"):
        evaluate(retriever, "debian-faq-en", checkpoint="x", **QUICK)


def test_a_failing_task_is_kept_apart_and_the_others_still_run(tmp_path, caplog):
    good = colour_folder(tmp_path / "colours")
    broken = colour_folder(tmp_path / "broken")
    (broken / "pages" / "red.png").unlink()
    evaluation = evaluate(ColourEncoder(), [broken, good], **QUICK)
    assert list(evaluation) == ["colours"] and list(evaluation.failures) == ["broken"]
    assert "red.png" in str(evaluation.failures["broken"])
    assert any("broken failed" in record.getMessage() for record in caplog.records)
    also_broken = colour_folder(tmp_path / "also-broken")
    (also_broken / "pages" / "blue.png").unlink()
    with pytest.raises(PagebenchError, match="red.png"):  # nothing finished: the first error is raised
        evaluate(ColourEncoder(), [broken, also_broken], **QUICK)


# --- the training-loop example ---------------------------------------------------------------


def load_example():
    spec = importlib.util.spec_from_file_location(
        "training_loop", REPOSITORY / "examples" / "training_loop.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_training_loop_example_evaluates_in_memory_and_writes_nothing(tmp_path, monkeypatch, capsys):
    example = load_example()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    seen = []
    original = example.TinyTwoTower.encode_pages

    def watched(model, images):
        seen.append((model.training, [p.detach().clone() for p in model.parameters()]))
        return original(model, images)

    monkeypatch.setattr(example.TinyTwoTower, "encode_pages", watched)
    scores = example.train(steps=4, every=2, max_queries=10)

    assert [step for step, _ in scores] == [2, 4] and all(0 <= score <= 1 for _, score in scores)
    assert "step 4: loss" in capsys.readouterr().out
    assert not any(training for training, _ in seen)  # evaluated in eval mode
    weights_at = [parameters for _, parameters in seen]
    assert not all(a.equal(b) for a, b in zip(weights_at[0], weights_at[-1], strict=True))  # it trained
    assert list(work.iterdir()) == []  # no results
    assert not (Path(os.environ["PAGEBENCH_CACHE_DIR"]) / "embeddings").exists()  # no embeddings

    example.main(["--steps", "2", "--every", "2", "--max-queries", "5", "--output-dir", str(work / "out")])
    written = read_result(work / "out" / "tiny-two-tower-step-2" / "debian-faq-en.json")
    assert written.task.n_queries == 5 and written.retriever.parameters["similarity"] == "maxsim"
    assert written.retriever.model_parameters == sum(p.numel() for p in example.TinyTwoTower().parameters())


# --- --retriever module:attr on the command line ------------------------------------------------


PLUGIN = '''
import numpy as np

from benchmark.retrievers.bm25_ocr import BM25OCRRetriever


class FirstPage(BM25OCRRetriever):
    name = "first-page"

    def search(self, encoded, top_k):
        return {query_id: [(self._ids[0], 1.0)] for query_id in encoded.ids}


class MeanColour:
    """An encoder class: called with the run's RetrieverOptions, it returns itself."""

    def __init__(self, options):
        self.scale = float(options.params.get("scale", "1"))

    def encode_queries(self, texts):
        return [np.full(3, self.scale * len(text), dtype=np.float32) for text in texts]

    def encode_pages(self, images):
        return [np.asarray(image, dtype=np.float32).mean(axis=(0, 1)) for image in images]


NOT_A_CLASS = 3


class NoOptions:
    def __init__(self):
        pass

    def encode_queries(self, texts):
        return texts

    def encode_pages(self, images):
        return images


class Incomplete:
    def __init__(self, options):
        pass

    def describe(self):
        return {}
'''


def test_a_retriever_class_by_module_and_name(cli, tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    code, _, err = cli(
        "run", "--task", "debian-faq-en", "--retriever", "my_models:FirstPage", "--output-dir", out
    )
    assert code == 0, err
    assert len((out / "my_models-FirstPage" / "debian-faq-en.trec").read_text().splitlines()) == 123

    code, _, err = cli(
        "run", "--task", "debian-faq-en", "--retriever", "my_models:MeanColour", "--param", "scale=2",
        "--output-dir", out, "--latency-queries", "0",
    )  # fmt: skip
    assert code == 0, err
    document = json.loads((out / "my_models-MeanColour@scale-2" / "debian-faq-en.json").read_text())
    assert document["retriever"]["name"] == "MeanColour"
    assert document["retriever"]["parameters"]["similarity"] == "dot"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "no_such_module:Thing",
            "module 'no_such_module': No module named 'no_such_module' (is its folder on",
        ),
        ("my_models:Missing", "module 'my_models' has no 'Missing'"),
        ("my_models:NOT_A_CLASS", "my_models:NOT_A_CLASS is a int, not a class or function"),
        (
            "my_models:Incomplete",
            "my_models:Incomplete) does not follow the Retriever protocol: it lacks begin_index",
        ),
        ("my_models:NoOptions", "my_models:NoOptions() cannot be called with one argument, the run's"),
        ("my_models:", "expected a registered name or module:attr"),
        ("my-models:Thing", "expected a registered name or module:attr"),
    ],
)
def test_a_bad_module_attr_retriever_is_a_named_error(cli, tmp_path, monkeypatch, target, message):
    (tmp_path / "my_models.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = cli(
        "run", "--task", "debian-faq-en", "--retriever", target, "--output-dir", tmp_path / "o"
    )
    assert code == 2 and message in err, err
    assert "Traceback" not in err


def test_the_readme_example_calls_evaluate_with_real_keywords():
    """The README's "From Python" example and its list of keywords cannot drift from the signature."""
    import ast
    import inspect
    import re

    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    section = readme.split("### From Python", 1)[1].split("\n### ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    calls = [
        node
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "evaluate"
    ]
    used = {keyword.arg for call in calls for keyword in call.keywords}
    listed = set(re.findall(r"`(\w+)`", section.split("options (", 1)[1].split(")", 1)[0]))
    parameters = set(inspect.signature(evaluate).parameters)
    assert len(calls) == 3 and used and listed
    assert used <= parameters and listed <= parameters
