"""Where a late-interaction model's vectors sit: which page vectors are image patches and
on what grid, and which query vectors are the query's own words.

A page's vectors (as `EmbeddingRetriever` keeps them, and the embedding cache stores
them) are every unmasked position of its processed sequence: the image tokens and the
text prompt around them ("Describe the image."). The processor alone, run on the page
image, says which positions hold the image token and how the patches are laid out; it
is cheap, so nothing about positions needs caching.

- ColPali (PaliGemma): a square grid of side image_size / patch_size (32 x 32 for the
  published model), row by row.
- ColQwen2 and ColQwen2.5 (Qwen2-VL): `image_grid_thw` gives the patch grid before the
  spatial merge; each vector is one merged block, row by row: rows = h / merge,
  columns = w / merge.
- ColModernVBert: one square tile (image_seq_len tokens) when the processor does not
  split the image; a split page (several tiles plus a global view) is not mapped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.core.errors import PagebenchError

MAPPED_MODEL_TYPES = ("colpali", "colqwen2", "colmodernvbert")


@dataclass(frozen=True)
class PatchLayout:
    """The image-patch vectors of one page: `positions[k]` (an index into the page's
    vectors) is the patch at row k // columns, column k % columns."""

    positions: np.ndarray
    rows: int
    columns: int
    length: int  # the page's vectors, patches and prompt tokens together (before token pooling)


@dataclass(frozen=True)
class QueryTokens:
    """A query's vectors as token ids; `kept[i]` is False for the processor's own
    additions (the query prefix, augmentation and padding tokens, special tokens)."""

    ids: list[int]
    kept: list[bool]


def has_patch_grid(retriever) -> bool:
    """Whether similarity maps can be drawn for this retriever's pages."""
    return _why_no_grid(retriever) is None


def check_has_patch_grid(retriever) -> None:
    reason = _why_no_grid(retriever)
    if reason is not None:
        name = getattr(retriever, "name", type(retriever).__name__)
        raise PagebenchError(f"{name}: no similarity maps: {reason}")


def _why_no_grid(retriever) -> str | None:
    name = getattr(retriever, "name", type(retriever).__name__)
    model_type = getattr(retriever, "model_type", None)
    if model_type not in MAPPED_MODEL_TYPES or not hasattr(retriever, "processor"):
        return (
            f"they need a late-interaction retriever with image patches "
            f"({', '.join(MAPPED_MODEL_TYPES)}); {name} has no per-patch page vectors"
        )
    if retriever.model_type == "colmodernvbert" and getattr(
        retriever.processor.image_processor, "do_image_splitting", False
    ):
        return "its processor splits pages into tiles, whose patches pagebench does not lay out on one grid"
    return None


def page_patch_layout(retriever, image, page_id: str) -> PatchLayout:
    """Which of this page's vectors are image patches, and their grid."""
    check_has_patch_grid(retriever)
    inputs = retriever.processor.process_images(images=[image])
    ids = _unmasked(inputs["input_ids"][0], inputs["attention_mask"][0])
    positions = np.flatnonzero(ids == _image_token_id(retriever))
    rows, columns = _grid_shape(retriever, inputs, len(positions), page_id)
    return PatchLayout(positions=positions, rows=rows, columns=columns, length=len(ids))


def query_tokens(retriever, text: str) -> QueryTokens:
    """The query's token ids, one per vector of `embed_queries([text])`, and which are its words.

    The processor wraps a query as prefix + text + suffix (augmentation tokens); what the
    text alone contributes is what differs from the processed empty query, at either end."""
    check_has_patch_grid(retriever)
    processor = retriever.processor
    ids = _id_list(processor.process_queries(text=[text]))
    bare = _id_list(processor.process_queries(text=[""]))
    prefix = _common_prefix_length(ids, bare)
    suffix = min(_common_prefix_length(ids[::-1], bare[::-1]), len(bare) - prefix, len(ids) - prefix)
    special = set(processor.tokenizer.all_special_ids)
    kept = [prefix <= i < len(ids) - suffix and token not in special for i, token in enumerate(ids)]
    return QueryTokens(ids=ids, kept=kept)


def _id_list(inputs) -> list[int]:
    return [int(token) for token in _unmasked(inputs["input_ids"][0], inputs["attention_mask"][0])]


def _unmasked(ids, mask) -> np.ndarray:
    return np.asarray(ids)[np.asarray(mask).astype(bool)]


def _common_prefix_length(first: list[int], second: list[int]) -> int:
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length


def _image_token_id(retriever) -> int:
    token_id = getattr(retriever.processor, "image_token_id", None)
    if token_id is None:
        token_id = retriever.processor.tokenizer.convert_tokens_to_ids(retriever.processor.image_token)
    return int(token_id)


def _grid_shape(retriever, inputs, n_patches: int, page_id: str) -> tuple[int, int]:
    vlm = retriever.model.config.vlm_config
    if retriever.model_type == "colqwen2":
        frames, height, width = (int(value) for value in inputs["image_grid_thw"][0])
        merge = int(vlm.vision_config.spatial_merge_size)
        rows, columns = height // merge, width // merge
        if frames != 1:
            raise PagebenchError(f"page {page_id!r}: {frames} temporal patches; a page image has one")
    elif retriever.model_type == "colpali":
        vision = vlm.vision_config
        rows = columns = int(vision.image_size) // int(vision.patch_size)
    else:  # colmodernvbert: one square tile when the image is not split
        side = int(round(int(getattr(retriever.processor, "image_seq_len", n_patches)) ** 0.5))
        rows = columns = side
    if rows * columns != n_patches:
        raise PagebenchError(
            f"page {page_id!r}: {n_patches} image tokens do not fill a {rows} x {columns} patch grid "
            f"({retriever.name}: a page split into tiles is not mapped)"
        )
    return rows, columns
