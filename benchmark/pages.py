"""How the corpus reaches the retriever: batches of decoded images or page text (OCR
where the task has none), bad pages failed or skipped, and the embedding cache.

`PageBatches` yields what the retriever reads; `PageFeed` hands each batch to it,
encoding only the pages the cache does not hold. Both keep counts for the results
file (where text came from, pages skipped, pages encoded or read from the cache).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

from benchmark.embedding_cache import EmbeddingCache, page_content_key
from benchmark.errors import BadPageError
from benchmark.ocr import TesseractOCR
from benchmark.types import Corpus, PageBatch

ON_BAD_PAGE = ("fail", "skip")


@dataclass(frozen=True)
class SkippedPage:
    id: str
    reason: str


class PageBatches:
    """Iterates a corpus as the retriever needs it, and remembers where text came from.

    on_bad_page="fail" stops at the first unreadable page with its id and file;
    "skip" leaves it out of the index and records it (`skipped`).
    """

    def __init__(
        self,
        corpus: Corpus,
        languages,
        retriever,
        *,
        batch_size: int,
        cache_dir=None,
        on_bad_page: str = "fail",
    ):
        if on_bad_page not in ON_BAD_PAGE:
            raise ValueError(f"on_bad_page must be one of {ON_BAD_PAGE}, got {on_bad_page!r}")
        self._corpus = corpus
        self._batch_size = batch_size
        self._wants_images = retriever.page_input == "image"
        self._ocr_languages = tuple(languages)
        self._cache_dir = cache_dir
        self._skip_bad = on_bad_page == "skip"
        self._ocr: TesseractOCR | None = None
        self.skipped: list[SkippedPage] = []
        self.text_source: str | None = None
        if not self._wants_images:
            self.text_source = self._corpus.text_source if self._corpus.texts is not None else None

    def report(self) -> dict | None:
        """Where text retrievers got page text from, for the results file."""
        if self._wants_images:
            return None
        return {
            "source": self.text_source,
            "ocr_pages_recognised": self._ocr.pages_recognised if self._ocr else 0,
            "ocr_pages_from_cache": self._ocr.pages_from_cache if self._ocr else 0,
        }

    def __iter__(self) -> Iterator[PageBatch]:
        for index in range(self.n_batches):
            batch = self.batch(index)
            if batch is not None:
                yield batch

    @property
    def n_batches(self) -> int:
        return -(-len(self._corpus) // self._batch_size)

    def batch(self, index: int) -> PageBatch | None:
        """Batch `index` (decoded now); None if every page in it was skipped as unreadable."""
        corpus = self._corpus
        start = index * self._batch_size
        positions = list(range(start, min(start + self._batch_size, len(corpus))))
        if self._wants_images:
            positions, images = self._images(positions)
            batch = PageBatch(ids=[corpus.ids[i] for i in positions], images=images)
        else:
            positions, texts = self._texts(positions)
            batch = PageBatch(ids=[corpus.ids[i] for i in positions], texts=texts)
        return batch if batch.ids else None

    def _images(self, positions: list[int]) -> tuple[list[int], list]:
        """Decoded images of these positions; with skipping on, the readable ones only."""
        ids = [self._corpus.ids[i] for i in positions]
        try:
            return positions, self._corpus.images.load(positions, ids)
        except BadPageError:
            if not self._skip_bad:
                raise
        kept, images = [], []
        for position, page_id in zip(positions, ids):  # find the culprits one page at a time
            try:
                images.extend(self._corpus.images.load([position], [page_id]))
                kept.append(position)
            except BadPageError as error:
                self.skipped.append(SkippedPage(page_id, str(error)))
                print(f"pagebench: skipped {error}", file=sys.stderr)
        return kept, images

    def _texts(self, positions: list[int]) -> tuple[list[int], list[str]]:
        texts = self._corpus.texts
        texts = [texts[i] for i in positions] if texts is not None else [None] * len(positions)
        missing = [i for i, text in enumerate(texts) if text is None]
        if not missing:
            return positions, texts
        if self._ocr is None:
            self._ocr = TesseractOCR(languages=self._ocr_languages, cache_dir=self._cache_dir)
            ocr = f"OCR by {self._ocr.description}"
            self.text_source = f"{self.text_source}; {ocr} where missing" if self.text_source else ocr
        readable, images = self._images([positions[i] for i in missing])
        row_of = {position: row for row, position in enumerate(positions)}
        for position, text in zip(readable, self._ocr.texts(images)):
            texts[row_of[position]] = text
        kept = [(p, t) for p, t in zip(positions, texts) if t is not None]  # skipped pages have none
        return [p for p, _ in kept], [t for _, t in kept]


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
            vectors.update({keys[i]: page for i, page in zip(missing, fresh)})
        self.pages_encoded += len(missing)
        self.pages_from_cache += len(keys) - len(missing)
        return [vectors[key] for key in keys]

    def counts(self) -> dict:
        return {"pages_encoded": self.pages_encoded, "pages_from_cache": self.pages_from_cache}


def gives_page_vectors(retriever) -> bool:
    """The optional capability of `retrievers/base.py`: embedding_key, page_vectors, add_page_vectors."""
    return hasattr(retriever, "page_vectors")


def open_embedding_cache(retriever, cache_dir) -> EmbeddingCache | None:
    """The cache for this retriever's configuration, if it embeds pages and caching is on."""
    if cache_dir is None or not gives_page_vectors(retriever):
        return None
    return EmbeddingCache(cache_dir, retriever.embedding_key())


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
