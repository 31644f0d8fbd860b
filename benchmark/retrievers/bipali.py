"""BiPali: a PaliGemma backbone pooled to one vector per page and per query.

The ColPali paper's single-vector baseline: the last hidden states, averaged over
the real (unmasked) tokens, L2-normalised, compared by dot product. Inputs are
prepared as for ColPali (image prompt for pages, query prefix and augmentation
tokens for queries). The published checkpoint is a PEFT (LoRA) adapter: when the
checkpoint holds an `adapter_config.json`, its base model is loaded first and the
adapter merged into it with `peft`.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.core.types import PageBatch
from benchmark.retrievers.embedding import EmbeddingRetriever
from benchmark.retrievers.hf_loading import (
    Checkpoint,
    load_pretrained,
    locate_checkpoint,
    quiet_transformers,
    read_config,
)

ADAPTER_CONFIG = "adapter_config.json"


class BiPaliRetriever(EmbeddingRetriever):
    name = "bipali"
    multi_vector = False
    default_checkpoint = "vidore/bipali"

    def load(self) -> None:
        from transformers import ColPaliProcessor, PaliGemmaForConditionalGeneration

        checkpoint = locate_checkpoint(self.checkpoint_name, self.revision, self.name)
        adapter = _adapter_config(checkpoint)
        base = checkpoint
        if adapter is not None:
            base = locate_checkpoint(adapter["base_model_name_or_path"], None, self.name)
        config = read_config(base, {"paligemma"}, self.name)
        quiet_transformers()
        model = load_pretrained(PaliGemmaForConditionalGeneration, base, self.name, dtype=self.dtype)
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(
                model, checkpoint.source, **checkpoint.kwargs
            ).merge_and_unload()
            self.adapter_base = base.source
        self.backbone = model.model.to(self.device).eval()  # PaliGemmaModel: hidden states, no LM head
        try:  # an adapter may ship its own processor files; else the base model's are used
            self.processor = ColPaliProcessor.from_pretrained(checkpoint.source, **checkpoint.kwargs)
        except (OSError, ValueError, TypeError):
            self.processor = ColPaliProcessor.from_pretrained(base.source, **base.kwargs)
        self.processor.tokenizer.padding_side = "right"
        self.resolved_revision = getattr(config, "_commit_hash", None)

    def describe(self) -> dict:
        described = super().describe()
        described["parameters"]["adapter_base"] = getattr(self, "adapter_base", None)
        return described

    def page_inputs(self, batch: PageBatch):
        return self.processor.process_images(images=batch.images)

    def embed_page_inputs(self, inputs) -> list:
        return self._mean_pooled(inputs)

    def embed_queries(self, texts: list[str]) -> list:
        return self._mean_pooled(self.processor.process_queries(text=texts))

    def _mean_pooled(self, inputs) -> list:
        inputs = self.to_device(inputs)
        hidden = self.backbone(**inputs).last_hidden_state.float()
        mask = inputs["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
        pooled = pooled / pooled.norm(dim=-1, keepdim=True)
        return [vector.unsqueeze(0) for vector in pooled]


def _adapter_config(checkpoint: Checkpoint) -> dict | None:
    """The PEFT adapter config of a checkpoint, or None if it is a full model."""
    if checkpoint.local:
        path = Path(checkpoint.source) / ADAPTER_CONFIG
        if not path.is_file():
            return None
    else:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        try:
            path = hf_hub_download(checkpoint.source, ADAPTER_CONFIG, revision=checkpoint.revision)
        except EntryNotFoundError:
            return None
        except OSError as error:
            raise PagebenchError(f"bipali: cannot reach {checkpoint.source!r} on the hub: {error}") from None
    config = json.loads(Path(path).read_text(encoding="utf-8"))
    if "base_model_name_or_path" not in config:
        raise PagebenchError(f"bipali: {path} names no base model (base_model_name_or_path)")
    return config
