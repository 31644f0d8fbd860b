"""ColModernVBert, which transformers 5 has natively, as a retriever; and the error for
a colpali-engine family transformers has no retrieval class for (ColSmol, Idefics3)."""

import json

import pytest
import torch

from benchmark.core.errors import PagebenchError
from benchmark.devtools import tiny_checkpoints
from benchmark.retrievers import registry
from benchmark.retrievers.base import RetrieverOptions
from benchmark.run.evaluate import evaluate
from benchmark.run.settings import RunSettings
from benchmark.tasks import load_task
from benchmark.tasks.catalog import resolve_task


@pytest.fixture(scope="module")
def colmodernvbert(tmp_path_factory):
    return tiny_checkpoints.build_colmodernvbert(tmp_path_factory.mktemp("tiny") / "colmodernvbert")


def test_runs_end_to_end_from_the_command_line(colmodernvbert, cli, tmp_path):
    args = ["run", "--task", "debian-faq-en", "--retriever", "colmodernvbert", "--checkpoint", colmodernvbert]
    code, _, err = cli(*args, "--output-dir", tmp_path, "--run-name", "tiny", "--no-progress")
    assert code == 0, err
    result = json.loads((tmp_path / "tiny" / "debian-faq-en.json").read_text())
    assert result["retriever"]["name"] == "colmodernvbert"
    assert result["retriever"]["parameters"]["similarity"] == "maxsim"
    assert result["retriever"]["parameters"]["backbone"] == "modernvbert"
    assert len(result["per_query"]) == 123


def test_queries_take_the_query_path_and_scores_do_not_depend_on_batch_size(colmodernvbert):
    options = RetrieverOptions(checkpoint=str(colmodernvbert), dtype="float32", device="cpu")
    retriever = registry.create("colmodernvbert", options)
    with torch.inference_mode():
        vectors = retriever.embed_queries(["how do i install debian"])
    augmentation = retriever.processor.query_augmentation_token
    inputs = retriever.processor.process_queries(text=["how do i install debian"])
    augmentation_id = retriever.processor.tokenizer.convert_tokens_to_ids(augmentation)
    assert (inputs["input_ids"][0] == augmentation_id).sum() >= 1
    assert vectors[0].shape == (int(inputs["attention_mask"][0].sum()), 128)

    task = load_task(resolve_task("debian-faq-en"))
    runs = {}
    for batch_size in (1, 8):
        options = RetrieverOptions(
            checkpoint=str(colmodernvbert), dtype="float32", scoring_dtype="float32", batch_size=batch_size
        )
        retriever = registry.create("colmodernvbert", options)
        settings = RunSettings(batch_size=batch_size, show_progress=False)
        runs[batch_size] = evaluate(task, retriever, settings).ranked
    for query_id, ranked in runs[1].items():
        scores, other = dict(ranked), dict(runs[8][query_id])
        assert max(abs(scores[page] - other[page]) for page in scores) <= 1e-5, query_id


def test_a_family_transformers_lacks_is_named(tmp_path):
    colsmol = tmp_path / "colsmol"
    colsmol.mkdir()
    (colsmol / "config.json").write_text(json.dumps({"model_type": "idefics3"}))
    with pytest.raises(
        PagebenchError, match=r"ColSmol / ColIdefics3 checkpoint \('idefics3' backbone\).*no retrieval class"
    ):
        registry.create("colqwen2", RetrieverOptions(checkpoint=str(colsmol), device="cpu"))
    # the usual case: a training run's adapter over the ColSmol base
    adapter = tmp_path / "checkpoint-8"
    adapter.mkdir()
    config = {
        "peft_type": "LORA",
        "base_model_name_or_path": str(colsmol),
        "r": 4,
        "target_modules": ["q_proj"],
    }
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    (adapter / "adapter_model.safetensors").write_bytes(b"")
    with pytest.raises(PagebenchError, match="ColSmol / ColIdefics3 checkpoint"):
        registry.create("colpali", RetrieverOptions(checkpoint=str(adapter), device="cpu"))


def test_an_adapter_is_refused_with_what_to_do(colmodernvbert, tmp_path):
    adapter = tmp_path / "checkpoint-8"
    adapter.mkdir()
    config = {"peft_type": "LORA", "base_model_name_or_path": str(colmodernvbert), "r": 4}
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(PagebenchError, match="merges for colpali and colqwen2 only; merge it into its base"):
        registry.create("colmodernvbert", RetrieverOptions(checkpoint=str(adapter), device="cpu"))
