"""The common shape of neural retrievers: embed pages, embed queries, let the engine score.

A subclass loads its model and implements `embed_pages(batch)` and
`embed_queries(texts)`, each returning one [n_vectors, dim] float tensor per item
(one row for single-vector models). One whose processor can run apart from the model
implements `page_inputs(batch)` (the processor's work, on the CPU) and
`embed_page_inputs(inputs)` (the forward pass) instead of `embed_pages`: the runner then
prepares the next batches on the thread that decodes them. Everything else (the page-vector index,
token pooling, the exact top-k search, batching of queries, what goes into the
results file) is here, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from benchmark.core.defaults import BATCH_SIZE
from benchmark.core.device import (
    device_type,
    import_torch,
    resolve_device,
    resolve_dtype,
    resolve_scoring_dtype,
)
from benchmark.core.errors import PagebenchError
from benchmark.core.files import folder_state_hash
from benchmark.core.protocols import PROTOCOLS
from benchmark.core.types import PageBatch, Query, RankedRun
from benchmark.engine.disk_store import stored_dtype_name
from benchmark.engine.index import PageVectorIndex
from benchmark.engine.pooling import pool_page_vectors
from benchmark.engine.ranking import id_ranks
from benchmark.engine.reference_scoring import OFFICIAL_BLOCK, ReferenceScoringIndex
from benchmark.retrievers.base import EncodedQueries, RetrieverOptions


class EmbeddingRetriever:
    name = "embedding"
    page_input = "image"
    multi_vector = True  # token pooling only makes sense for multi-vector pages
    default_checkpoint = ""
    # How vidore-benchmark 5.0.0's retriever of this family loads and scores (None: it has
    # none, so `--protocol vidore` keeps pagebench's arithmetic): its model dtype, and
    # "maxsim" (colpali-engine's score_multi_vector) or "dot" (raw float32 dot product).
    official_dtype: str | None = None
    official_similarity: str | None = None

    def __init__(self, options: RetrieverOptions):
        self.torch = import_torch()
        if options.params:
            raise PagebenchError(f"{self.name}: unknown --param {min(options.params)!r} (it takes none)")
        if options.pool_factor > 1 and not self.multi_vector:
            raise PagebenchError(f"{self.name} has one vector per page: --pool-factor does not apply")
        self.checkpoint_name = options.checkpoint or self.default_checkpoint
        self.revision = options.revision
        self.device = resolve_device(options.device)
        self.official = bool(PROTOCOLS[options.protocol].official_arithmetic and self.official_similarity)
        if self.official:
            _check_official_options(self.name, options)
        requested_dtype = self.official_dtype if self.official and options.dtype == "auto" else options.dtype
        self.dtype = getattr(self.torch, resolve_dtype(requested_dtype, self.device))
        self.scoring_dtype = resolve_scoring_dtype(options.scoring_dtype, self.device)
        self.pool_factor = options.pool_factor
        self.index_dir = Path(options.index_dir) if options.index_dir else None
        self.batch_size = options.batch_size or BATCH_SIZE
        self.resolved_revision: str | None = None
        self.load()

    # --- what a subclass provides -------------------------------------------------
    def load(self) -> None:
        raise NotImplementedError

    def embed_pages(self, batch: PageBatch) -> list:
        inputs = self.page_inputs(batch)
        if inputs is None:
            raise NotImplementedError(f"{type(self).__name__} implements neither embed_pages nor page_inputs")
        return self.embed_page_inputs(inputs)

    def page_inputs(self, batch: PageBatch) -> object | None:  # noqa: ARG002 (subclasses use it)
        """The model's inputs for `batch`, prepared on the CPU (the processor's work), or None
        when this retriever has no such step. It runs on the decoding thread while the
        model encodes the batch before, so it must not touch the model or the device."""
        return None

    def embed_page_inputs(self, inputs) -> list:
        """The forward pass on `page_inputs(batch)`: one [n_vectors, dim] tensor per page."""
        raise NotImplementedError

    def embed_queries(self, texts: list[str]) -> list:
        raise NotImplementedError

    # --- the Retriever protocol -----------------------------------------------------
    def describe(self) -> dict:
        index_storage = f"disk, {stored_dtype_name(self.scoring_dtype)}" if self.index_dir else "memory"
        return {
            "checkpoint": self.checkpoint_name,
            "revision": self.revision,
            "resolved_revision": self.resolved_revision,
            "device": self.device,
            "dtype": self.dtype_name,
            "model_parameters": self.model_parameters(),
            "parameters": {
                "similarity": "maxsim" if self.multi_vector else "dot",
                "score_arithmetic": self.score_arithmetic(),
                "scoring_dtype": self.scoring_dtype,
                "pool_factor": self.pool_factor,
                "batch_size": self.batch_size,
                "index_storage": index_storage,
            },
        }

    def score_arithmetic(self) -> str:
        if not self.official:
            return f"pagebench engine, exact {'float32 sums' if self.multi_vector else 'dot products'}"
        if self.official_similarity == "maxsim":
            return (
                f"colpali-engine score_multi_vector ({self.dtype_name}, "
                f"blocks of {OFFICIAL_BLOCK}, zero-padded)"
            )
        return "vidore-benchmark raw dot product (float32)"

    def begin_index(self, languages: Sequence[str]) -> None:  # noqa: ARG002 - embeddings ignore the language
        if not self.official:
            self._index = PageVectorIndex(
                dtype=self.scoring_dtype, device=self.device, store_dir=self.index_dir
            )
        elif self.official_similarity == "maxsim":  # in the embedding dtype, as colpali-engine
            self._index = ReferenceScoringIndex(similarity="maxsim", dtype=self.dtype_name)
        else:  # float32, as vidore-benchmark's SigLIP
            self._index = ReferenceScoringIndex(similarity="dot", dtype="float32")
        self._ids: list[str] = []

    def add_pages(self, batch: PageBatch) -> None:
        self.add_page_vectors(batch.ids, self.page_vectors(batch))

    # --- page embeddings, for the runner's embedding cache ----------------------------
    # The runner calls page_vectors only for pages it has not cached, then hands every
    # page's vectors, cached or fresh, to add_page_vectors (see benchmark/embedding_cache.py).
    def page_vectors(self, batch: PageBatch, model_inputs=None) -> list:
        """Each page's vectors as the index stores them (after token pooling);
        `model_inputs`: `page_inputs(batch)`, when it was prepared ahead."""
        with self.torch.inference_mode():
            if model_inputs is None:
                vectors = self.embed_pages(batch)
            else:
                vectors = self.embed_page_inputs(model_inputs)
        if self.pool_factor > 1:
            vectors = [pool_page_vectors(page, self.pool_factor) for page in vectors]
        return vectors

    def add_page_vectors(self, ids: Sequence[str], vectors: Sequence) -> None:
        self._index.add(vectors)
        self._ids.extend(ids)

    def embedding_key(self) -> dict:
        """Everything that changes a page's vectors: the cache keeps one folder per key."""
        folder = Path(self.checkpoint_name).expanduser()
        return {
            "retriever": f"{type(self).__module__}.{type(self).__qualname__}",
            "checkpoint": self.checkpoint_name,
            "revision": self.revision,
            "resolved_revision": self.resolved_revision,
            # a local folder has no commit: its files' sizes and times stand for one
            "checkpoint_files": folder_state_hash(folder) if folder.is_dir() else None,
            "dtype": self.dtype_name,
            "device_type": device_type(self.device),
            "pool_factor": self.pool_factor,
        }

    def finish_index(self) -> None:
        self._index.finalize()
        self._tie_ranks = id_ranks(self._ids)

    def encode_queries(self, queries: Sequence[Query]) -> EncodedQueries:
        vectors = []
        with self.torch.inference_mode():
            for start in range(0, len(queries), self.batch_size):
                vectors.extend(
                    self.embed_queries([query.text for query in queries[start : start + self.batch_size]])
                )
        return EncodedQueries([query.id for query in queries], vectors)

    def search(self, encoded: EncodedQueries, top_k: int) -> RankedRun:
        scores, indices = self._index.search(encoded.payload, top_k, self._tie_ranks)
        return {
            query_id: [
                (self._ids[index], float(score))
                for score, index in zip(scores[row], indices[row], strict=True)
            ]
            for row, query_id in enumerate(encoded.ids)
        }

    def index_nbytes(self) -> int:
        """Page-vector storage: dtype size x vectors x dim (bucket padding included)."""
        return self._index.nbytes

    # --- helpers for subclasses -----------------------------------------------------
    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    def model_parameters(self) -> int | None:
        """Number of weights, so a report shows at a glance a tiny test model from a real one."""
        model = getattr(self, "model", None) or getattr(self, "backbone", None)
        return None if model is None else sum(parameter.numel() for parameter in model.parameters())

    def to_device(self, inputs) -> dict:
        """Model inputs on the device; floating tensors (pixels) in the model dtype.

        `labels` (which ColPali-family processors add for training) is dropped: the
        retrieval forward pass does not take it."""
        moved = {}
        for key, value in inputs.items():
            if key == "labels" or not hasattr(value, "to"):
                continue
            moved[key] = (
                value.to(self.device, dtype=self.dtype)
                if value.is_floating_point()
                else value.to(self.device)
            )
        return moved


def _check_official_options(name: str, options: RetrieverOptions) -> None:
    """Options that would change the official arithmetic are refused, not silently ignored."""
    if options.scoring_dtype != "auto":
        raise PagebenchError(
            f"{name}: --scoring-dtype does not apply with --protocol {options.protocol} "
            "(scores are computed in the embedding dtype, as the official retriever does)"
        )
    if options.index_dir:
        raise PagebenchError(
            f"{name}: --index-on-disk stores pages in 16 bits, which would change the official arithmetic; "
            f"drop it with --protocol {options.protocol}"
        )
