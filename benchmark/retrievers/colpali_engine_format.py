"""Checkpoints written by colpali-engine, loaded into transformers' own retrieval classes.

colpali-engine (the ColPali authors' training library) saves ColPali and ColQwen2 in
its own parameter names: its `ColPali` wraps a `PaliGemmaForConditionalGeneration` as
`model` and adds a `custom_text_proj` head; its `ColQwen2` *is* a
`Qwen2VLForConditionalGeneration` (text decoder under `model.`, vision under
`visual.`) with the same head. Published checkpoints (`vidore/colpali-v1.3`,
`vidore/colqwen2-v1.0`, `vidore/colqwen2.5-v0.2`) and a training run's `checkpoint-N/`
folders are PEFT LoRA adapters in those names over a base model in those names.

transformers' conversion scripts (convert_colpali_weights_to_hf.py,
convert_colqwen2_weights_to_hf.py) give the mapping: `custom_text_proj` becomes
`embedding_proj_layer`, everything else moves under `vlm`. Names also moved when
transformers 4.52 nested the language model (`model.language_model.model.X` then,
`model.model.language_model.X` after); both spellings are accepted, and every key must
land on a parameter of the transformers model, else the load stops naming the key.

The adapter is renamed the same way (its keys and its target modules), then applied
and merged with `peft` itself, so LoRA arithmetic (scaling, rsLoRA, DoRA) is peft's.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import PagebenchError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ENGINE_HEAD = "custom_text_proj."
NATIVE_HEAD = "embedding_proj_layer."
# the backbone model types colpali-engine's ColPali and ColQwen2(.5) are saved as
ENGINE_BACKBONES = {"colpali": {"paligemma"}, "colqwen2": {"qwen2_vl", "qwen2_5_vl"}}
_LORA_PARTS = ("lora_A", "lora_B", "lora_embedding_A", "lora_embedding_B", "lora_magnitude_vector")


@dataclass(frozen=True)
class EngineFamily:
    """How one retriever family's colpali-engine names map onto transformers' names."""

    name: str  # "colpali" or "colqwen2"
    config_class: str
    model_class: str

    def native_name(self, key: str) -> str | None:
        """transformers' name for a colpali-engine (or plain backbone) parameter name;
        None for the language-model head, which retrieval does not use."""
        if key.startswith(ENGINE_HEAD):
            return NATIVE_HEAD + key[len(ENGINE_HEAD) :]
        return (_paligemma_name if self.name == "colpali" else _qwen2_vl_name)(key)


FAMILIES = {
    "colpali": EngineFamily("colpali", "ColPaliConfig", "ColPaliForRetrieval"),
    "colqwen2": EngineFamily("colqwen2", "ColQwen2Config", "ColQwen2ForRetrieval"),
}


def _paligemma_name(key: str) -> str | None:
    # ColPali's `model.` wrapper, then (transformers >= 4.52) PaliGemma's own `model.`
    while key.startswith("model."):
        key = key[len("model.") :]
    if key == "lm_head.weight" or key.startswith("language_model.lm_head."):
        return None
    for engine, native in (
        ("vision_tower.vision_model.", "vlm.vision_tower."),
        ("vision_tower.", "vlm.vision_tower."),
        ("multi_modal_projector.", "vlm.multi_modal_projector."),
        ("language_model.model.", "vlm.language_model."),  # GemmaForCausalLM, before 4.52
        ("language_model.", "vlm.language_model."),
    ):
        if key.startswith(engine):
            return native + key[len(engine) :]
    return key  # unknown: the caller reports it as a parameter the model lacks


def _qwen2_vl_name(key: str) -> str | None:
    if key == "lm_head.weight":
        return None
    if key.startswith(("model.visual.", "model.language_model.")):  # transformers >= 4.52
        key = key[len("model.") :]
    elif key.startswith("model."):  # the text decoder, before 4.52 (the conversion script's case)
        key = "language_model." + key[len("model.") :]
    if key.startswith(("visual.", "language_model.")):
        return "vlm." + key
    return key


# --- reading a folder -----------------------------------------------------------------


def folder_layout(folder: Path, family: str) -> str:
    """The folder's layout: "adapter", "engine" (a full colpali-engine model) or "native"
    (transformers' -hf format)."""
    if (folder / ADAPTER_CONFIG).is_file():
        return "adapter"
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise PagebenchError(f"{family}: {folder} has neither config.json nor {ADAPTER_CONFIG}")
    model_type = _json(config_path).get("model_type")
    if model_type in ENGINE_BACKBONES.get(family, set()):
        return "engine"
    return "native"


def read_adapter_config(folder: Path, family: str) -> dict:
    path = folder / ADAPTER_CONFIG
    config = _json(path)
    if not config.get("base_model_name_or_path"):
        raise PagebenchError(f"{family}: {path} names no base model (base_model_name_or_path)")
    if config.get("peft_type", "LORA") != "LORA":
        raise PagebenchError(f"{family}: {path} is a {config['peft_type']} adapter; only LoRA is supported")
    if not (folder / ADAPTER_WEIGHTS).is_file():
        raise PagebenchError(f"{family}: {folder} has {ADAPTER_CONFIG} but no {ADAPTER_WEIGHTS}")
    return config


def load_engine_model(folder: Path, family: EngineFamily, dtype, head: dict | None = None):
    """A full colpali-engine checkpoint folder as transformers' retrieval model.

    `head`: the projection head an adapter trained whole (see `adapter_head`), which
    lets the base be the plain backbone (e.g. Qwen/Qwen2-VL-2B-Instruct), without one."""
    import transformers
    from transformers.initialization import no_init_weights

    state = _read_safetensors(folder, family.name)
    if head and not any(key.startswith(ENGINE_HEAD) for key in state):
        state.update({ENGINE_HEAD + name: tensor for name, tensor in head.items()})
    if not any(key.startswith(ENGINE_HEAD) for key in state):
        raise PagebenchError(
            f"{family.name}: {folder} holds a plain {_json(folder / 'config.json').get('model_type')} "
            f"model without colpali-engine's {ENGINE_HEAD.rstrip('.')} head: not a {family.name} "
            "checkpoint (train one with colpali-engine, or point at a -hf checkpoint)"
        )
    vlm_config = transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)
    embedding_dim = state[ENGINE_HEAD + "weight"].shape[0]
    config = getattr(transformers, family.config_class)(vlm_config=vlm_config, embedding_dim=embedding_dim)
    # every weight is loaded (strictly) below: skip the random initialisation, which for
    # a 3B model takes longer than reading the weights
    with no_init_weights():
        model = getattr(transformers, family.model_class)(config)
    _load_renamed(model, state, family, folder)
    return model.to(dtype).eval()


def _load_renamed(model, state: dict, family: EngineFamily, folder: Path) -> None:
    renamed = {}
    for key, tensor in state.items():
        native = family.native_name(key)
        if native is not None:
            renamed[native] = tensor
    expected = set(model.state_dict())
    unknown = sorted(set(renamed) - expected)
    if unknown:
        original = next(key for key in state if family.native_name(key) == unknown[0])
        raise PagebenchError(
            f"{family.name}: {folder}: parameter {original!r} has no place in "
            f"{family.model_class} (not colpali-engine's {family.name} layout?)"
        )
    missing = sorted(expected - set(renamed))
    if missing:
        raise PagebenchError(
            f"{family.name}: {folder} lacks weights for {missing[0]!r} ({len(missing)} missing)"
        )
    model.load_state_dict(renamed, strict=True)


def adapter_head(folder: Path) -> dict:
    """The projection head's parameters if the adapter trained it whole (peft's
    modules_to_save) rather than adapting it with LoRA; else empty."""
    from safetensors import SafetensorError, safe_open

    head = {}
    try:
        with safe_open(str(folder / ADAPTER_WEIGHTS), framework="pt") as weights:
            for key in weights.keys():
                module, part = _split_adapter_key(key)
                if module in (ENGINE_HEAD.rstrip("."), NATIVE_HEAD.rstrip(".")) and part in (
                    "weight",
                    "bias",
                ):
                    head[part] = weights.get_tensor(key)
    except (SafetensorError, OSError):
        return {}  # merge_engine_adapter names the damaged file
    return head


def merge_engine_adapter(model, folder: Path, adapter_config: dict, family: EngineFamily):
    """Apply a colpali-engine LoRA adapter (its names) to `model` and merge it, with peft."""
    from peft import PeftModel
    from safetensors import SafetensorError
    from safetensors.torch import load_file, save_file

    try:
        weights = load_file(str(folder / ADAPTER_WEIGHTS))
    except (SafetensorError, OSError) as error:
        raise PagebenchError(
            f"{family.name}: cannot load the weights in {folder / ADAPTER_WEIGHTS}: {error}"
        ) from None
    renamed, targets, saved_whole = {}, set(), set()
    for key, tensor in weights.items():
        module, part = _split_adapter_key(key)
        native_module = _native_module(module, family, folder)
        if part.split(".")[0] in _LORA_PARTS:
            targets.add(native_module)
        else:  # a module trained whole (peft's modules_to_save), e.g. the projection head
            saved_whole.add(native_module)
        renamed[f"base_model.model.{native_module}.{part}"] = tensor
    config = dict(adapter_config)
    for pattern in ("rank_pattern", "alpha_pattern"):
        if config.get(pattern):  # keyed by colpali-engine module names we would have to rewrite
            raise PagebenchError(
                f"{family.name}: {folder / ADAPTER_CONFIG} uses {pattern}, which is not supported"
            )
    config.update(
        target_modules=sorted(targets),
        modules_to_save=sorted(saved_whole) or None,
        task_type=None,
        base_model_name_or_path=None,
        layers_to_transform=None,
        layers_pattern=None,
    )
    with tempfile.TemporaryDirectory(prefix="pagebench-adapter-") as renamed_folder:
        Path(renamed_folder, ADAPTER_CONFIG).write_text(json.dumps(config), encoding="utf-8")
        save_file(renamed, str(Path(renamed_folder, ADAPTER_WEIGHTS)))
        with warnings.catch_warnings():  # peft calls a transformers method deprecated in 5.x
            warnings.filterwarnings("ignore", category=FutureWarning)
            try:
                merged = PeftModel.from_pretrained(model, renamed_folder).merge_and_unload()
            except (RuntimeError, ValueError, KeyError) as error:  # e.g. shapes of another base
                first_line = (
                    str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                )
                raise PagebenchError(
                    f"{family.name}: the adapter in {folder} does not fit its base model: {first_line}"
                ) from None
    return merged.eval()


def _split_adapter_key(key: str) -> tuple[str, str]:
    """`base_model.model.<module>.<lora part>` -> (<module>, <lora part>); for a module
    saved whole, `base_model.model.<module>[.modules_to_save].<parameter>` -> (<module>, <parameter>)."""
    parts = key.removeprefix("base_model.model.").split(".")
    for index, part in enumerate(parts):
        if part in _LORA_PARTS:
            return ".".join(parts[:index]), ".".join(parts[index:])
    module = ".".join(parts[:-1]).removesuffix(".modules_to_save")  # the marker of older peft
    return module, parts[-1]


def _native_module(module: str, family: EngineFamily, folder: Path) -> str:
    native = family.native_name(module + ".weight")
    if native is None:
        raise PagebenchError(
            f"{family.name}: {folder}: the adapter changes {module!r}, which retrieval drops"
        )
    return native.removesuffix(".weight")


def _read_safetensors(folder: Path, family: str) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    files = sorted(folder.glob("model*.safetensors"))
    if not files:
        raise PagebenchError(f"{family}: {folder} has no model*.safetensors weights")
    state = {}
    for path in files:
        try:
            state.update(load_file(str(path)))
        except (SafetensorError, OSError) as error:
            raise PagebenchError(f"{family}: cannot load the weights in {path}: {error}") from None
    return state


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PagebenchError(f"cannot read {path}: {error}") from None
