"""Synthetic corpora for `pagebench profile`: as many pages as asked, generated on demand.

What a page costs a retriever depends on its size, not its content (a vision model
sees a fixed number of pixels, BM25 a number of words), so cheap deterministic
pages measure cost at corpus sizes no task has. Images are a fixed noise pattern
shifted by the page number (every page differs, none is stored); texts are words
drawn from the bundled Debian FAQ, the same for a given page number.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.core.types import Corpus

WORDS_PER_PAGE = 300


class SyntheticImages:
    def __init__(self, width: int, height: int, seed: int = 0):
        self._base = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)

    def page_pixels(self, indices: Sequence[int]) -> list[int]:
        return [self._base.shape[0] * self._base.shape[1]] * len(indices)

    def load(self, indices: Sequence[int], ids: Sequence[str]) -> list:  # noqa: ARG002 - ImageSource signature
        from PIL import Image

        return [Image.fromarray(np.roll(self._base, index, axis=1)) for index in indices]


def synthetic_corpus(
    n_pages: int, *, width: int, height: int, with_text: bool, vocabulary: list[str]
) -> Corpus:
    ids = tuple(f"synthetic-{i:07d}" for i in range(n_pages))
    texts = None
    if with_text:
        rng = np.random.default_rng(0)
        words = np.asarray(vocabulary)
        texts = tuple(" ".join(rng.choice(words, WORDS_PER_PAGE)) for _ in range(n_pages))
    return Corpus(
        ids=ids,
        qrels_ids=ids,
        images=SyntheticImages(width, height),
        texts=texts,
        text_source="synthetic words" if with_text else None,
    )
