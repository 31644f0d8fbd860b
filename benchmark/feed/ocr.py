"""Tesseract OCR of page images, with an on-disk cache keyed by image content.

Used by the runner when a text retriever needs page text that the task does not
ship, and by the script that builds the bundled Debian FAQ tasks. OCR is the slow
part of a text baseline (about 1 s per page here), hence the cache and the worker
threads (each runs its own tesseract process).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.core.errors import DependencyError
from benchmark.core.files import write_text_atomic
from benchmark.core.languages import LANGUAGES
from benchmark.feed.embedding_cache import page_content_key

if TYPE_CHECKING:
    from PIL.Image import Image

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

        # Tesseract's OpenMP threads make it several times slower on small machines;
        # we parallelise over pages instead. Child processes inherit this.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
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

    def texts(self, images: list[Image]) -> list[str]:
        """OCR text of each image, from the cache when the same pixels were seen before."""
        keys = [self._cache_key(image) for image in images]
        results: list[str | None] = [self._cached(key) for key in keys]
        todo = [i for i, text in enumerate(results) if text is None]
        self.pages_from_cache += len(images) - len(todo)
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(todo)))) as pool:
            for i, text in zip(todo, pool.map(self.recognise, [images[i] for i in todo]), strict=True):
                results[i] = text
                self._store(keys[i], text)
        self.pages_recognised += len(todo)
        return [text or "" for text in results]

    def recognise(self, image: Image) -> str:
        import pytesseract

        return pytesseract.image_to_string(image, lang=self.tesseract_languages)

    def _cache_key(self, image: Image) -> str:
        recogniser = f"tesseract {self.version} {self.tesseract_languages}"
        return hashlib.sha256(f"{page_content_key(image=image)} {recogniser}".encode()).hexdigest()

    def _path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / "ocr" / key[:2] / f"{key}.txt"

    def _cached(self, key: str) -> str | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        return path.read_text(encoding="utf-8")

    def _store(self, key: str, text: str) -> None:
        path = self._path(key)
        if path is not None:
            write_text_atomic(path, text)
