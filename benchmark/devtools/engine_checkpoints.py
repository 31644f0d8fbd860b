"""Tiny checkpoints in colpali-engine's layout, for tests and for trying the commands offline.

The tiny ColPali / ColQwen2 / ColQwen2.5 of benchmark.devtools.tiny_checkpoints, saved
as colpali-engine saves them: a full model (the backbone's config.json, weights in
colpali-engine's parameter names), a LoRA adapter over it (PEFT's file layout,
colpali-engine's module names), and a training run's `checkpoint-N/`. The names come
from renaming the native model's state dict: each has a transformers-native twin with
the same weights to compare against.

    python -m benchmark.devtools.engine_checkpoints colqwen2 /tmp/base --run /tmp/run
    pagebench run --task debian-faq-en --retriever colqwen2 --checkpoint /tmp/run/checkpoint-8
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from benchmark.devtools.tiny_checkpoints import BUILDERS, SEED

# transformers' parameter names -> colpali-engine's, as saved by colpali-engine with the
# transformers of the published checkpoints (< 4.52): the inverse of transformers'
# convert_colpali_weights_to_hf.py / convert_colqwen2_weights_to_hf.py renaming.
ENGINE_NAMES = {
    "colpali": [
        ("embedding_proj_layer.", "custom_text_proj."),
        ("vlm.vision_tower.", "model.vision_tower.vision_model."),
        ("vlm.multi_modal_projector.", "model.multi_modal_projector."),
        ("vlm.language_model.", "model.language_model.model."),
    ],
    "colqwen2": [
        ("embedding_proj_layer.", "custom_text_proj."),
        ("vlm.visual.", "visual."),
        ("vlm.language_model.", "model."),
    ],
}
ENGINE_NAMES["colqwen2.5"] = ENGINE_NAMES["colqwen2"]  # colpali-engine's ColQwen2_5 is laid out alike
ENGINE_ARCHITECTURES = {"colpali": "ColPali", "colqwen2": "ColQwen2", "colqwen2.5": "ColQwen2_5"}
# the LoRA targets colpali-engine's training configs use (attention of the language
# model, and the projection head), as a regular expression over its module names
ENGINE_LORA_TARGETS = {
    "colpali": r"(.*(language_model).*(q_proj|v_proj).*$|.*(custom_text_proj).*$)",
    "colqwen2": r"(.*(model).*(q_proj|v_proj).*$|.*(custom_text_proj).*$)",
}
ENGINE_LORA_TARGETS["colqwen2.5"] = ENGINE_LORA_TARGETS["colqwen2"]
LORA_RANK, LORA_ALPHA = 4, 8


def engine_name(native: str, family: str) -> str:
    for native_prefix, engine_prefix in ENGINE_NAMES[family]:
        if native.startswith(native_prefix):
            return engine_prefix + native[len(native_prefix) :]
    raise ValueError(f"no colpali-engine name for {native}")


def build_colpali_engine(folder: Path, family: str = "colpali", native_folder: Path | None = None) -> Path:
    """A full fine-tune as colpali-engine saves it: the backbone's config.json, weights in
    colpali-engine's names. Its weights are those of the native tiny model (built in
    `native_folder` when given, so a test can load both)."""
    from safetensors.torch import save_file

    native_folder = native_folder or folder.with_name(folder.name + "-native")
    BUILDERS[family](native_folder)
    model = _native_model(family, native_folder)
    state = {engine_name(key, family): tensor.contiguous() for key, tensor in model.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = model.config.vlm_config.to_dict()
    config["architectures"] = [ENGINE_ARCHITECTURES[family]]
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    _processor_class(family).from_pretrained(native_folder).save_pretrained(folder)
    return folder


def build_colpali_engine_adapter(
    adapter_folder: Path, base_folder: Path, family: str = "colpali", head_trained_whole: bool = False
) -> Path:
    """A LoRA adapter as colpali-engine training saves it (PEFT's file layout, colpali-engine's
    module names) over the colpali-engine model in `base_folder`; no processor files, as
    in a training run's checkpoint-N/. Its weights are random and not zero. With
    `head_trained_whole`, custom_text_proj is saved whole (peft's modules_to_save)
    instead of getting LoRA weights."""
    import torch
    from safetensors.torch import load_file, save_file

    torch.manual_seed(SEED + 2)
    base = load_file(str(base_folder / "model.safetensors"))
    targets = ENGINE_LORA_TARGETS[family]
    if head_trained_whole:
        targets = targets.replace(r"|.*(custom_text_proj).*$", "")
    pattern = re.compile(targets)
    adapter = {}
    for key, weight in sorted(base.items()):
        module = key.removesuffix(".weight")
        if head_trained_whole and key.startswith("custom_text_proj."):
            adapter[f"base_model.model.{key}"] = torch.randn(weight.shape) * 0.1
        elif key.endswith(".weight") and weight.dim() == 2 and pattern.fullmatch(module):
            prefix = f"base_model.model.{module}"
            adapter[f"{prefix}.lora_A.weight"] = torch.randn(LORA_RANK, weight.shape[1]) * 0.1
            adapter[f"{prefix}.lora_B.weight"] = torch.randn(weight.shape[0], LORA_RANK) * 0.1
    adapter_folder.mkdir(parents=True, exist_ok=True)
    save_file(adapter, str(adapter_folder / "adapter_model.safetensors"), metadata={"format": "pt"})
    config = {
        "peft_type": "LORA",
        "task_type": "FEATURE_EXTRACTION",
        "base_model_name_or_path": str(base_folder),
        "revision": None,
        "r": LORA_RANK,
        "lora_alpha": LORA_ALPHA,
        "lora_dropout": 0.1,
        "bias": "none",
        "init_lora_weights": "gaussian",
        "fan_in_fan_out": False,
        "use_rslora": False,
        "inference_mode": True,
        "modules_to_save": ["custom_text_proj"] if head_trained_whole else None,
        "target_modules": targets,
    }
    (adapter_folder / "adapter_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return adapter_folder


def build_training_checkpoint(
    run_folder: Path, base_folder: Path, family: str = "colqwen2", step: int = 8
) -> Path:
    """A training run's `checkpoint-N/`: the adapter beside the trainer's own files."""
    import torch

    checkpoint = build_colpali_engine_adapter(run_folder / f"checkpoint-{step}", base_folder, family)
    state = {"global_step": step, "epoch": 1.0, "log_history": [{"loss": 0.5, "step": step}]}
    (checkpoint / "trainer_state.json").write_text(json.dumps(state), encoding="utf-8")
    torch.save({"state": {}, "param_groups": []}, checkpoint / "optimizer.pt")
    torch.save({"python": None}, checkpoint / "rng_state.pth")
    return checkpoint


def _native_model(family: str, folder: Path):
    import transformers

    model_class = "ColPaliForRetrieval" if family == "colpali" else "ColQwen2ForRetrieval"
    return getattr(transformers, model_class).from_pretrained(folder, local_files_only=True)


def _processor_class(family: str):
    import transformers

    return getattr(transformers, "ColPaliProcessor" if family == "colpali" else "ColQwen2Processor")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("family", choices=sorted(ENGINE_ARCHITECTURES))
    parser.add_argument("folder", type=Path, help="the full model, in colpali-engine's layout")
    parser.add_argument("--adapter", type=Path, help="also a LoRA adapter over it, here")
    parser.add_argument("--run", type=Path, help="also a training run here, with its checkpoint-8/")
    args = parser.parse_args()
    from benchmark.retrievers.hf_loading import quiet_transformers

    quiet_transformers()
    base = build_colpali_engine(args.folder, args.family).resolve()
    print(base)
    if args.adapter is not None:
        print(build_colpali_engine_adapter(args.adapter, base, args.family))
    if args.run is not None:
        print(build_training_checkpoint(args.run, base, args.family))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
