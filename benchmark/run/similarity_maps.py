"""Where each query token matched a page: the late-interaction similarity maps of the
ColPali paper's interpretability figures, as data (`TokenMap`s) for the HTML report.

A multi-vector retriever scores a page by MaxSim: each query vector takes its best dot
product over the page's vectors, and the page's score is the sum. A token's map is its
dot product with each image-patch vector, on the page's patch grid
(`benchmark.retrievers.patch_grid`). The page's vectors also include its text prompt
("Describe the image."), which has no place on the grid, so a map's largest value is the
token's MaxSim contribution whenever its best match is a patch (`PageSimilarity` keeps
the whole similarity matrix, prompt included, for the exact sums).

Page vectors come from the embedding cache where the run left them (found by the page
image's content hash, as the run stores them); only the query is encoded. A run with
token pooling (`--pool-factor` > 1) cached pooled vectors, which sit on no grid: its
pages are encoded again, unpooled, so its maps show the model before pooling.

Tokens shown are the query's own words: the processor's query prefix, augmentation
tokens, padding and special tokens are dropped, and a token filter can drop more.
A single-vector retriever (bisiglip, bipali) or a text one (bm25-ocr) has no maps:
`token_maps` raises a PagebenchError naming it, `make_provider` returns None.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.errors import PagebenchError
from benchmark.core.types import PageBatch, TokenMap
from benchmark.feed.embedding_cache import EmbeddingCache, page_content_key
from benchmark.feed.page_feed import open_embedding_cache
from benchmark.retrievers import registry
from benchmark.retrievers.base import RetrieverOptions
from benchmark.retrievers.patch_grid import (
    PatchLayout,
    check_has_patch_grid,
    has_patch_grid,
    page_patch_layout,
    query_tokens,
)
from benchmark.tasks.data import TaskData

log = logging.getLogger(__name__)

TokenFilter = Callable[[str], bool] | Collection[str]
"""Which query tokens to show: a function (True: show it), or the tokens to leave out."""

MapProvider = Callable[[str, list[str]], dict[str, list[TokenMap]]]
"""(query text, page ids) -> {page id: one TokenMap per shown query token}."""


def words_only(token: str) -> bool:
    """A token filter that drops punctuation: only tokens with a letter or a digit are shown."""
    return any(character.isalnum() for character in token)


@dataclass(frozen=True)
class PageSimilarity:
    """Every query vector against every vector of one page."""

    tokens: list[str]  # one per query vector, decoded
    kept: list[bool]  # the query's own words (prefix, augmentation, padding dropped)
    similarity: np.ndarray  # [query vectors, page vectors], float32 dot products
    layout: PatchLayout

    def contributions(self) -> np.ndarray:
        """Each query vector's MaxSim contribution (its best match over all the page's vectors)."""
        return self.similarity.max(axis=1)

    def grid(self, token_index: int) -> np.ndarray:
        patches = self.similarity[token_index, self.layout.positions]
        return patches.reshape(self.layout.rows, self.layout.columns)


def token_maps(
    retriever,
    query_text: str,
    pages: Mapping[str, object],
    *,
    token_filter: TokenFilter | None = None,
    cache: EmbeddingCache | None = None,
) -> dict[str, list[TokenMap]]:
    """One TokenMap per shown query token for each page of `pages` (page id -> RGB image)."""
    check_has_patch_grid(retriever)
    query = _QueryVectors(retriever, query_text)
    shown = _shown_rows(query, _as_predicate(token_filter))
    maps = {}
    for page_id, image in pages.items():
        page = page_similarity(retriever, query, page_id, image, cache)
        maps[page_id] = [TokenMap(token=page.tokens[row], grid=page.grid(row)) for row in shown]
    return maps


def page_similarity(
    retriever, query, page_id: str, image, cache: EmbeddingCache | None = None
) -> PageSimilarity:
    """The whole similarity matrix of a query (its text, or `_QueryVectors`) and one page."""
    if isinstance(query, str):
        query = _QueryVectors(retriever, query)
    layout = page_patch_layout(retriever, image, page_id)
    vectors = _page_vectors(retriever, page_id, image, cache)
    if len(vectors) != layout.length:
        raise PagebenchError(
            f"page {page_id!r}: {len(vectors)} page vectors for a {layout.length}-token page sequence "
            f"(was the embedding cache written by another {retriever.name} configuration?)"
        )
    return PageSimilarity(
        tokens=query.tokens,
        kept=query.kept,
        similarity=query.vectors @ vectors.T,
        layout=layout,
    )


def make_provider(
    retriever, task: TaskData, cache_dir: Path | None, *, token_filter: TokenFilter | None = None
) -> MapProvider | None:
    """The report's hook: maps for a query text and page ids of `task`, page vectors from the
    run's embedding cache under `cache_dir` (None: encode the pages). None when the
    retriever has no patch maps."""
    if not has_patch_grid(retriever):
        return None
    cache = open_embedding_cache(retriever, cache_dir) if retriever.pool_factor == 1 else None
    positions = {page_id: index for index, page_id in enumerate(task.corpus.ids)}

    def provide(query_text: str, page_ids: list[str]) -> dict[str, list[TokenMap]]:
        unknown = [page_id for page_id in page_ids if page_id not in positions]
        if unknown:
            raise PagebenchError(f"task {task.spec.name}: no page {unknown[0]!r} in its corpus")
        images = task.corpus.images.load([positions[page_id] for page_id in page_ids], page_ids)
        pages = dict(zip(page_ids, images, strict=True))
        return token_maps(retriever, query_text, pages, token_filter=token_filter, cache=cache)

    return provide


class _QueryVectors:
    """A query encoded once, with its decoded tokens and which of them are its own words."""

    def __init__(self, retriever, text: str):
        with retriever.torch.inference_mode():
            vectors = retriever.embed_queries([text])[0]
        self.vectors = vectors.detach().float().cpu().numpy()
        tokens = query_tokens(retriever, text)
        if len(tokens.ids) != len(self.vectors):
            raise PagebenchError(
                f"{retriever.name}: {len(self.vectors)} query vectors for {len(tokens.ids)} query tokens"
            )
        decode = retriever.processor.tokenizer.decode
        self.tokens = [decode([token]).strip() for token in tokens.ids]
        self.kept = tokens.kept


def _shown_rows(query: _QueryVectors, keep: Callable[[str], bool]) -> list[int]:
    return [row for row, token in enumerate(query.tokens) if query.kept[row] and token and keep(token)]


def _as_predicate(token_filter: TokenFilter | None) -> Callable[[str], bool]:
    if token_filter is None:
        return lambda _token: True
    if callable(token_filter):
        return token_filter
    if isinstance(token_filter, str):
        raise TypeError("token_filter: give the tokens to leave out as a list, not one string")
    left_out = {token.casefold() for token in token_filter}
    return lambda token: token.casefold() not in left_out


def _page_vectors(retriever, page_id: str, image, cache: EmbeddingCache | None) -> np.ndarray:
    """The page's unpooled vectors: from the cache when it has them, else encoded now."""
    if cache is not None and retriever.pool_factor == 1:
        key = page_content_key(image=image)
        found = cache.lookup([key])
        if key in found:
            return found[key].float().numpy()
    with retriever.torch.inference_mode():
        vectors = retriever.embed_pages(PageBatch(ids=[page_id], images=[image]))[0]
    return vectors.detach().float().cpu().numpy()


def maps_of_recorded_runs(cache_dir: Path | None, *, token_filter: TokenFilter | None = None):
    """The report's `similarity_for`: for a results file and its loaded task, the maps of
    the retriever the file records, rebuilt with the run's options (checkpoint, revision,
    dtype, pooling, protocol) so that its cached page vectors are found. One model per
    recorded configuration; None for single-vector and text retrievers, and, with a warning,
    when the model cannot be loaded (the report is still written, without maps)."""
    retrievers: dict[tuple, object] = {}

    def similarity_for(document, task: TaskData) -> MapProvider | None:
        section = document.retriever
        if section.parameters.get("similarity") != "maxsim":  # one vector per page: nothing to map
            return None
        options = RetrieverOptions(
            checkpoint=section.checkpoint,
            revision=section.revision,
            dtype=section.dtype or "auto",
            scoring_dtype=section.parameters.get("scoring_dtype", "auto"),
            pool_factor=int(section.parameters.get("pool_factor", 1)),
            protocol=document.evaluation.protocol,
        )
        key = (
            section.name,
            options.checkpoint,
            options.revision,
            options.dtype,
            options.scoring_dtype,
            options.pool_factor,
            options.protocol,
        )
        try:
            if key not in retrievers:
                retrievers[key] = registry.create(section.name, options)
            return make_provider(retrievers[key], task, cache_dir, token_filter=token_filter)
        except PagebenchError as error:
            log.warning("similarity maps of %s on %s left out: %s", section.name, task.spec.name, error)
            return None

    return similarity_for
