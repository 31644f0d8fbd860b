"""Checkpoints in colpali-engine's layout (a full fine-tune, a LoRA adapter, a training
run's checkpoint-N/) load into transformers' retrieval classes and embed exactly as a
transformers-native model holding the same weights."""

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors import safe_open

from benchmark.core.errors import PagebenchError
from benchmark.devtools import engine_checkpoints as layouts
from benchmark.retrievers import registry
from benchmark.retrievers.base import RetrieverOptions

# colqwen2.5: colpali-engine's ColQwen2_5, which the colqwen2 retriever runs (Qwen2.5-VL backbone)
FAMILIES = ["colpali", "colqwen2", "colqwen2.5"]
RETRIEVER = {"colpali": "colpali", "colqwen2": "colqwen2", "colqwen2.5": "colqwen2"}
BACKBONE = {"colpali": "paligemma", "colqwen2": "qwen2_vl", "colqwen2.5": "qwen2_5_vl"}
# parameter names the conversion scripts in transformers' repository read
# (convert_colpali_weights_to_hf.py strips the `model.` of colpali-engine's ColPali;
# convert_colqwen2_weights_to_hf.py renames custom_text_proj, `model.` and `visual.`)
ENGINE_KEYS = {
    "colpali": [
        "custom_text_proj.weight",
        "model.language_model.model.layers.0.self_attn.q_proj.weight",
        "model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight",
        "model.multi_modal_projector.linear.weight",
    ],
    "colqwen2": [
        "custom_text_proj.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.embed_tokens.weight",
        "visual.blocks.0.attn.qkv.weight",
    ],
}
ENGINE_KEYS["colqwen2.5"] = ENGINE_KEYS["colqwen2"]
TEXTS = ["how do i install debian", "what is a package"]


@pytest.fixture(scope="module")
def engine_checkpoints(tmp_path_factory):
    """Per family: the native tiny model, the same weights in colpali-engine's layout,
    a LoRA adapter over it, and a training run's checkpoint-N/ (another adapter)."""
    root = tmp_path_factory.mktemp("engine-checkpoints")
    built = {}
    for family in FAMILIES:
        native, engine = root / f"{family}-native", root / f"{family}-engine"
        layouts.build_colpali_engine(engine, family, native_folder=native)
        adapter = layouts.build_colpali_engine_adapter(root / f"{family}-adapter", engine, family)
        run = layouts.build_training_checkpoint(root / f"{family}-run", engine, family, step=8)
        built[family] = {"native": native, "engine": engine, "adapter": adapter, "run": run}
    return built


def embeddings(family: str, checkpoint, images) -> list:
    options = RetrieverOptions(checkpoint=str(checkpoint), dtype="float32", device="cpu")
    retriever = registry.create(RETRIEVER[family], options)
    with torch.inference_mode():
        queries = retriever.embed_queries(TEXTS)
        if not images:
            return queries
        return queries + retriever._unmasked_vectors(retriever.processor.process_images(images=images))


def pages():
    return [Image.new("RGB", (64, 80), "white"), Image.new("RGB", (96, 64), (20, 90, 200))]


def native_with_adapter_merged(family: str, built: dict, adapter_folder):
    """The native tiny model with the adapter merged by hand (W + B A alpha/r; a module
    saved whole replaces the base's), in transformers' names: an independent account of
    what the adapter means."""
    model = layouts._native_model(family, built["native"])
    native_of = {layouts.engine_name(key, family): key for key in model.state_dict()}
    scale = layouts.LORA_ALPHA / layouts.LORA_RANK
    state = model.state_dict()
    with safe_open(str(adapter_folder / "adapter_model.safetensors"), "pt") as adapter:
        keys = [key.removeprefix("base_model.model.") for key in adapter.keys()]
        assert keys, "the adapter changes nothing"
        for key in keys:
            if ".lora_" not in key:
                state[native_of[key]] = adapter.get_tensor(f"base_model.model.{key}")
            elif key.endswith(".lora_A.weight"):
                module = key.removesuffix(".lora_A.weight")
                down = adapter.get_tensor(f"base_model.model.{module}.lora_A.weight")
                up = adapter.get_tensor(f"base_model.model.{module}.lora_B.weight")
                state[native_of[module + ".weight"]] += (up @ down) * scale
    model.load_state_dict(state)
    return model


@pytest.mark.parametrize("family", FAMILIES)
def test_the_tiny_layout_uses_colpali_engine_names(family, engine_checkpoints):
    with safe_open(str(engine_checkpoints[family]["engine"] / "model.safetensors"), "pt") as weights:
        keys = set(weights.keys())
    assert set(ENGINE_KEYS[family]) <= keys
    assert not any(key.startswith(("vlm.", "embedding_proj_layer")) for key in keys)
    config = json.loads((engine_checkpoints[family]["engine"] / "config.json").read_text())
    assert config["model_type"] == BACKBONE[family]


@pytest.mark.parametrize("family", FAMILIES)
def test_a_full_fine_tune_embeds_as_the_native_model(family, engine_checkpoints):
    built = engine_checkpoints[family]
    ours = embeddings(family, built["engine"], pages())
    expected = embeddings(family, built["native"], pages())
    assert len(ours) == len(expected) == 4
    for vectors, reference in zip(ours, expected, strict=True):
        assert torch.equal(vectors, reference)


@pytest.mark.parametrize("family", FAMILIES)
def test_an_adapter_is_merged_into_its_base(family, engine_checkpoints):
    built = engine_checkpoints[family]
    retriever = registry.create(
        RETRIEVER[family], RetrieverOptions(checkpoint=str(built["adapter"]), dtype="float32", device="cpu")
    )
    merged_by_hand = native_with_adapter_merged(family, built, built["adapter"])
    ours = retriever.model.state_dict()
    for key, tensor in merged_by_hand.state_dict().items():
        torch.testing.assert_close(ours[key], tensor, rtol=1e-6, atol=1e-6, msg=key)
    # the adapter did change the model: the base alone embeds queries differently
    base = embeddings(family, built["engine"], [])
    with torch.inference_mode():
        adapted = retriever.embed_queries(TEXTS)
    assert not torch.allclose(adapted[0], base[0])
    described = retriever.describe()
    assert described["checkpoint_format"] == "colpali-engine adapter"
    assert described["parameters"]["backbone"] == BACKBONE[family]
    assert described["base_model"]["checkpoint"] == str(built["engine"])
    assert described["base_model"]["format"] == "colpali-engine"
    assert described["adapter"]["checkpoint"] == str(built["adapter"])
    assert set(described["base_model"]) >= {"revision", "resolved_revision"}


def test_a_head_trained_whole_replaces_the_base_head(engine_checkpoints, tmp_path):
    """colpali-engine configs may train custom_text_proj whole (peft's modules_to_save)."""
    built = engine_checkpoints["colpali"]
    adapter = layouts.build_colpali_engine_adapter(
        tmp_path / "adapter", built["engine"], "colpali", head_trained_whole=True
    )
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["modules_to_save"] == ["custom_text_proj"]
    retriever = registry.create(
        "colpali", RetrieverOptions(checkpoint=str(adapter), dtype="float32", device="cpu")
    )
    ours = retriever.model.state_dict()
    for key, tensor in native_with_adapter_merged("colpali", built, adapter).state_dict().items():
        torch.testing.assert_close(ours[key], tensor, rtol=1e-6, atol=1e-6, msg=key)
    with safe_open(str(adapter / "adapter_model.safetensors"), "pt") as weights:
        head = weights.get_tensor("base_model.model.custom_text_proj.weight")
    assert torch.equal(ours["embedding_proj_layer.weight"], head)


def test_a_training_checkpoint_runs_end_to_end(engine_checkpoints, cli, tmp_path):
    run = engine_checkpoints["colqwen2"]["run"]
    assert (run / "trainer_state.json").is_file() and (run / "optimizer.pt").is_file()
    args = ["run", "--task", "debian-faq-en", "--retriever", "colqwen2", "--checkpoint", run]
    code, _, err = cli(*args, "--output-dir", tmp_path, "--run-name", "trained", "--no-progress")
    assert code == 0, err
    result = json.loads((tmp_path / "trained" / "debian-faq-en.json").read_text())
    described = result["retriever"]
    assert described["checkpoint"] == str(run)
    assert described["checkpoint_format"] == "colpali-engine adapter"
    assert described["base_model"]["checkpoint"] == str(engine_checkpoints["colqwen2"]["engine"])
    assert len(result["per_query"]) == 123


def test_a_plain_backbone_without_the_head_is_refused(engine_checkpoints, tmp_path):
    from safetensors.torch import load_file, save_file

    engine = engine_checkpoints["colqwen2"]["engine"]
    plain = tmp_path / "plain-qwen2-vl"
    plain.mkdir()
    weights = load_file(str(engine / "model.safetensors"))
    weights = {key: value for key, value in weights.items() if "custom_text_proj" not in key}
    save_file(weights, str(plain / "model.safetensors"))
    (plain / "config.json").write_text((engine / "config.json").read_text())
    with pytest.raises(PagebenchError, match="without colpali-engine's custom_text_proj head"):
        registry.create("colqwen2", RetrieverOptions(checkpoint=str(plain), device="cpu"))


def test_a_parameter_with_no_place_is_named(engine_checkpoints, tmp_path):
    from safetensors.torch import load_file, save_file

    engine = engine_checkpoints["colpali"]["engine"]
    odd = tmp_path / "odd"
    odd.mkdir()
    weights = load_file(str(engine / "model.safetensors"))
    weights["model.extra_head.weight"] = torch.zeros(2, 2)
    save_file(weights, str(odd / "model.safetensors"))
    (odd / "config.json").write_text((engine / "config.json").read_text())
    with pytest.raises(PagebenchError, match="'model.extra_head.weight' has no place in ColPaliForRetrieval"):
        registry.create("colpali", RetrieverOptions(checkpoint=str(odd), device="cpu"))


def fake_hub_snapshot(cache, repo: str, commit: str, source) -> None:
    """`source`'s files as the hub cache holds a download of `repo` at `commit`."""
    import shutil

    repo_folder = cache / f"models--{repo.replace('/', '--')}"
    shutil.copytree(source, repo_folder / "snapshots" / commit)
    (repo_folder / "refs").mkdir()
    (repo_folder / "refs" / "main").write_text(commit)


def test_a_published_adapter_and_its_base_load_from_the_hub_cache(engine_checkpoints, tmp_path, monkeypatch):
    """The hub path (as for vidore/colqwen2-v1.0 over vidore/colqwen2-base), offline from
    a populated cache: both commits are recorded."""
    import huggingface_hub.constants

    built = engine_checkpoints["colqwen2"]
    cache = tmp_path / "hub"
    adapter_commit, base_commit = "a" * 40, "b" * 40
    fake_hub_snapshot(cache, "vidore/colqwen2-base", base_commit, built["engine"])
    fake_hub_snapshot(cache, "vidore/colqwen2-v1.0", adapter_commit, built["adapter"])
    adapter_config = (
        cache / "models--vidore--colqwen2-v1.0" / "snapshots" / adapter_commit / "adapter_config.json"
    )
    config = json.loads(adapter_config.read_text())
    adapter_config.write_text(json.dumps({**config, "base_model_name_or_path": "vidore/colqwen2-base"}))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))

    options = RetrieverOptions(checkpoint="vidore/colqwen2-v1.0", dtype="float32", device="cpu")
    described = registry.create("colqwen2", options).describe()
    assert described["resolved_revision"] == adapter_commit
    assert described["adapter"] == {
        "checkpoint": "vidore/colqwen2-v1.0",
        "revision": None,
        "resolved_revision": adapter_commit,
    }
    assert described["base_model"] == {
        "checkpoint": "vidore/colqwen2-base",
        "revision": None,
        "resolved_revision": base_commit,
        "format": "colpali-engine",
    }


@pytest.mark.parametrize(
    ("family", "engine", "native"),
    [
        # colpali-engine trained under transformers >= 4.52 (PaliGemma nests its own `model.`)
        (
            "colpali",
            "model.model.language_model.layers.0.mlp.up_proj.weight",
            "vlm.language_model.layers.0.mlp.up_proj.weight",
        ),
        (
            "colpali",
            "model.model.vision_tower.vision_model.post_layernorm.bias",
            "vlm.vision_tower.post_layernorm.bias",
        ),
        ("colpali", "model.lm_head.weight", None),
        ("colpali", "model.language_model.lm_head.weight", None),
        # Qwen2-VL under transformers >= 4.52, and colpali-engine's ColQwen2 over Qwen2VLModel
        (
            "colqwen2",
            "model.language_model.layers.0.mlp.up_proj.weight",
            "vlm.language_model.layers.0.mlp.up_proj.weight",
        ),
        ("colqwen2", "model.visual.merger.ln_q.weight", "vlm.visual.merger.ln_q.weight"),
        ("colqwen2", "language_model.norm.weight", "vlm.language_model.norm.weight"),
        ("colqwen2", "lm_head.weight", None),
        # transformers-native names are left as they are (an adapter trained on a -hf model)
        ("colqwen2", "vlm.language_model.norm.weight", "vlm.language_model.norm.weight"),
        ("colpali", "embedding_proj_layer.weight", "embedding_proj_layer.weight"),
    ],
)
def test_names_of_other_transformers_versions_map_too(family, engine, native):
    from benchmark.retrievers.colpali_engine_format import FAMILIES as ENGINE_FAMILIES

    assert ENGINE_FAMILIES[family].native_name(engine) == native


def test_damaged_adapter_weights_are_named(engine_checkpoints, cli, tmp_path):
    import shutil

    adapter = Path(shutil.copytree(engine_checkpoints["colpali"]["adapter"], tmp_path / "checkpoint-3"))
    weights = adapter / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:500])
    code, _, err = cli(
        "run", "--task", "debian-faq-en", "--retriever", "colpali", "--checkpoint", adapter,
        "--output-dir", tmp_path / "out", "--no-progress",
    )  # fmt: skip
    assert code == 2 and "Traceback" not in err
    assert f"colpali: cannot load the weights in {weights}" in err.strip().splitlines()[-1]


def test_an_adapter_for_another_base_is_refused(engine_checkpoints, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    adapter = Path(shutil.copytree(engine_checkpoints["colqwen2"]["adapter"], tmp_path / "adapter"))
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    save_file(
        {key: torch.cat([value, value]) for key, value in weights.items()},
        str(adapter / "adapter_model.safetensors"),
    )
    with pytest.raises(PagebenchError, match=f"the adapter in {adapter} does not fit its base model"):
        registry.create("colqwen2", RetrieverOptions(checkpoint=str(adapter), device="cpu"))


def test_downloading_an_adapter_fetches_its_base_too(engine_checkpoints, tmp_path, monkeypatch):
    """For `pagebench download`: the cache then holds everything an offline run reads."""
    import huggingface_hub.constants

    from benchmark.retrievers.hf_loading import download_checkpoint

    built = engine_checkpoints["colpali"]
    cache = tmp_path / "hub"
    fake_hub_snapshot(cache, "vidore/colpaligemma-3b-pt-448-base", "c" * 40, built["engine"])
    fake_hub_snapshot(cache, "vidore/colpali-v1.3", "d" * 40, built["adapter"])
    adapter_config = cache / "models--vidore--colpali-v1.3" / "snapshots" / ("d" * 40) / "adapter_config.json"
    config = json.loads(adapter_config.read_text())
    config["base_model_name_or_path"] = "vidore/colpaligemma-3b-pt-448-base"
    adapter_config.write_text(json.dumps(config))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    folders = download_checkpoint("vidore/colpali-v1.3", None, "colpali")
    assert [folder.name for folder in folders] == ["d" * 40, "c" * 40]


def test_an_adapter_with_its_head_may_sit_on_the_plain_backbone(engine_checkpoints, tmp_path):
    """Trained from e.g. Qwen/Qwen2-VL-2B-Instruct, with custom_text_proj saved whole."""
    from safetensors.torch import load_file, save_file

    built = engine_checkpoints["colqwen2"]
    plain = tmp_path / "qwen2-vl-instruct"
    plain.mkdir()
    weights = load_file(str(built["engine"] / "model.safetensors"))
    save_file(
        {k: v for k, v in weights.items() if "custom_text_proj" not in k}, str(plain / "model.safetensors")
    )
    (plain / "config.json").write_text((built["engine"] / "config.json").read_text())
    for name in ("tokenizer.json", "tokenizer_config.json", "processor_config.json"):
        if (built["engine"] / name).is_file():
            (plain / name).write_bytes((built["engine"] / name).read_bytes())
    adapter = layouts.build_colpali_engine_adapter(
        tmp_path / "adapter", built["engine"], "colqwen2", head_trained_whole=True
    )
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(
        json.dumps({**config, "base_model_name_or_path": str(plain)})
    )

    retriever = registry.create(
        "colqwen2", RetrieverOptions(checkpoint=str(adapter), dtype="float32", device="cpu")
    )
    ours = retriever.model.state_dict()
    for key, tensor in native_with_adapter_merged("colqwen2", built, adapter).state_dict().items():
        torch.testing.assert_close(ours[key], tensor, rtol=1e-6, atol=1e-6, msg=key)
    # LoRA on a head the base does not have cannot be merged
    lora_only = layouts.build_colpali_engine_adapter(tmp_path / "lora-only", built["engine"], "colqwen2")
    config = json.loads((lora_only / "adapter_config.json").read_text())
    (lora_only / "adapter_config.json").write_text(
        json.dumps({**config, "base_model_name_or_path": str(plain)})
    )
    with pytest.raises(PagebenchError, match="without colpali-engine's custom_text_proj head"):
        registry.create("colqwen2", RetrieverOptions(checkpoint=str(lora_only), device="cpu"))
