"""Tiny random checkpoints of the real model classes, for offline tests and profiling.

    python -m benchmark.devtools.tiny_checkpoints colpali /tmp/tiny-colpali
    pagebench run --task debian-faq-en --retriever colpali --checkpoint /tmp/tiny-colpali

Each is built with the same transformers classes as the published checkpoint
(ColPali, ColQwen2 and ColQwen2.5, ColModernVBert, PaliGemma for BiPali, SigLIP for BiSigLIP), a
word-level tokenizer trained on the bundled Debian FAQ questions, 64-pixel images and
2-layer towers, then saved
with `save_pretrained`: loading it exercises exactly the code path of a real
checkpoint, in a second, with no network. Scores are those of random weights.

The same tiny models in colpali-engine's layout: benchmark.devtools.engine_checkpoints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.tasks.catalog import spec_root

IMAGE_SIZE = 64
# The SigLIP image tower of the tiny PaliGemma (ColPali, BiPali) and ModernVBert models.
TINY_SIGLIP_VISION = {
    "model_type": "siglip_vision_model",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": IMAGE_SIZE,
    "patch_size": 16,
}
EMBEDDING_DIM = 128
SEED = 0


def build_colpali(folder: Path) -> Path:
    from transformers import ColPaliConfig, ColPaliForRetrieval

    processor = _colpali_processor()
    config = ColPaliConfig(vlm_config=_paligemma_config(processor), embedding_dim=EMBEDDING_DIM)
    return _save(ColPaliForRetrieval, config, processor, folder)


def build_bipali(folder: Path, adapter_folder: Path | None = None) -> Path:
    """A PaliGemma base; with `adapter_folder`, also a LoRA adapter on it (weights not zero)."""
    from transformers import PaliGemmaForConditionalGeneration

    processor = _colpali_processor()
    _save(PaliGemmaForConditionalGeneration, _paligemma_config(processor), processor, folder)
    if adapter_folder is not None:
        import torch
        from peft import LoraConfig, get_peft_model

        torch.manual_seed(SEED + 1)
        base = PaliGemmaForConditionalGeneration.from_pretrained(folder)
        lora = LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        get_peft_model(base, lora).save_pretrained(adapter_folder)
    return folder


def build_colqwen2(folder: Path, backbone: str = "qwen2_vl") -> Path:
    """ColQwen2 over Qwen2-VL, or (`backbone="qwen2_5_vl"`) ColQwen2.5 over Qwen2.5-VL."""
    from transformers import (
        ColQwen2Config,
        ColQwen2ForRetrieval,
        ColQwen2Processor,
        Qwen2_5_VLConfig,
        Qwen2VLConfig,
        Qwen2VLImageProcessor,
    )

    specials = [
        "<|endoftext|>",
        "<|im_start|>",
        "<|im_end|>",
        "<|vision_start|>",
        "<|vision_end|>",
        "<|image_pad|>",
    ]
    tokenizer = _tokenizer([*specials, "<unk>"], image_token="<|image_pad|>", pad_token="<|endoftext|>")
    # between 4 and 64 merged patches: pages of different shapes get different numbers of vectors
    image_processor = Qwen2VLImageProcessor(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 64)
    processor = ColQwen2Processor(image_processor=image_processor, tokenizer=tokenizer)
    token = tokenizer.convert_tokens_to_ids
    vision_config = {"depth": 2, "embed_dim": 32, "hidden_size": 64, "num_heads": 2}
    if backbone == "qwen2_5_vl":  # windowed attention in all but the last block
        vision_config = {
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "out_hidden_size": 64,
            "num_heads": 2,
            "fullatt_block_indexes": [1],
        }
    vlm_config_class = Qwen2_5_VLConfig if backbone == "qwen2_5_vl" else Qwen2VLConfig
    vlm = vlm_config_class(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "bos_token_id": token("<|endoftext|>"),
            "eos_token_id": token("<|endoftext|>"),
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 6, 6]},
        },
        vision_config=vision_config,
        image_token_id=token("<|image_pad|>"),
        vision_start_token_id=token("<|vision_start|>"),
        vision_end_token_id=token("<|vision_end|>"),
    )
    return _save(
        ColQwen2ForRetrieval, ColQwen2Config(vlm_config=vlm, embedding_dim=EMBEDDING_DIM), processor, folder
    )


def build_colmodernvbert(folder: Path) -> Path:
    """ColModernVBert: SigLIP vision (64 px, no image splitting, pixel shuffle 2: 4 image
    tokens) into a 2-layer ModernBERT."""
    from transformers import (
        ColModernVBertConfig,
        ColModernVBertForRetrieval,
        ColModernVBertProcessor,
        Idefics3ImageProcessor,
    )

    tiles = [f"<row_{row}_col_{col}>" for row in range(1, 7) for col in range(1, 7)]
    specials = ["<pad>", "<|begin_of_text|>", "<|end_of_text|>", "<unk>", "<fake_token_around_image>"]
    specials += ["<image>", "<end_of_utterance>", "<global-img>", *tiles]
    tokenizer = _tokenizer(specials, image_token="<image>", pad_token="<pad>")
    image_processor = Idefics3ImageProcessor(
        do_image_splitting=False,
        size={"longest_edge": IMAGE_SIZE},
        max_image_size={"longest_edge": IMAGE_SIZE},
    )
    processor = ColModernVBertProcessor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=4)
    token = tokenizer.convert_tokens_to_ids
    text = {
        "model_type": "modernbert",
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "global_attn_every_n_layers": 1,
        "pad_token_id": token("<pad>"),
        "bos_token_id": token("<|begin_of_text|>"),
        "cls_token_id": token("<|begin_of_text|>"),
        "eos_token_id": token("<|end_of_text|>"),
        "sep_token_id": token("<|end_of_text|>"),
    }
    vision = dict(TINY_SIGLIP_VISION)
    vlm = {
        "model_type": "modernvbert",
        "text_config": text,
        "vision_config": vision,
        "image_token_id": token("<image>"),
        "pixel_shuffle_factor": 2,
    }
    config = ColModernVBertConfig(vlm_config=vlm, embedding_dim=EMBEDDING_DIM)
    return _save(ColModernVBertForRetrieval, config, processor, folder)


def build_siglip(folder: Path) -> Path:
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipProcessor

    tokenizer = _tokenizer(["<pad>", "</s>", "<unk>"], pad_token="<pad>", max_length=16)
    image_processor = SiglipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    processor = SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = SiglipConfig(
        text_config={
            **tower,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 16,
            "pad_token_id": 0,
            "bos_token_id": None,
            "eos_token_id": 1,
        },
        vision_config={**tower, "image_size": IMAGE_SIZE, "patch_size": 16},
    )
    return _save(SiglipModel, config, processor, folder)


def build_colqwen2_5(folder: Path) -> Path:
    return build_colqwen2(folder, backbone="qwen2_5_vl")


# Keyed by the retriever that loads the checkpoint (`--retriever bisiglip --checkpoint DIR`),
# or by a backbone variant of it (LOADED_BY).
BUILDERS = {
    "colpali": build_colpali,
    "colqwen2": build_colqwen2,
    "colqwen2.5": build_colqwen2_5,
    "colmodernvbert": build_colmodernvbert,
    "bipali": build_bipali,
    "bisiglip": build_siglip,
}
ALIASES = {"siglip": "bisiglip"}  # the name the builder once had, still accepted
LOADED_BY = {"colqwen2.5": "colqwen2"}  # a backbone variant: built apart, loaded by its family


def _colpali_processor():
    from transformers import ColPaliProcessor, SiglipImageProcessor

    tokenizer = _tokenizer(["<pad>", "<eos>", "<bos>", "<unk>", "<image>"], image_token="<image>")
    image_processor = SiglipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    image_processor.image_seq_length = (IMAGE_SIZE // 16) ** 2
    return ColPaliProcessor(image_processor=image_processor, tokenizer=tokenizer)  # adds 1152 location tokens


def _paligemma_config(processor):
    from transformers import PaliGemmaConfig

    return PaliGemmaConfig(
        vision_config={**TINY_SIGLIP_VISION, "projection_dim": 64},
        text_config={
            "model_type": "gemma",
            "vocab_size": len(processor.tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 32,
            "pad_token_id": processor.tokenizer.pad_token_id,
            "bos_token_id": processor.tokenizer.bos_token_id,
            "eos_token_id": processor.tokenizer.eos_token_id,
        },
        image_token_index=processor.image_token_id,
        projection_dim=64,
    )


def _tokenizer(
    specials: list[str], *, image_token: str | None = None, pad_token: str | None = None, max_length=None
):
    """A word-level tokenizer over the words of the bundled Debian FAQ questions."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(_vocabulary_sentences(), trainers.WordLevelTrainer(special_tokens=specials))
    named = {"unk_token": "<unk>", "pad_token": pad_token or specials[0]}
    if "<bos>" in specials:
        named.update(bos_token="<bos>", eos_token="<eos>")
    elif "</s>" in specials:
        named["eos_token"] = "</s>"
    else:
        named["eos_token"] = pad_token
    extra = {"image_token": image_token} if image_token else {}
    if image_token == "<|image_pad|>":
        extra.update(vision_bos_token="<|vision_start|>", vision_eos_token="<|vision_end|>")
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, extra_special_tokens=extra, model_max_length=max_length or 512, **named
    )


def _vocabulary_sentences() -> list[str]:
    import pyarrow.parquet as pq

    sentences = ["Question: Query: Describe the image. user"]
    for parquet in sorted((spec_root() / "debian_faq").glob("*/queries/*.parquet")):
        sentences.extend(pq.read_table(parquet, columns=["query"]).column("query").to_pylist())
    return sentences


def _save(model_class, config, processor, folder: Path) -> Path:
    import torch

    torch.manual_seed(SEED)
    model = model_class(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "kind", choices=[*sorted(BUILDERS), *sorted(ALIASES)], help="the retriever that will load it"
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--adapter", type=Path, help="bipali only: also write a LoRA adapter here")
    args = parser.parse_args(argv)
    from benchmark.retrievers.hf_loading import quiet_transformers

    quiet_transformers()
    kind = ALIASES.get(args.kind, args.kind)
    if kind == "bipali":
        build_bipali(args.folder, args.adapter)
    else:
        BUILDERS[kind](args.folder)
    print(args.folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
