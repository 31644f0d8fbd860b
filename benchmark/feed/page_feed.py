"""Hands page batches to the retriever through the embedding cache: only pages the
cache does not hold are encoded, and every page's vectors, cached or fresh, are added.

It keeps the counts the results file reports (pages encoded, pages from the cache).
"""

from __future__ import annotations

from benchmark.core.types import PageBatch
from benchmark.feed.embedding_cache import EmbeddingCache, page_content_key


class PageFeed:
    """Gives batches to the retriever; with a cache, only uncached pages are encoded."""

    def __init__(self, retriever, cache: EmbeddingCache | None = None):
        self.retriever = retriever
        self._cache = cache
        self.pages_encoded = 0
        self.pages_from_cache = 0

    @property
    def gives_vectors(self) -> bool:
        """Whether pages can be encoded apart from indexing (cache, sharded runs)."""
        return gives_page_vectors(self.retriever)

    def add(self, batch: PageBatch) -> None:
        if self.gives_vectors:
            self.retriever.add_page_vectors(batch.ids, self.vectors_for(batch))
        else:
            self.retriever.add_pages(batch)
            self.pages_encoded += len(batch.ids)

    def vectors_for(self, batch: PageBatch) -> list:
        """The batch's page vectors: from the cache where it has them, else encoded (and stored)."""
        if self._cache is None:
            self.pages_encoded += len(batch.ids)
            return self.retriever.page_vectors(batch)
        keys = _content_keys(batch)
        vectors = self._cache.lookup(keys)
        missing = [i for i, key in enumerate(keys) if key not in vectors]
        if missing:
            fresh = self.retriever.page_vectors(_subset(batch, missing))
            self._cache.store([keys[i] for i in missing], fresh)
            vectors.update({keys[i]: page for i, page in zip(missing, fresh, strict=True)})
        self.pages_encoded += len(missing)
        self.pages_from_cache += len(keys) - len(missing)
        return [vectors[key] for key in keys]

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
