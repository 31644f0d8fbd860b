"""Any object with `encode_queries(list[str])` and `encode_pages(list[PIL.Image])` as a Retriever.

This is how a model that lives in memory (a training loop's, a notebook's) is evaluated
without writing a retriever class: each method returns one array per item, a numpy
array, a torch tensor or anything `numpy.asarray` reads, of shape [dim] (one vector:
pages are ranked by dot product) or [n_vectors, dim] (several: late interaction,
MaxSim). A 2-D array for the whole batch ([items, dim]) or a 3-D one ([items, n, dim])
is read as one item per row. The rest is `EmbeddingRetriever`'s: query batching, the
engine's exact search, token pooling, what goes into the results file.

An object in memory has no stable identity (its weights change between two calls of
a training loop), so its page vectors are cached only under a `cache_key` the caller
gives, which must change whenever the weights do.
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmark.core.errors import PagebenchError
from benchmark.core.types import PageBatch
from benchmark.retrievers.base import RetrieverOptions
from benchmark.retrievers.embedding import EmbeddingRetriever

ENCODER_METHODS = ("encode_queries", "encode_pages")


def is_encoder(candidate: object) -> bool:
    """Whether `candidate` has the two methods an encoder needs."""
    return all(callable(getattr(candidate, method, None)) for method in ENCODER_METHODS)


def encoder_name(encoder: object) -> str:
    """The encoder's `name` attribute if it has one, else its class name."""
    name = getattr(encoder, "name", None)
    return name if isinstance(name, str) and name.strip() else type(encoder).__name__


class EncoderRetriever(EmbeddingRetriever):
    """Wraps an encoder object; the runner evaluates it like any embedding retriever.

    Its methods are called under `torch.inference_mode()`; put a torch model in eval
    mode before evaluating it (dropout would otherwise change its vectors)."""

    page_input = "image"
    multi_vector = True  # known only from the vectors: pooling leaves one-vector pages as they are

    def __init__(
        self,
        encoder: object,
        options: RetrieverOptions | None = None,
        *,
        name: str | None = None,
        cache_key: str | None = None,
    ):
        if not is_encoder(encoder):
            missing = [method for method in ENCODER_METHODS if not callable(getattr(encoder, method, None))]
            raise PagebenchError(
                f"{type(encoder).__qualname__} is not an encoder: it lacks {', '.join(missing)} "
                "(an encoder has encode_queries(list[str]) and encode_pages(list[PIL.Image]), "
                "each returning one array per item)"
            )
        self.encoder = encoder
        self.name = name or encoder_name(encoder)
        self.cache_key = cache_key
        self._most_page_vectors = 0  # the most vectors a page had: 1 means dot product
        self._vector_dtype: str | None = None
        self._dim: int | None = None  # pages and queries must agree on it
        super().__init__(options or RetrieverOptions())

    def load(self) -> None:
        """Nothing to load: the encoder is already in memory."""

    def embed_pages(self, batch: PageBatch) -> list:
        labels = [f"page {page_id!r}" for page_id in batch.ids]
        return self._as_matrices(self.encoder.encode_pages(list(batch.images)), labels, "encode_pages")

    def embed_queries(self, texts: list[str]) -> list:
        labels = [f"query {_shortened(text)!r}" for text in texts]
        return self._as_matrices(self.encoder.encode_queries(list(texts)), labels, "encode_queries")

    def begin_index(self, languages) -> None:
        super().begin_index(languages)
        self._most_page_vectors = 0

    def add_page_vectors(self, ids, vectors) -> None:
        """Every page passes here, cached or fresh: what the similarity is is read here."""
        self._most_page_vectors = max([self._most_page_vectors, *(len(page) for page in vectors)])
        super().add_page_vectors(ids, vectors)

    def describe(self) -> dict:
        described = super().describe()
        described["checkpoint"] = self.checkpoint_name or None  # set only through `module:Class`
        described["dtype"] = self._vector_dtype
        described["parameters"] = {
            "encoder": f"{type(self.encoder).__module__}.{type(self.encoder).__qualname__}",
            **described["parameters"],
            "similarity": "maxsim" if self._several_vectors else "dot",
            "cache_key": self.cache_key,
        }
        return described

    def score_arithmetic(self) -> str:
        return f"pagebench engine, exact {'float32 sums' if self._several_vectors else 'dot products'}"

    @property
    def _several_vectors(self) -> bool:
        """Whether some page of this task had several vectors (late interaction)."""
        return self._most_page_vectors > 1

    def embedding_key(self) -> dict | None:
        """Only under the caller's cache key: the object alone says nothing of its weights."""
        if self.cache_key is None:
            return None
        return {
            "retriever": f"{type(self).__module__}.{type(self).__qualname__}",
            "encoder": f"{type(self.encoder).__module__}.{type(self.encoder).__qualname__}",
            "cache_key": self.cache_key,
            "pool_factor": self.pool_factor,
        }

    def model_parameters(self) -> int | None:
        """Weights of a torch module (or of its `model`); None for anything else."""
        for holder in (self.encoder, getattr(self.encoder, "model", None)):
            parameters = getattr(holder, "parameters", None)
            if callable(parameters):
                try:
                    return sum(parameter.numel() for parameter in parameters())
                except (TypeError, AttributeError):
                    return None
        return None

    def _as_matrices(self, returned, labels: Sequence[str], method_name: str) -> list:
        """One float32 [n_vectors, dim] tensor per item, or an error naming the method and the item."""
        method = f"{type(self.encoder).__qualname__}.{method_name}"
        try:
            items = list(returned)
        except TypeError:
            what = type(returned).__name__
            raise PagebenchError(f"{method} returned {what}, not one array per item") from None
        if len(items) != len(labels):
            raise PagebenchError(f"{method} returned {len(items)} arrays for {len(labels)} items")
        return [self._matrix(item, method, label) for item, label in zip(items, labels, strict=True)]

    def _matrix(self, item, method: str, label: str):
        torch = self.torch
        if isinstance(item, torch.Tensor):
            self._vector_dtype = self._vector_dtype or str(item.dtype).removeprefix("torch.")
            matrix = item.detach().float()
        else:
            import numpy as np

            try:
                array = np.asarray(item, dtype=np.float32)
            except (TypeError, ValueError) as error:
                raise PagebenchError(f"{method}: {label} is not a numeric array ({error})") from None
            self._vector_dtype = self._vector_dtype or str(np.asarray(item).dtype)
            matrix = torch.from_numpy(np.ascontiguousarray(array))
        if matrix.ndim == 1:
            matrix = matrix.unsqueeze(0)
        if matrix.ndim != 2 or 0 in matrix.shape:
            raise PagebenchError(
                f"{method}: {label} has shape {tuple(matrix.shape)}; "
                "expected [dim] (one vector) or [n_vectors, dim] (several)"
            )
        if self._dim is None:
            self._dim = matrix.shape[1]
        elif matrix.shape[1] != self._dim:
            raise PagebenchError(
                f"{method}: {label} has dimension {matrix.shape[1]}, earlier vectors {self._dim}"
            )
        if not bool(torch.isfinite(matrix).all()):
            raise PagebenchError(f"{method}: {label} holds NaN or infinite values")
        return matrix


def _shortened(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
