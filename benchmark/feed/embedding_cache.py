"""On-disk cache of page embeddings: re-running a retriever on a task encodes nothing,
and a run killed mid-corpus resumes from its last completed batch.

Layout, under `<cache-dir>/embeddings/`:

    <key-hash>/key.json            what produced these embeddings (retriever class,
                                   checkpoint, revisions, dtype, device type, pooling)
    <key-hash>/chunk-<hash>.npz    one per encoded batch: page content keys, offsets,
                                   the vectors of all its pages concatenated, a checksum

The key hash covers everything that changes an embedding, so a different checkpoint
(or a local checkpoint folder whose files changed) never reads another's entries.
Pages are found by the hash of their content (pixels, or text), not by id.

Multi-vector pages of different lengths are stored concatenated with an offsets
index, never padded. Vectors are stored in the narrowest dtype that holds them
exactly (bfloat16 when a model ran in bfloat16, else float16 or float32), so a
cached page scores exactly as a freshly encoded one.

A chunk is written to a temporary file and renamed, so a crash never leaves a half
chunk under a trusted name. A chunk that fails to load, to match its checksum or to
hold together (offsets that do not cut its vectors into its pages) is reported,
deleted, and its pages are encoded again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.files import CACHE_MARKER, DATASETS_CACHE_FOLDER, make_cache_folder, write_atomic

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
# what np.load raises on a truncated, foreign or otherwise damaged chunk file
_DAMAGED = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)
_EMBEDDINGS = "embeddings"
_KEY_FILE = "key.json"


def page_content_key(image=None, text: str | None = None) -> str:
    """The hash a page is cached under: its decoded pixels, or its text."""
    digest = hashlib.sha256()
    if image is not None:
        digest.update(f"image {image.mode} {image.size}\0".encode())
        digest.update(image.tobytes())
    else:
        digest.update(b"text\0")
        digest.update((text or "").encode("utf-8"))
    return digest.hexdigest()


def key_hash(key: dict) -> str:
    canonical = json.dumps({**key, "cache_format": CACHE_FORMAT}, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


class EmbeddingCache:
    """The cached page vectors of one retriever configuration."""

    def __init__(self, root: Path, key: dict):
        self.folder = make_cache_folder(root, _EMBEDDINGS) / key_hash(key)
        self.folder.mkdir(exist_ok=True)
        key_file = self.folder / _KEY_FILE
        if not key_file.is_file():
            write_atomic(key_file, lambda stream: stream.write(json.dumps(key, indent=1).encode()))
        self._where: dict[str, Path] = {}  # page content key -> chunk holding it
        for chunk in sorted(self.folder.glob("chunk-*.npz")):
            keys = self._chunk_keys(chunk)
            if keys is not None:
                self._where.update(dict.fromkeys(keys, chunk))

    def __len__(self) -> int:
        return len(self._where)

    def lookup(self, keys: Sequence[str]) -> dict:
        """The cached vectors (torch tensors) of those `keys` that are cached and intact."""
        found = {}
        for chunk in sorted({self._where[key] for key in keys if key in self._where}):
            pages = self._read_chunk(chunk)
            if pages is None:
                continue
            found.update({key: pages[key] for key in keys if key in pages})
        return found

    def store(self, keys: Sequence[str], vectors: Sequence) -> None:
        """One chunk holding these pages ([n_vectors, dim] tensors), written atomically."""
        if not keys:
            return
        arrays = [page.detach().float().cpu().numpy() for page in vectors]
        offsets = np.cumsum([0, *(len(page) for page in arrays)]).astype(np.int64)
        stored, dtype = _narrowest_exact(np.concatenate(arrays))
        key_array = np.array(list(keys), dtype="U64")
        checksum = _checksum(key_array, offsets, stored, dtype)
        chunk = self.folder / f"chunk-{hashlib.sha256(key_array.tobytes()).hexdigest()[:24]}.npz"
        write_atomic(
            chunk,
            lambda stream: np.savez(
                stream,
                keys=key_array,
                offsets=offsets,
                vectors=stored,
                dtype=np.array(dtype),
                checksum=np.array(checksum),
            ),
        )
        self._where.update(dict.fromkeys(keys, chunk))

    def _chunk_keys(self, chunk: Path) -> list[str] | None:
        try:
            return _chunk_keys(chunk)
        except _DAMAGED as error:
            self._discard(chunk, f"unreadable ({error})")
            return None

    def _read_chunk(self, chunk: Path) -> dict | None:
        import torch

        try:
            with np.load(chunk, allow_pickle=False) as data:
                keys, offsets, stored = data["keys"], data["offsets"], data["vectors"]
                dtype, checksum = str(data["dtype"]), str(data["checksum"])
        except _DAMAGED as error:
            self._discard(chunk, f"unreadable ({error})")
            return None
        if _checksum(keys, offsets, stored, dtype) != checksum:
            self._discard(chunk, "its checksum does not match its contents")
            return None
        problem = _layout_problem(keys, offsets, stored, dtype)
        if problem:
            self._discard(chunk, f"malformed ({problem})")
            return None
        vectors = _widen(stored, dtype)
        return {
            str(key): torch.from_numpy(vectors[offsets[i] : offsets[i + 1]].copy())
            for i, key in enumerate(keys)
        }

    def _discard(self, chunk: Path, reason: str) -> None:
        """A damaged chunk is never trusted: delete it so its pages are encoded again."""
        lost = [key for key, where in self._where.items() if where == chunk]
        for key in lost:
            del self._where[key]
        try:
            if chunk.is_dir() and not chunk.is_symlink():
                shutil.rmtree(chunk)  # a folder under a chunk's name: the fresh chunk needs the name
            else:
                chunk.unlink(missing_ok=True)
        except OSError as error:
            log.warning("cannot delete the damaged embedding cache chunk %s: %s", chunk, error)
        log.warning("embedding cache chunk %s is %s: deleted, its pages will be encoded again", chunk, reason)


def _layout_problem(keys: np.ndarray, offsets: np.ndarray, vectors: np.ndarray, dtype: str) -> str | None:
    """What is wrong with a chunk's arrays (a checksum proves only that they were not
    changed since written, not that they were written right); None when they hold together."""
    stored_dtype = {"bfloat16": np.uint16, "float16": np.float16, "float32": np.float32}.get(dtype)
    if stored_dtype is None or vectors.dtype != stored_dtype:
        return f"vectors of dtype {vectors.dtype} stored as {dtype!r}"
    if keys.ndim != 1 or vectors.ndim != 2:
        return f"keys of shape {keys.shape}, vectors of shape {vectors.shape}"
    if offsets.ndim != 1 or len(offsets) != len(keys) + 1 or not np.issubdtype(offsets.dtype, np.integer):
        return f"{offsets.shape} offsets of dtype {offsets.dtype} for {len(keys)} pages"
    if offsets[0] != 0 or offsets[-1] != len(vectors) or np.any(np.diff(offsets) < 0):
        return f"offsets do not cut {len(vectors)} vectors into {len(keys)} pages"
    return None


def _chunk_keys(chunk: Path) -> list[str]:
    """The page keys a chunk holds (reads only that array of the file)."""
    with np.load(chunk, allow_pickle=False) as data:
        return [str(key) for key in data["keys"]]


def _narrowest_exact(vectors: np.ndarray) -> tuple[np.ndarray, str]:
    """bfloat16 (as uint16 bits) or float16 when they hold every value exactly, else float32."""
    import torch

    as_tensor = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    bfloat16 = as_tensor.to(torch.bfloat16)
    if torch.equal(bfloat16.float(), as_tensor):
        return bfloat16.view(torch.int16).numpy().view(np.uint16), "bfloat16"
    float16 = vectors.astype(np.float16)
    if np.array_equal(float16.astype(np.float32), vectors):
        return float16, "float16"
    return np.ascontiguousarray(vectors, dtype=np.float32), "float32"


def _widen(stored: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":  # bfloat16 is the top half of a float32
        return (stored.astype(np.uint32) << 16).view(np.float32)
    return stored.astype(np.float32)


def _checksum(keys: np.ndarray, offsets: np.ndarray, vectors: np.ndarray, dtype: str) -> str:
    digest = hashlib.sha256(dtype.encode())
    for array in (keys, offsets, vectors):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


# --- pagebench cache info | clear -------------------------------------------------------


@dataclass(frozen=True)
class CachedConfiguration:
    folder: Path
    key: dict
    chunks: int
    pages: int
    bytes: int


def cache_contents(root: Path) -> tuple[list[CachedConfiguration], dict]:
    """Embedding caches per retriever configuration, and the OCR cache's size."""
    configurations = []
    for folder in sorted((root / _EMBEDDINGS).glob("*/")):
        try:
            key = json.loads((folder / _KEY_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            key = {}
        chunks = sorted(folder.glob("chunk-*.npz"))
        pages = 0
        for chunk in chunks:
            try:
                pages += len(_chunk_keys(chunk))
            except _DAMAGED:
                continue  # damaged: counted in bytes, dropped when next used
        size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
        configurations.append(CachedConfiguration(folder, key, len(chunks), pages, size))
    ocr_files = [path for path in (root / "ocr").rglob("*.txt") if path.is_file()]
    ocr = {"pages": len(ocr_files), "bytes": sum(path.stat().st_size for path in ocr_files)}
    return configurations, ocr


def datasets_cache_contents(root: Path) -> dict:
    """The Arrow files of local data read through `datasets` (`benchmark.tasks.hub`): one
    folder per task folder state."""
    folder = root / DATASETS_CACHE_FOLDER
    if folder.is_symlink() or not folder.is_dir():
        return {"folders": 0, "bytes": 0}
    entries = [entry for entry in folder.iterdir() if entry.is_dir() and not entry.is_symlink()]
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())
    return {"folders": len(entries), "bytes": size}


@dataclass(frozen=True)
class ClearOutcome:
    removed: list[Path]
    left: list[tuple[Path, str]]  # folder, why it was left


def clear_cache(
    root: Path, *, embeddings: bool = True, ocr: bool = True, datasets: bool = True
) -> ClearOutcome:
    """Delete the chosen cache folders, but only those pagebench made (holding its marker)."""
    outcome = ClearOutcome([], [])
    for name, wanted in ((_EMBEDDINGS, embeddings), ("ocr", ocr), (DATASETS_CACHE_FOLDER, datasets)):
        folder = root / name
        if not wanted or not (folder.exists() or folder.is_symlink()):
            continue
        if folder.is_symlink() or not folder.is_dir():
            outcome.left.append((folder, "not a folder pagebench made (a link or a file)"))
        elif not (folder / CACHE_MARKER).is_file():
            outcome.left.append((folder, f"it has no {CACHE_MARKER} marker, so pagebench did not make it"))
        else:
            shutil.rmtree(folder)
            outcome.removed.append(folder)
    return outcome
