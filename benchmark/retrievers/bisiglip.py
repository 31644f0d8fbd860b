"""BiSigLIP: SigLIP's image and text towers, one vector per page and per query.

Works for the vanilla `google/siglip-so400m-patch14-384` and for fine-tuned
checkpoints of the same class. SigLIP compares L2-normalised embeddings (its logit
is a scaled and shifted cosine), so pages are ranked by cosine similarity. Text is
padded to the tokenizer's maximum length, as SigLIP was trained: it has no
attention mask over padding, so other padding would change the embedding.

Under `--protocol vidore` the features are not normalised and pages are ranked by
their raw float32 dot product, as vidore-benchmark 5.0.0's SigLIP retriever does
(a float32 model unless --dtype says otherwise).
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


class BiSiglipRetriever(EmbeddingRetriever):
    name = "bisiglip"
    multi_vector = False
    default_checkpoint = "google/siglip-so400m-patch14-384"
    official_dtype = "float32"  # vidore-benchmark loads SigLIP with transformers' default dtype
    official_similarity = "dot"

    def load(self) -> None:
        from transformers import SiglipModel, SiglipProcessor

        checkpoint = locate_checkpoint(self.checkpoint_name, self.revision, self.name)
        config = read_config(checkpoint, {"siglip"}, self.name)
        quiet_transformers()
        self.model = load_pretrained(SiglipModel, checkpoint, self.name, dtype=self.dtype)
        self.model.to(self.device).eval()
        self.processor = SiglipProcessor.from_pretrained(checkpoint.source, **checkpoint.kwargs)
        self.resolved_revision = getattr(config, "_commit_hash", None)

    def page_inputs(self, batch: PageBatch):
        return self.processor(images=batch.images, return_tensors="pt")

    def embed_page_inputs(self, inputs) -> list:
        return self._rows(self.model.get_image_features(**self.to_device(inputs)))

    def embed_queries(self, texts: list[str]) -> list:
        inputs = self.processor(text=texts, padding="max_length", truncation=True, return_tensors="pt")
        return self._rows(self.model.get_text_features(**self.to_device(inputs)))

    def embedding_key(self) -> dict:
        return super().embedding_key() | {"normalised": not self.official}

    def _rows(self, features) -> list:
        # transformers 5 may return an output object: the embedding is its pooler_output
        vectors = getattr(features, "pooler_output", features).float()
        if not self.official:
            vectors = vectors / vectors.norm(dim=-1, keepdim=True)
        return [vector.unsqueeze(0) for vector in vectors]
