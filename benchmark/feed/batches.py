"""How the corpus reaches the retriever: batches of decoded images or page text (OCR
where the task has none), with bad pages failed or skipped.

`PageBatches` yields what the retriever reads (`page_feed.PageFeed` then hands each
batch to it through the embedding cache) and keeps counts for the results file:
where text came from and which pages were skipped.

Each page is under the size limit of `tasks.images`, but a batch of them need not be:
before a batch is decoded, its pages' sizes are read from their headers, and a batch
whose decoded pixels would pass `PIXELS_PER_BATCH` is decoded and handed over in parts
(logged, and counted in `batches_split`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from benchmark.core.defaults import ON_BAD_PAGE
from benchmark.core.errors import BadPageError
from benchmark.core.types import Corpus, PageBatch
from benchmark.feed.ocr import TesseractOCR

log = logging.getLogger(__name__)

# Decoded pixels one batch may hold at once (about 450 MB as RGB): the most one page may
# have (`tasks.images.MAX_PAGE_PIXELS`), so any page that may be decoded fits alone.
PIXELS_PER_BATCH = 150_000_000


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
        on_bad_page: str = ON_BAD_PAGE[0],
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
        self.batches_split = 0  # batches decoded in parts to stay under PIXELS_PER_BATCH
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
            yield from self.parts(index)

    @property
    def n_entries(self) -> int:
        """Corpus entries to index (pages, or QA rows)."""
        return len(self._corpus)

    @property
    def n_batches(self) -> int:
        return -(-len(self._corpus) // self._batch_size)

    def parts(self, index: int) -> Iterator[PageBatch]:
        """Batch `index`, decoded in parts whose pixels stay under PIXELS_PER_BATCH (one part
        unless its pages are large); parts whose every page was skipped as unreadable are left out."""
        corpus = self._corpus
        start = index * self._batch_size
        positions = list(range(start, min(start + self._batch_size, len(corpus))))
        groups = self._within_pixel_budget(positions)
        if len(groups) > 1:
            self.batches_split += 1
            log.info(
                "batch %d (pages %s to %s) would decode to more than %d megapixels: decoded in %d parts",
                index + 1,
                corpus.ids[positions[0]],
                corpus.ids[positions[-1]],
                PIXELS_PER_BATCH // 1_000_000,
                len(groups),
            )
        for group in groups:
            if self._wants_images:
                kept, images = self._images(group)
                batch = PageBatch(ids=[corpus.ids[i] for i in kept], images=images)
            else:
                kept, texts = self._texts(group)
                batch = PageBatch(ids=[corpus.ids[i] for i in kept], texts=texts)
            if batch.ids:
                yield batch

    def _within_pixel_budget(self, positions: list[int]) -> list[list[int]]:
        """`positions` cut into consecutive groups whose pages to decode hold at most
        PIXELS_PER_BATCH pixels together (a larger page goes alone; decoding judges it)."""
        if self._wants_images:
            to_decode = positions
        elif self._corpus.texts is None:
            to_decode = positions  # every page's text comes from OCR of its image
        else:
            to_decode = [i for i in positions if self._corpus.texts[i] is None]
        if not to_decode:
            return [positions]
        pixels = dict.fromkeys(positions, 0)
        pixels.update(zip(to_decode, self._corpus.images.page_pixels(to_decode), strict=True))
        groups: list[list[int]] = [[]]
        held = 0
        for position in positions:
            if groups[-1] and held + pixels[position] > PIXELS_PER_BATCH:
                groups.append([])
                held = 0
            groups[-1].append(position)
            held += pixels[position]
        return groups

    def _images(self, positions: list[int]) -> tuple[list[int], list]:
        """Decoded images of these positions; with skipping on, the readable ones only."""
        ids = [self._corpus.ids[i] for i in positions]
        try:
            return positions, self._corpus.images.load(positions, ids)
        except BadPageError:
            if not self._skip_bad:
                raise
        kept, images = [], []
        for position, page_id in zip(positions, ids, strict=True):  # find the culprits one page at a time
            try:
                images.extend(self._corpus.images.load([position], [page_id]))
                kept.append(position)
            except BadPageError as error:
                self.skipped.append(SkippedPage(page_id, str(error)))
                log.info("skipped %s", error)
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
        readable_ids = [self._corpus.ids[i] for i in readable]
        for position, outcome in zip(readable, self._ocr.recognise_pages(images, readable_ids), strict=True):
            if isinstance(outcome, BadPageError):  # Tesseract failed on it twice
                if not self._skip_bad:
                    raise outcome
                self.skipped.append(SkippedPage(outcome.page_id, str(outcome)))
                log.info("skipped %s", outcome)
            else:
                texts[row_of[position]] = outcome
        # pages skipped as unreadable got no text: leave them out
        kept = [(p, t) for p, t in zip(positions, texts, strict=True) if t is not None]
        return [p for p, _ in kept], [t for _, t in kept]
