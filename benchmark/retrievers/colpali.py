"""ColPali and ColQwen2: one vector per page patch and per query token, MaxSim scoring.

Both run through transformers' own classes (ColPaliForRetrieval, ColQwen2ForRetrieval
and their processors). Queries go through the processor's query path, which adds the
query prefix and the augmentation tokens the models were trained with; the plain
text path would drop them and lower scores.

Batches are padded on the right: real tokens then keep the same positions whatever
else is in the batch, which (with the attention mask) makes scores independent of
the batch size. Every unmasked output vector is kept, as the official evaluation does.

A checkpoint may also be in colpali-engine's layout (a full model, or a LoRA adapter
such as `vidore/colpali-v1.3` or a training run's `checkpoint-N/`): the folder tells
which, and colpali_engine_format converts it (see there). The results then name the
base model, the adapter and both revisions.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.core.files import folder_state_hash
from benchmark.core.types import PageBatch
from benchmark.retrievers.colpali_engine_format import (
    ADAPTER_CONFIG,
    ENGINE_BACKBONES,
    FAMILIES,
    adapter_head,
    folder_layout,
    load_engine_model,
    merge_engine_adapter,
    read_adapter_config,
)
from benchmark.retrievers.embedding import EmbeddingRetriever
from benchmark.retrievers.hf_loading import (
    Checkpoint,
    hub_file,
    load_pretrained,
    locate_checkpoint,
    quiet_transformers,
    read_config,
    snapshot_folder,
)


class ColPaliRetriever(EmbeddingRetriever):
    name = "colpali"
    default_checkpoint = "vidore/colpali-v1.3-hf"
    model_type = "colpali"
    model_class = "ColPaliForRetrieval"
    processor_class = "ColPaliProcessor"
    official_dtype = "bfloat16"  # vidore-benchmark loads ColPali and ColQwen2 in bfloat16
    official_similarity = "maxsim"

    checkpoint_format = "transformers"
    base_model: dict | None = None  # for an adapter: the model it was trained on
    base_folder: Path | None = None

    def load(self) -> None:
        checkpoint = locate_checkpoint(self.checkpoint_name, self.revision, self.name)
        layout = self._layout(checkpoint)
        quiet_transformers()
        if layout == "native":
            self._load_native(checkpoint)
        else:
            self._load_colpali_engine(checkpoint, layout)
        self.processor.tokenizer.padding_side = "right"

    def _layout(self, checkpoint: Checkpoint) -> str:
        """The checkpoint's layout, "native", "engine" or "adapter" (see colpali_engine_format)."""
        if checkpoint.local:
            return folder_layout(Path(checkpoint.source), self.name)
        if hub_file(checkpoint, ADAPTER_CONFIG, self.name) is not None:
            return "adapter"
        config = hub_file(checkpoint, "config.json", self.name)
        if config is not None:
            model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
            if model_type in ENGINE_BACKBONES.get(self.model_type, set()):
                return "engine"
        return "native"

    def _load_native(self, checkpoint: Checkpoint) -> None:
        import transformers

        config = read_config(checkpoint, {self.model_type}, self.name, hint=_other_retriever_hint)
        model_class = getattr(transformers, self.model_class)
        processor_class = getattr(transformers, self.processor_class)
        self.model = load_pretrained(model_class, checkpoint, self.name, dtype=self.dtype)
        self.model.to(self.device).eval()
        self.processor = processor_class.from_pretrained(checkpoint.source, **checkpoint.kwargs)
        self.resolved_revision = getattr(config, "_commit_hash", None)

    def _load_colpali_engine(self, checkpoint: Checkpoint, layout: str) -> None:
        import transformers

        family = FAMILIES.get(self.model_type)
        if family is None:
            raise PagebenchError(
                f"{self.name}: {checkpoint.source} is a PEFT adapter (or a colpali-engine model), which "
                f"pagebench merges for {' and '.join(FAMILIES)} only; merge it into its base "
                f"(peft's merge_and_unload) and save it with {self.model_class}.save_pretrained"
            )
        folder, commit = snapshot_folder(checkpoint, self.name)
        self.resolved_revision = commit
        float32 = self.torch.float32  # merge in full precision, then cast once
        if layout == "engine":
            self.checkpoint_format = "colpali-engine"
            model = load_engine_model(folder, family, float32)
            processor_folders = [folder]
        else:
            self.checkpoint_format = "colpali-engine adapter"
            adapter_config = read_adapter_config(folder, self.name)
            base = locate_checkpoint(
                adapter_config["base_model_name_or_path"], adapter_config.get("revision"), self.name
            )
            self.base_folder, base_commit = snapshot_folder(base, self.name)
            base_layout = folder_layout(self.base_folder, self.name)
            self.base_model = {
                "checkpoint": base.source,
                "revision": base.revision,
                "resolved_revision": base_commit,
                "format": "colpali-engine" if base_layout == "engine" else "transformers",
            }
            if base_layout == "adapter":
                raise PagebenchError(
                    f"{self.name}: the base model of {folder} ({base.source}) is itself an adapter"
                )
            if base_layout == "engine":
                model = load_engine_model(self.base_folder, family, float32, head=adapter_head(folder))
            else:
                read_config(base, {self.model_type}, self.name, hint=_other_retriever_hint)
                model_class = getattr(transformers, self.model_class)
                model = load_pretrained(model_class, base, self.name, dtype=float32)
            model = merge_engine_adapter(model, folder, adapter_config, family)
            # a training run's checkpoint-N/ usually has no processor files: the base has them
            processor_folders = [folder, self.base_folder]
        self.model = model.to(self.device, dtype=self.dtype).eval()
        processor_class = getattr(transformers, self.processor_class)
        self.processor = _first_processor(processor_class, processor_folders, self.name)

    def describe(self) -> dict:
        described = super().describe()
        described["checkpoint_format"] = self.checkpoint_format
        # colqwen2 runs Qwen2-VL and Qwen2.5-VL (ColQwen2.5) backbones alike
        described["parameters"]["backbone"] = self.model.config.vlm_config.model_type
        if self.base_model is not None:
            described["base_model"] = self.base_model
            described["adapter"] = {
                "checkpoint": self.checkpoint_name,
                "revision": self.revision,
                "resolved_revision": self.resolved_revision,
            }
        return described

    def embedding_key(self) -> dict:
        key = super().embedding_key()
        if self.base_model is not None:  # the adapter's vectors change with its base too
            key["base_model"] = self.base_model
            key["base_model_files"] = folder_state_hash(self.base_folder)
        return key

    def page_inputs(self, batch: PageBatch):
        return self.processor.process_images(images=batch.images)

    def embed_page_inputs(self, inputs) -> list:
        return self._unmasked_vectors(inputs)

    def embed_queries(self, texts: list[str]) -> list:
        return self._unmasked_vectors(self.processor.process_queries(text=texts))

    def _unmasked_vectors(self, inputs) -> list:
        inputs = self.to_device(inputs)
        embeddings = self.model(**inputs).embeddings.float()
        mask = inputs["attention_mask"].bool()
        return [embeddings[row][mask[row]] for row in range(len(embeddings))]


class ColQwen2Retriever(ColPaliRetriever):
    """Same scoring; Qwen2-VL gives each page a number of vectors that depends on its size.

    ColQwen2ForRetrieval also runs a Qwen2.5-VL backbone, so ColQwen2.5 checkpoints
    (`vidore/colqwen2.5-v0.2`, colpali-engine's ColQwen2_5) run here too; the results
    name the backbone."""

    name = "colqwen2"
    default_checkpoint = "vidore/colqwen2-v1.0-hf"
    model_type = "colqwen2"
    model_class = "ColQwen2ForRetrieval"
    processor_class = "ColQwen2Processor"


def _first_processor(processor_class, folders: list[Path], retriever: str):
    """The processor saved in the first of `folders` that has one."""
    for folder in folders:
        try:
            return processor_class.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError, TypeError):
            continue
    raise PagebenchError(
        f"{retriever}: no {processor_class.__name__} files (tokenizer, preprocessor_config.json) "
        f"in {' or '.join(str(folder) for folder in folders)}"
    )


_other_retriever_hint = " (colpali runs ColPaliForRetrieval checkpoints, colqwen2 ColQwen2ForRetrieval ones)"
