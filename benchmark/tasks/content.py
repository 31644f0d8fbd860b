"""What each page holds, as a digest, for the task fingerprint.

Two runs are comparable only on the same pages. Ids do not say that: a local folder
whose images or texts were replaced keeps its ids. A hub dataset pinned to a commit
is fixed by the commit, so only data read from a folder on disk is hashed: the page
file's bytes (or the image cell's), the PDF page number, and the page text the data
ships (read whether or not the retriever needs it, so image and text retrievers see
the same fingerprint).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from benchmark.core.errors import TaskDataError
from benchmark.tasks.images import PageFile
from benchmark.tasks.spec import TaskSpec

_HASH_CHUNK_BYTES = 1 << 20
_ARROW_BATCH_ROWS = 64  # image bytes of this many rows in memory at once


def hashes_pages(spec: TaskSpec) -> bool:
    """Data read from a folder: nothing but its bytes says which pages it holds."""
    return spec.dataset is None or Path(spec.dataset).is_dir()


def file_page_contents(files: Sequence[PageFile], texts: Sequence[str | None]) -> list[str]:
    """A digest of each local page: its file's bytes (each file read once), PDF page, text."""
    file_digests: dict[Path, str] = {}
    contents = []
    for page, text in zip(files, texts, strict=True):
        if page.path not in file_digests:
            file_digests[page.path] = file_sha256(page.path)
        contents.append(_page_digest(file_digests[page.path], page.pdf_page, text))
    return contents


def arrow_page_contents(
    rows, image_column: str | None, text_column: str | None, kept_rows: Sequence[int] | None = None
) -> list[str]:
    """A digest of each row of a `datasets.Dataset` (the `kept_rows`, default all): the
    image cell's bytes (cast to `Image(decode=False)`), or the file it names, and its text."""
    columns = [column for column in (image_column, text_column) if column]
    if kept_rows is not None:
        rows = rows.select(kept_rows)
    if not columns:
        return [_page_digest("", None, None)] * len(rows)
    contents = []
    for batch in rows.select_columns(columns).iter(batch_size=_ARROW_BATCH_ROWS):
        images = batch[image_column] if image_column else [None] * len(batch[columns[0]])
        texts = batch[text_column] if text_column else [None] * len(images)
        for cell, text in zip(images, texts, strict=True):
            contents.append(_page_digest(_cell_sha256(cell), None, text if isinstance(text, str) else None))
    return contents


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
    except OSError as error:
        raise TaskDataError(f"{path}: cannot read the page file ({error.strerror})") from None
    return digest.hexdigest()


def _cell_sha256(cell) -> str:
    if not cell:
        return "no image"
    if cell.get("bytes"):
        return hashlib.sha256(cell["bytes"]).hexdigest()
    if cell.get("path"):  # never opened (it could point anywhere): loading the page refuses it
        return "names a file: " + hashlib.sha256(str(cell["path"]).encode()).hexdigest()
    return "no image"  # decoding names the page when it is asked for


def _page_digest(file_digest: str, pdf_page: int | None, text: str | None) -> str:
    digest = hashlib.sha256(f"{file_digest} {pdf_page}\0".encode())
    digest.update(b"no text" if text is None else b"text\0" + text.encode("utf-8"))
    return digest.hexdigest()
