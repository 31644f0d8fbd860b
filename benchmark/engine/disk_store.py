"""Page vectors on disk, for corpora larger than memory.

`PageVectorIndex(store_dir=...)` keeps its pages here instead of in memory:

- while indexing, each page is appended to a staging file in float16 (with its length
  in an offsets index), so nothing accumulates in memory;
- at `finalize`, pages are laid out bucket by bucket (equal padded length, as in memory)
  in one float16 file per bucket, written sequentially, and the staging file is deleted;
- at search time the engine asks a bucket for a few pages at a time: that slice is
  memory-mapped, converted to the scoring dtype, and unmapped again, so resident memory
  stays at a few slices whatever the corpus size (the operating system's page cache
  keeps recently read files fast without counting against the process).
"""

from __future__ import annotations

import shutil
import uuid
import weakref
from pathlib import Path

import numpy as np

STORED_DTYPE = np.float16


class DiskPageStore:
    """Append-only staging of page vectors, then one file per bucket."""

    def __init__(self, folder: Path):
        # a folder of its own: several indexes (tasks, processes) may share `folder`
        self.folder = Path(folder) / f"pages-{uuid.uuid4().hex[:12]}"
        self.folder.mkdir(parents=True)
        # the files go when the index does (or at exit): they are a cache of this run only
        weakref.finalize(self, shutil.rmtree, self.folder, True)
        self._staging_path = self.folder / "staging.f16"
        self._staging = open(self._staging_path, "wb")  # noqa: SIM115 - closed in finalize
        self._offsets = [0]  # rows before each page in the staging file
        self.dim: int | None = None

    def add(self, vectors) -> None:
        """Append one page ([n_vectors, dim] tensor)."""
        array = vectors.detach().float().cpu().numpy().astype(STORED_DTYPE)
        self.dim = array.shape[1]
        self._staging.write(array.tobytes())
        self._offsets.append(self._offsets[-1] + len(array))

    def bucket_rows(self, members: list[int], padded_length: int, dtype, device) -> DiskRows:
        """Write the pages `members` (corpus positions), each padded to `padded_length` by
        repeating its last vector, into a new bucket file; the rows of that file."""
        self._staging.flush()
        path = self.folder / f"bucket-{padded_length}.f16"
        with open(path, "wb") as out:
            for position in members:
                start, stop = self._offsets[position], self._offsets[position + 1]
                page = _read_rows(self._staging_path, start, stop, self.dim)
                out.write(page.tobytes())
                if stop - start < padded_length:
                    out.write(np.repeat(page[-1:], padded_length - (stop - start), axis=0).tobytes())
        return DiskRows(path, len(members) * padded_length, self.dim, dtype, device)

    def finish(self) -> None:
        """Drop the staging file once every bucket is written."""
        self._staging.close()
        self._staging_path.unlink(missing_ok=True)


class DiskRows:
    """A bucket's [rows, dim] float16 file; slicing maps, converts and unmaps."""

    def __init__(self, path: Path, rows: int, dim: int, dtype, device):
        self.path, self.rows, self.dim = path, rows, dim
        self.dtype, self.device = dtype, device

    @property
    def nbytes(self) -> int:
        return self.rows * self.dim * np.dtype(STORED_DTYPE).itemsize

    def __getitem__(self, rows: slice):
        import torch

        start, stop, _ = rows.indices(self.rows)
        mapped = _read_rows(self.path, start, stop, self.dim)
        # astype copies out of the mapping, which is closed when `mapped` goes
        return torch.from_numpy(mapped.astype(np.float32)).to(device=self.device, dtype=self.dtype)


def _read_rows(path: Path, start: int, stop: int, dim: int) -> np.ndarray:
    itemsize = np.dtype(STORED_DTYPE).itemsize
    if stop <= start:
        return np.empty((0, dim), dtype=STORED_DTYPE)
    return np.memmap(
        path, dtype=STORED_DTYPE, mode="r", offset=start * dim * itemsize, shape=(stop - start, dim)
    )


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder` (stores live in sub-folders of it)."""
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
