"""Tesseract OCR of page images, with an on-disk cache keyed by image content.

Used by the runner when a text retriever needs page text that the task does not
ship, and by the script that builds the bundled Debian FAQ tasks. OCR is the slow
part of a text baseline (about 1 s per page here), hence the cache and the worker
threads (each runs its own tesseract process).

Each cache entry starts with the sha256 of its text: an entry that is truncated, altered
or not UTF-8 is reported (naming the page) and the page recognised again. A page
Tesseract fails on is tried once more, then becomes that page's BadPageError.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.core.errors import BadPageError, DependencyError
from benchmark.core.files import make_cache_folder, write_atomic
from benchmark.core.languages import LANGUAGES
from benchmark.feed.embedding_cache import page_content_key

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install it with `apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra` "
    "(Debian/Ubuntu) or `brew install tesseract tesseract-lang` (macOS)"
)


@dataclass
class TesseractOCR:
    languages: tuple[str, ...]  # ISO codes, e.g. ("fr",)
    cache_dir: Path | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    pages_from_cache: int = 0
    pages_recognised: int = 0

    def __post_init__(self) -> None:
        import pytesseract

        try:
            self.version = str(pytesseract.get_tesseract_version())
            installed = set(pytesseract.get_languages(config=""))
        except (pytesseract.TesseractNotFoundError, OSError):
            raise DependencyError(f"Tesseract OCR is not installed; {INSTALL_HINT}") from None
        self.tesseract_languages = "+".join(LANGUAGES[code].tesseract for code in self.languages)
        for code in self.languages:
            if LANGUAGES[code].tesseract not in installed:
                package = f"tesseract-ocr-{LANGUAGES[code].tesseract}"
                raise DependencyError(
                    f"Tesseract has no {LANGUAGES[code].name} language data ({LANGUAGES[code].tesseract}); "
                    f"install it with `apt-get install {package}`"
                )

    @property
    def description(self) -> str:
        return f"tesseract {self.version} ({self.tesseract_languages})"

    def texts(self, images: list[Image], ids: Sequence[str] | None = None) -> list[str]:
        """OCR text of each image, from the cache when the same pixels were seen before;
        a page that Tesseract fails on twice raises its BadPageError."""
        outcomes = self.recognise_pages(images, ids)
        for outcome in outcomes:
            if isinstance(outcome, BadPageError):
                raise outcome
        return outcomes

    def recognise_pages(
        self, images: list[Image], ids: Sequence[str] | None = None
    ) -> list[str | BadPageError]:
        """Each page's text, or the BadPageError of a page Tesseract failed on twice (the
        caller fails or skips it). `ids` name the pages in warnings and errors."""
        ids = list(ids) if ids is not None else [f"#{i + 1}" for i in range(len(images))]
        keys = [self._cache_key(image) for image in images]
        results: list[str | BadPageError | None] = [
            self._cached(key, page_id) for key, page_id in zip(keys, ids, strict=True)
        ]
        todo = [i for i, text in enumerate(results) if text is None]
        self.pages_from_cache += len(images) - len(todo)
        with (
            _one_openmp_thread_per_tesseract(),
            ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(todo)))) as pool,
        ):
            work = pool.map(self._recognise_or_error, [images[i] for i in todo], [ids[i] for i in todo])
            for i, outcome in zip(todo, work, strict=True):
                results[i] = outcome
                if isinstance(outcome, str):
                    self._store(keys[i], outcome)
                    self.pages_recognised += 1
        return results

    def recognise(self, image: Image) -> str:
        import pytesseract

        return pytesseract.image_to_string(image, lang=self.tesseract_languages)

    def _recognise_or_error(self, image: Image, page_id: str) -> str | BadPageError:
        """Tesseract's text; a failure (a crashed process, a lost temporary file) is retried
        once, then becomes the page's error."""
        import pytesseract

        failures = (pytesseract.TesseractError, OSError, RuntimeError, ValueError)
        try:
            return self.recognise(image)
        except failures as error:
            log.warning(
                "OCR of page %r failed (%s: %s); trying once more", page_id, type(error).__name__, error
            )
        try:
            return self.recognise(image)
        except failures as error:
            return BadPageError(
                page_id, f"page {page_id!r}: OCR failed twice: {type(error).__name__}: {error}"
            )

    def _cache_key(self, image: Image) -> str:
        recogniser = f"tesseract {self.version} {self.tesseract_languages}"
        return hashlib.sha256(f"{page_content_key(image=image)} {recogniser}".encode()).hexdigest()

    def _path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / "ocr" / key[:2] / f"{key}.txt"

    def _cached(self, key: str, page_id: str) -> str | None:
        """The cached text, if present and intact; a damaged entry is reported and removed."""
        path = self._path(key)
        if path is None or not (path.exists() or path.is_symlink()):
            return None
        try:
            return read_entry(path)
        except (OSError, DamagedEntry) as error:
            log.warning(
                "OCR cache entry %s of page %r is %s: recognising the page again", path, page_id, error
            )
            remove_damaged(path)
            return None

    def _store(self, key: str, text: str) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            make_cache_folder(self.cache_dir, "ocr")
            write_atomic(path, lambda stream: stream.write(entry_bytes(text)))
        except OSError as error:  # the text is still used; only a later run pays for it again
            log.warning("cannot write the OCR cache entry %s: %s", path, error)


class DamagedEntry(ValueError):
    """An OCR cache entry whose checksum or encoding is wrong."""


_CHECKSUM_PREFIX = b"sha256 "


def entry_bytes(text: str) -> bytes:
    """A cache entry: `sha256 <hex of the text's UTF-8>` on the first line, then the text."""
    data = text.encode("utf-8")
    return _CHECKSUM_PREFIX + hashlib.sha256(data).hexdigest().encode() + b"\n" + data


def read_entry(path: Path) -> str:
    raw = path.read_bytes()
    header, newline, data = raw.partition(b"\n")
    if not newline or not header.startswith(_CHECKSUM_PREFIX):
        raise DamagedEntry("without its checksum line (damaged, or written by an older pagebench)")
    if hashlib.sha256(data).hexdigest().encode() != header[len(_CHECKSUM_PREFIX) :]:
        raise DamagedEntry("damaged: its checksum does not match its text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DamagedEntry(f"not UTF-8 ({error})") from None


def remove_damaged(path: Path) -> None:
    """Remove a damaged entry (a folder in its place included) so the fresh text can be written."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as error:
        log.warning("cannot remove the damaged OCR cache entry %s: %s", path, error)


@contextmanager
def _one_openmp_thread_per_tesseract() -> Iterator[None]:
    """OMP_THREAD_LIMIT=1 for the Tesseract processes started inside the block (their
    OpenMP threads make them several times slower on small machines; pages are
    parallelised instead), and not after: a PyTorch process started with that limit
    computes wrong numbers on the CPU (torch 2.13 schedules work for threads OpenMP then
    refuses), and every later child process would inherit it. A limit the user set stays."""
    if "OMP_THREAD_LIMIT" in os.environ:
        yield
        return
    os.environ["OMP_THREAD_LIMIT"] = "1"
    try:
        yield
    finally:
        os.environ.pop("OMP_THREAD_LIMIT", None)
