"""The plain data that flows from loaders to retrievers to metrics.

A task is a corpus of pages, a list of queries and graded qrels, BEIR-style. The one
twist is ViDoRe v1's QA format, where every dataset row is its own corpus entry and
several rows can show the same page: ``Corpus.ids`` names entries (unique) and
``Corpus.qrels_ids`` names the page each entry shows, which is what qrels and runs
use. Everywhere else the two are equal. (`TaskData`, which adds the spec, lives in
`benchmark.tasks.data`.)

Every annotation resolves at run time (`typing.get_type_hints` works on each class),
so typed-schema tools can describe this data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL.Image import Image

Qrels = dict[str, dict[str, int]]
"""query id -> page id -> graded relevance (0 = judged not relevant)."""

RankedRun = dict[str, list[tuple[str, float]]]
"""query id -> [(page id, score), ...] best first; ties already broken."""


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    language: str | None = None


class ImageSource(Protocol):
    """Decodes page images on demand, so a large corpus is never held decoded."""

    def load(self, indices: Sequence[int], ids: Sequence[str]) -> list[Image]:
        """RGB images for these corpus positions; errors name the page id and its file/row."""
        ...

    def page_pixels(self, indices: Sequence[int]) -> list[int]:
        """Pixels each page will have once decoded, read without decoding (0: unknown)."""
        ...


@dataclass(frozen=True)
class PageBatch:
    """A slice of the corpus handed to a retriever."""

    ids: list[str]
    texts: list[str] | None = None
    images: list[Image] | None = None


@dataclass(frozen=True)
class Corpus:
    ids: tuple[str, ...]
    qrels_ids: tuple[str, ...]
    images: ImageSource
    texts: tuple[str | None, ...] | None = None
    text_source: str | None = None  # where `texts` came from, e.g. "dataset column 'markdown'"

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_pages(self) -> int:
        """Distinct pages (fewer than entries when QA rows repeat a page)."""
        return len(set(self.qrels_ids))


@dataclass(frozen=True)
class TokenMap:
    """Where one query token matched one page, as the ColPali paper's interpretability
    figures show it: the token's similarity to each image patch, on the page's patch grid
    (`grid[row, column]`, float32). Its largest value is the token's MaxSim contribution
    unless a vector of the page's text prompt (which has no place on the grid) matched the
    token better."""

    token: str
    grid: np.ndarray
