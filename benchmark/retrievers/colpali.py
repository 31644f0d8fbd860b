"""ColPali and ColQwen2: one vector per page patch and per query token, MaxSim scoring.

Both run through transformers' own classes (ColPaliForRetrieval, ColQwen2ForRetrieval
and their processors). Queries go through the processor's query path, which adds the
query prefix and the augmentation tokens the models were trained with; the plain
text path would drop them and lower scores.

Batches are padded on the right: real tokens then keep the same positions whatever
else is in the batch, which (with the attention mask) makes scores independent of
the batch size. Every unmasked output vector is kept, as the official evaluation does.
"""

from __future__ import annotations

from benchmark.core.types import PageBatch
from benchmark.retrievers.embedding import EmbeddingRetriever
from benchmark.retrievers.hf_loading import (
    load_pretrained,
    locate_checkpoint,
    quiet_transformers,
    read_config,
)


class ColPaliRetriever(EmbeddingRetriever):
    name = "colpali"
    default_checkpoint = "vidore/colpali-v1.3-hf"
    model_type = "colpali"
    model_class = "ColPaliForRetrieval"
    processor_class = "ColPaliProcessor"
    official_dtype = "bfloat16"  # vidore-benchmark loads ColPali and ColQwen2 in bfloat16
    official_similarity = "maxsim"

    def load(self) -> None:
        import transformers

        checkpoint = locate_checkpoint(self.checkpoint_name, self.revision, self.name)
        config = read_config(checkpoint, {self.model_type}, self.name, hint=_other_retriever_hint)
        quiet_transformers()
        model_class = getattr(transformers, self.model_class)
        processor_class = getattr(transformers, self.processor_class)
        self.model = load_pretrained(model_class, checkpoint, self.name, dtype=self.dtype)
        self.model.to(self.device).eval()
        self.processor = processor_class.from_pretrained(checkpoint.source, **checkpoint.kwargs)
        self.processor.tokenizer.padding_side = "right"
        self.resolved_revision = getattr(config, "_commit_hash", None)

    def embed_pages(self, batch: PageBatch) -> list:
        return self._unmasked_vectors(self.processor.process_images(images=batch.images))

    def embed_queries(self, texts: list[str]) -> list:
        return self._unmasked_vectors(self.processor.process_queries(text=texts))

    def _unmasked_vectors(self, inputs) -> list:
        inputs = self.to_device(inputs)
        embeddings = self.model(**inputs).embeddings.float()
        mask = inputs["attention_mask"].bool()
        return [embeddings[row][mask[row]] for row in range(len(embeddings))]


class ColQwen2Retriever(ColPaliRetriever):
    """Same scoring; Qwen2-VL gives each page a number of vectors that depends on its size."""

    name = "colqwen2"
    default_checkpoint = "vidore/colqwen2-v1.0-hf"
    model_type = "colqwen2"
    model_class = "ColQwen2ForRetrieval"
    processor_class = "ColQwen2Processor"


_other_retriever_hint = " (colpali runs ColPaliForRetrieval checkpoints, colqwen2 ColQwen2ForRetrieval ones)"
