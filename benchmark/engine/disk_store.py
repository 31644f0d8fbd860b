"""Page vectors on disk, for corpora larger than memory.

`PageVectorIndex(store_dir=...)` keeps its pages here instead of in memory:

- pages are stored in two bytes a value: bfloat16 when they are scored in bfloat16
  (the values the in-memory engine scores, so results are the same as in memory),
  float16 when they are scored in float32 (half the disk of float32; float16 keeps
  more mantissa than bfloat16 for unit-length vectors);
- while indexing, each page is appended to a staging file (with its length in an
  offsets index), so nothing accumulates in memory;
- at `finalize`, pages are laid out bucket by bucket (equal padded length, as in memory)
  in one file per bucket, written sequentially, and the staging file is deleted;
- at search time the engine asks a bucket for a few pages at a time (one matmul's
  worth): that slice is read into a buffer allocated once per bucket and reused, and
  float16 is widened by torch into a reused float32 buffer, so resident memory stays at
  one slice whatever the corpus size (the operating system's page cache keeps recently
  read files fast without counting against the process).

Reused buffers and torch's vectorised conversion, instead of a fresh memory map per
slice converted by numpy (scalar for float16) and, for bfloat16, float16 pages
converted on every pass, are what bring the store near in-memory speed (issue 16,
`benchmarks/scale.py`).
"""

from __future__ import annotations

import shutil
import uuid
import weakref
from pathlib import Path

import numpy as np

from benchmark.core.errors import PagebenchError

RAW_DTYPE = np.uint16  # the two bytes of a stored value, whichever float they hold


def stored_dtype_name(scoring_dtype: str) -> str:
    """The dtype pages are stored in on disk, for pages scored in `scoring_dtype`."""
    return "bfloat16" if scoring_dtype == "bfloat16" else "float16"


class DiskPageStore:
    """Append-only staging of page vectors, then one file per bucket."""

    def __init__(self, folder: Path, scoring_dtype: str):
        """`scoring_dtype`: the dtype the engine scores in ("float32", "bfloat16"); it sets
        the stored dtype."""
        import torch

        # a folder of its own: several indexes (tasks, processes) may share `folder`
        self.folder = Path(folder) / f"pages-{uuid.uuid4().hex[:12]}"
        self.folder.mkdir(parents=True)
        # the files go when the index does (or at exit): they are a cache of this run only
        weakref.finalize(self, shutil.rmtree, self.folder, True)
        self.stored_dtype = getattr(torch, stored_dtype_name(scoring_dtype))
        self._staging_path = self.folder / "staging.bin"
        self._staging = open(self._staging_path, "wb")  # noqa: SIM115 - closed in finalize
        self._offsets = [0]  # rows before each page in the staging file
        self.dim: int | None = None

    def add(self, vectors) -> None:
        """Append one page ([n_vectors, dim] tensor)."""
        import torch

        # through float32: exact from any input dtype, then one rounding to nearest even
        # (torch's direct bfloat16 -> float16 copy is scalar and slow)
        stored = vectors.detach().to(device="cpu", dtype=torch.float32).to(self.stored_dtype)
        array = stored.contiguous().view(torch.int16).numpy().view(RAW_DTYPE)
        self.dim = array.shape[1]
        self._staging.write(array.tobytes())
        self._offsets.append(self._offsets[-1] + len(array))

    def bucket_rows(self, members: list[int], padded_length: int, dtype, device) -> DiskRows:
        """Write the pages `members` (corpus positions), each padded to `padded_length` by
        repeating its last vector, into a new bucket file; the rows of that file."""
        self._staging.flush()
        path = self.folder / f"bucket-{padded_length}.bin"
        with open(path, "wb") as out:
            for position in members:
                start, stop = self._offsets[position], self._offsets[position + 1]
                page = np.empty((stop - start, self.dim), dtype=RAW_DTYPE)
                _read_into(self._staging_path, start * self.dim * page.itemsize, page)
                out.write(page.tobytes())
                if stop - start < padded_length:
                    out.write(np.repeat(page[-1:], padded_length - (stop - start), axis=0).tobytes())
        rows = len(members) * padded_length
        return DiskRows(path, rows, self.dim, stored_dtype=self.stored_dtype, dtype=dtype, device=device)

    def finish(self) -> None:
        """Drop the staging file once every bucket is written."""
        self._staging.close()
        self._staging_path.unlink(missing_ok=True)


class DiskRows:
    """A bucket's [rows, dim] file; slicing reads (and widens) into reused buffers.

    A slice is a view of this object's buffer: it holds until the next slice is taken,
    which is how the engine uses it (one matmul, then the next slice).
    """

    def __init__(self, path: Path, rows: int, dim: int, *, stored_dtype, dtype, device):
        self.path, self.rows, self.dim = path, rows, dim
        self.stored_dtype, self.dtype, self.device = stored_dtype, dtype, device
        self._buffers: tuple = ()  # (read, in the scoring dtype on the device or None), grown as needed

    @property
    def nbytes(self) -> int:
        return self.rows * self.dim * np.dtype(RAW_DTYPE).itemsize

    def __getitem__(self, rows: slice):
        import torch

        start, stop, _ = rows.indices(self.rows)
        read, converted = self._buffers_for(max(0, stop - start))
        raw = read.view(torch.int16).numpy().view(RAW_DTYPE)
        _read_into(self.path, start * self.dim * raw.itemsize, raw)
        # float16 -> float32 is exact: the values the in-memory engine gets from the
        # same float16-exact pages; bfloat16 pages are scored as stored
        return read if converted is None else converted.copy_(read)

    def _buffers_for(self, count: int) -> tuple:
        import torch

        if not self._buffers or len(self._buffers[0]) < count:
            read = torch.empty(count, self.dim, dtype=self.stored_dtype)
            converted = None
            if self.dtype != self.stored_dtype or self.device.type != "cpu":
                converted = torch.empty(count, self.dim, dtype=self.dtype, device=self.device)
            self._buffers = (read, converted)
        return tuple(buffer if buffer is None else buffer[:count] for buffer in self._buffers)


def _read_into(path: Path, offset: int, buffer: np.ndarray) -> None:
    """Fill `buffer` with the bytes of `path` from `offset`; a file cut short is an error."""
    if buffer.nbytes == 0:
        return
    view = memoryview(buffer).cast("B")
    with open(path, "rb", buffering=0) as file:
        file.seek(offset)
        filled = 0
        while filled < len(view):
            read = file.readinto(view[filled:])
            if not read:
                raise PagebenchError(
                    f"{path}: the page store ends early (at byte {offset + filled}); "
                    "something changed it while pagebench ran"
                )
            filled += read


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder` (stores live in sub-folders of it)."""
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
