"""Hands page batches to the retriever through the embedding cache: only pages the
cache does not hold are encoded, and every page's vectors, cached or fresh, are added.

Work that needs no model is done ahead, by `prepare`, on the thread that decodes the
next batches (`feed/prefetch.py`): the cache lookup, and the retriever's own
preparation of the pages it must encode (`page_inputs`: the processor's resizing,
normalising and tokenising). The model's thread then runs only the forward pass.

It keeps the counts the results file reports (pages encoded, pages from the cache).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from benchmark.core.types import PageBatch
from benchmark.feed.embedding_cache import EmbeddingCache, page_content_key


@dataclass(frozen=True)
class PreparedBatch:
    """A batch and the work done for it ahead of the model (see `PageFeed.prepare`)."""

    batch: PageBatch
    cache_keys: list[str] | None = None  # each page's content key, when there is a cache
    cached: dict = field(default_factory=dict)  # content key -> vectors the cache held
    # keys an earlier batch is encoding: read from the cache once that batch stored them,
    # as they would have been without preparing ahead
    deferred: frozenset = frozenset()
    model_inputs: object = None  # retriever.page_inputs of the pages to encode, if it has any

    @property
    def ids(self) -> list[str]:
        return self.batch.ids

    def rows_to_encode(self) -> list[int]:
        if self.cache_keys is None:
            return list(range(len(self.batch.ids)))
        known = self.cached.keys() | self.deferred
        return [row for row, key in enumerate(self.cache_keys) if key not in known]


class PageFeed:
    """Gives batches to the retriever; with a cache, only uncached pages are encoded."""

    def __init__(self, retriever, cache: EmbeddingCache | None = None):
        self.retriever = retriever
        self._cache = cache
        self._cache_lock = threading.Lock()  # `prepare` may run on the decoding thread
        self._being_encoded: set[str] = set()  # keys prepared for encoding, not yet stored
        self.pages_encoded = 0
        self.pages_from_cache = 0

    @property
    def gives_vectors(self) -> bool:
        """Whether pages can be encoded apart from indexing (cache, sharded runs)."""
        return gives_page_vectors(self.retriever)

    def prepare(self, batch: PageBatch | PreparedBatch) -> PreparedBatch:
        """What can be done for `batch` without the model, in batch order; safe on the
        decoding thread while the model's thread adds the batches before."""
        if isinstance(batch, PreparedBatch):
            return batch
        if not self.gives_vectors:
            return PreparedBatch(batch)
        prepared = PreparedBatch(batch)
        if self._cache is not None:
            keys = _content_keys(batch)
            with self._cache_lock:
                deferred = frozenset(key for key in keys if key in self._being_encoded)
                cached = self._cache.lookup([key for key in keys if key not in deferred])
                self._being_encoded.update(key for key in keys if key not in cached)
            prepared = PreparedBatch(batch, keys, cached, deferred)
        rows = prepared.rows_to_encode()
        page_inputs = getattr(self.retriever, "page_inputs", None)
        if rows and page_inputs is not None:
            prepared = replace(prepared, model_inputs=page_inputs(_subset(batch, rows)))
        return prepared

    def add(self, batch: PageBatch | PreparedBatch) -> None:
        prepared = self.prepare(batch)
        if self.gives_vectors:
            self.retriever.add_page_vectors(prepared.ids, self.vectors_for(prepared))
        else:
            self.retriever.add_pages(prepared.batch)
            self.pages_encoded += len(prepared.ids)

    def vectors_for(self, batch: PageBatch | PreparedBatch) -> list:
        """The batch's page vectors: from the cache where it has them, else encoded (and stored)."""
        prepared = self.prepare(batch)
        rows = prepared.rows_to_encode()
        fresh = self._encode(_subset(prepared.batch, rows), prepared.model_inputs) if rows else []
        if prepared.cache_keys is None:
            self.pages_encoded += len(rows)
            return fresh
        keys = prepared.cache_keys
        encoded_keys = [keys[row] for row in rows]
        with self._cache_lock:
            self._cache.store(encoded_keys, fresh)
            self._being_encoded.difference_update(encoded_keys)
            vectors = {**prepared.cached, **self._cache.lookup(sorted(prepared.deferred))}
        vectors.update(zip(encoded_keys, fresh, strict=True))
        lost = [row for row, key in enumerate(keys) if key not in vectors]
        if lost:  # an earlier batch's pages the cache no longer holds (a damaged chunk)
            again = self._encode(_subset(prepared.batch, lost))
            vectors.update(zip([keys[row] for row in lost], again, strict=True))
        self.pages_encoded += len(rows) + len(lost)
        self.pages_from_cache += len(keys) - len(rows) - len(lost)
        return [vectors[key] for key in keys]

    def _encode(self, batch: PageBatch, model_inputs=None) -> list:
        if model_inputs is None:
            return self.retriever.page_vectors(batch)
        return self.retriever.page_vectors(batch, model_inputs)

    def counts(self) -> dict:
        return {"pages_encoded": self.pages_encoded, "pages_from_cache": self.pages_from_cache}


def gives_page_vectors(retriever) -> bool:
    """The optional capability of `retrievers/base.py`: embedding_key, page_vectors, add_page_vectors."""
    return hasattr(retriever, "page_vectors")


def open_embedding_cache(retriever, cache_dir) -> EmbeddingCache | None:
    """The cache for this retriever's configuration, if it embeds pages, caching is on and
    it has a key (an in-memory model without one has nothing that names its weights)."""
    if cache_dir is None or not gives_page_vectors(retriever):
        return None
    key = retriever.embedding_key()
    return None if key is None else EmbeddingCache(cache_dir, key)


def _content_keys(batch: PageBatch) -> list[str]:
    if batch.images is not None:
        return [page_content_key(image=image) for image in batch.images]
    return [page_content_key(text=text) for text in batch.texts]


def _subset(batch: PageBatch, rows: list[int]) -> PageBatch:
    return PageBatch(
        ids=[batch.ids[i] for i in rows],
        texts=None if batch.texts is None else [batch.texts[i] for i in rows],
        images=None if batch.images is None else [batch.images[i] for i in rows],
    )
