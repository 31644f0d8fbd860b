"""Lazy page images: decoded batch by batch, never the whole corpus at once.

Two sources: an Arrow-backed `datasets` column (hub or parquet data, images kept as
encoded bytes until asked for) and files on disk (images, or PDF pages rendered
with pypdfium2). A page that cannot be decoded raises an error naming its id and
where it came from.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.core.errors import BadPageError, TaskDataError

if TYPE_CHECKING:
    from PIL.Image import Image


# A page larger than this is refused before it is decoded: a decompression bomb (a small
# file that decodes to gigabytes) would otherwise exhaust memory. An A0 poster at 300 DPI
# is 140 megapixels; real document pages are far smaller. (Pillow itself refuses images
# above 179 megapixels when it opens them, with its own message.)
MAX_PAGE_PIXELS = 150_000_000


def decode_image(data: bytes | Path, page_id: str, where: str) -> Image:
    """Open, fully decode and convert to RGB, turning every failure into a clear error."""
    import warnings

    from PIL import Image as PILImage

    try:
        with warnings.catch_warnings():
            # our own size limit below replaces Pillow's warning-only threshold
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
                _check_size(image.width, image.height, page_id, where)
                image.load()
                return to_rgb(image)
    except (OSError, ValueError, SyntaxError, PILImage.DecompressionBombError) as error:
        raise BadPageError(page_id, f"page {page_id!r} ({where}): cannot decode image: {error}") from None


def image_pixels(data: bytes | Path) -> int:
    """Pixels the image will have once decoded, read from its header alone (Pillow opens
    lazily); 0 when the header is unreadable (decoding then reports the page)."""
    import warnings

    from PIL import Image as PILImage

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
                return image.width * image.height
    except (OSError, ValueError, SyntaxError, PILImage.DecompressionBombError):
        return 0


# 16-bit grayscale (Pillow's I;16 modes) and 32-bit integer pages: Pillow's own
# conversion to RGB clips every value above 255, which turns a 16-bit scan white.
_WIDE_GRAYSCALE = {"I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16, "I": 16}


def to_rgb(image: Image) -> Image:
    """RGB for the retriever; wide grayscale is scaled to 8 bits (top byte kept), not clipped."""
    if image.mode not in _WIDE_GRAYSCALE:
        return image.convert("RGB")
    import numpy as np
    from PIL import Image as PILImage

    # mode "I" is how older Pillows (and some TIFFs) hold 16-bit grayscale: read as 16-bit
    values = np.clip(np.asarray(image, dtype=np.int64), 0, 2**16 - 1)
    eight_bit = (values >> (_WIDE_GRAYSCALE[image.mode] - 8)).astype(np.uint8)
    return PILImage.fromarray(eight_bit).convert("RGB")


def _check_size(width: float, height: float, page_id: str, where: str) -> None:
    if width <= 0 or height <= 0:
        raise BadPageError(
            page_id, f"page {page_id!r} ({where}): the image is empty ({width}x{height} pixels)"
        )
    if width * height > MAX_PAGE_PIXELS:
        raise BadPageError(
            page_id,
            f"page {page_id!r} ({where}): {int(width)}x{int(height)} pixels is more than the "
            f"{MAX_PAGE_PIXELS:,} a page may have (a decompression bomb?); not decoded",
        )


class ArrowImages:
    """An image column of a `datasets.Dataset`, cast to `Image(decode=False)`. `rows`: the
    dataset row of each corpus position, when loading left some rows out (default: all)."""

    def __init__(self, dataset, column: str, description: str, rows: Sequence[int] | None = None):
        self._dataset = dataset
        self._column = column
        self._description = description
        self._rows = list(rows) if rows is not None else None

    def page_pixels(self, indices: Sequence[int]) -> list[int]:
        """Decoded size of each page, from image headers (nothing is decoded)."""
        pixels = []
        for cell in self._cells(indices):
            data = (cell or {}).get("bytes")
            pixels.append(image_pixels(data) if data else 0)  # no bytes: `load` names the page
        return pixels

    def _cells(self, indices: Sequence[int]) -> list:
        return self._dataset.select(self._dataset_rows(indices))[self._column]

    def _dataset_rows(self, indices: Sequence[int]) -> list[int]:
        return [self._rows[i] for i in indices] if self._rows is not None else list(indices)

    def load(self, indices: Sequence[int], ids: Sequence[str]) -> list[Image]:
        dataset_rows = self._dataset_rows(indices)
        cells = self._cells(indices)
        images = []
        for index, page_id, cell in zip(dataset_rows, ids, cells, strict=True):
            where = f"row {index} of {self._description}"
            if cell is None:
                raise BadPageError(page_id, f"page {page_id!r} ({where}): the image is missing")
            if cell.get("bytes"):
                images.append(decode_image(cell["bytes"], page_id, where))
            elif cell.get("path"):
                # A cell that only names a file would be opened wherever it points (a
                # hostile dataset: `/etc/passwd`); data in these formats embeds its pages,
                # and page files belong in a local task folder, which confines them.
                raise BadPageError(
                    page_id,
                    f"page {page_id!r} ({where}): the image cell names a file ({cell['path']!r}) "
                    "instead of holding its bytes; pagebench reads only embedded images here "
                    "(keep page files in a local task folder instead: `pagebench run --task FOLDER`)",
                )
            else:
                raise BadPageError(page_id, f"page {page_id!r} ({where}): the image is missing")
        return images


@dataclass(frozen=True)
class PageFile:
    """A page on disk: an image file, or one page (1-based) of a PDF."""

    path: Path
    pdf_page: int | None = None

    def __str__(self) -> str:
        return f"{self.path}#page={self.pdf_page}" if self.pdf_page else str(self.path)


class FileImages:
    """Pages of a local folder: image files and PDF pages rendered at `dpi`."""

    def __init__(self, files: Sequence[PageFile], dpi: int):
        self._files = list(files)
        self._dpi = dpi

    def page_pixels(self, indices: Sequence[int]) -> list[int]:
        """Decoded size of each page: image headers, PDF page sizes at the DPI (nothing is decoded)."""
        pixels = []
        for index in indices:
            page = self._files[index]
            pixels.append(
                image_pixels(page.path) if page.pdf_page is None else pdf_page_pixels(page, self._dpi)
            )
        return pixels

    def load(self, indices: Sequence[int], ids: Sequence[str]) -> list[Image]:
        images = []
        for index, page_id in zip(indices, ids, strict=True):
            page = self._files[index]
            if page.pdf_page is None:
                images.append(decode_image(page.path, page_id, str(page)))
            else:
                images.append(render_pdf_page(page, self._dpi, page_id))
        return images


def render_pdf_page(page: PageFile, dpi: int, page_id: str) -> Image:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(page.path)
    except (pdfium.PdfiumError, OSError) as error:
        raise BadPageError(page_id, f"page {page_id!r} ({page}): cannot open PDF: {error}") from None
    try:
        if not 1 <= page.pdf_page <= len(document):
            raise BadPageError(page_id, f"page {page_id!r} ({page}): the PDF has {len(document)} pages")
        try:
            pdf_page = document[page.pdf_page - 1]
            width, height = pdf_page.get_size()  # points: 1/72 inch
            _check_size(width * dpi / 72, height * dpi / 72, page_id, f"{page} at {dpi} DPI")
            return pdf_page.render(scale=dpi / 72).to_pil().convert("RGB")
        except pdfium.PdfiumError as error:
            raise BadPageError(
                page_id, f"page {page_id!r} ({page}): cannot render PDF page: {error}"
            ) from None
    finally:
        document.close()


def pdf_page_pixels(page: PageFile, dpi: int) -> int:
    """Pixels of the page rendered at `dpi`; 0 when the PDF cannot be read (rendering reports it)."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(page.path)
    except (pdfium.PdfiumError, OSError):
        return 0
    try:
        if not 1 <= page.pdf_page <= len(document):
            return 0
        width, height = document[page.pdf_page - 1].get_size()  # points: 1/72 inch
        return max(0, round(width * dpi / 72) * round(height * dpi / 72))
    except pdfium.PdfiumError:
        return 0
    finally:
        document.close()


def pdf_page_count(path: Path) -> int | None:
    """Number of pages; None when the file cannot be opened as a PDF."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(path)
    except (pdfium.PdfiumError, OSError):
        return None
    try:
        return len(document)
    finally:
        document.close()


class MissingImages:
    """The image source of data without an image column: asking for a page is an error.

    Text retrievers never ask unless a page lacks text and would need OCR.
    """

    def __init__(self, message: str):
        self._message = message  # names the task, the data and the missing column

    def page_pixels(self, indices: Sequence[int]) -> list[int]:
        return [0] * len(indices)  # nothing to decode: asking for the page is the error

    def load(self, indices: Sequence[int], ids: Sequence[str]) -> list[Image]:  # noqa: ARG002 - ImageSource
        page = f"page {ids[0]!r}" if ids else "a page"
        raise TaskDataError(f"{self._message}: {page} has no image to give an image retriever or OCR")
