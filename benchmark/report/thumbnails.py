"""Page thumbnails for the HTML report: sized, JPEG-compressed, embedded as data URIs,
and similarity maps drawn over them as heatmaps."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import numpy as np
from PIL import Image

from benchmark.core.types import TokenMap

THUMBNAIL_WIDTH_PX = 160
JPEG_QUALITY = 70
HEATMAP_OPACITY = 0.6

SimilarityProvider = Callable[[str, list[str]], dict[str, list[TokenMap]]]
"""(query text, page ids) -> per page id, one map per query token shown (none: not multi-vector)."""


def thumbnail(page: Image.Image, width: int = THUMBNAIL_WIDTH_PX) -> Image.Image:
    page = page.convert("RGB")
    height = max(1, round(page.height * width / max(page.width, 1)))
    return page.resize((width, height), Image.Resampling.LANCZOS)


def jpeg_data_uri(image: Image.Image, quality: int = JPEG_QUALITY) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def heatmap_overlay(page: Image.Image, token_map: TokenMap, opacity: float = HEATMAP_OPACITY) -> Image.Image:
    """The page with one token's patch grid on top: transparent where it matched least,
    red-to-yellow where it matched most (scaled per token, so every map is readable)."""
    grid = np.asarray(token_map.grid, dtype=np.float32)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"token {token_map.token!r}: expected a 2-D patch grid, got shape {grid.shape}")
    low, high = float(np.nanmin(grid)), float(np.nanmax(grid))
    scaled = np.nan_to_num((grid - low) / (high - low) if high > low else np.zeros_like(grid))
    colours = np.zeros((*grid.shape, 4), dtype=np.uint8)
    colours[..., 0] = 255
    colours[..., 1] = (scaled * 220).astype(np.uint8)  # red for weak, yellow for the best patches
    colours[..., 3] = (scaled * opacity * 255).astype(np.uint8)
    base = page.convert("RGBA")
    layer = Image.fromarray(colours, mode="RGBA").resize(base.size, Image.Resampling.BILINEAR)
    return Image.alpha_composite(base, layer).convert("RGB")


def token_map_images(page: Image.Image, token_maps: list[TokenMap]) -> list[tuple[str, str, float]]:
    """(token, data URI of the overlay, the token's MaxSim contribution) per token map."""
    return [
        (token_map.token, jpeg_data_uri(heatmap_overlay(page, token_map)), float(np.nanmax(token_map.grid)))
        for token_map in token_maps
    ]
