"""Where pagebench keeps its caches, and atomic writes (a crash never leaves a
half-written file that a later run trusts)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def cache_root() -> Path:
    """$PAGEBENCH_CACHE_DIR, else $XDG_CACHE_HOME/pagebench, else ~/.cache/pagebench."""
    if os.environ.get("PAGEBENCH_CACHE_DIR"):
        return Path(os.environ["PAGEBENCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pagebench"


# Written into each cache folder pagebench creates (`ocr`, `embeddings`, `datasets`):
# `pagebench cache clear` deletes only folders holding it, never one it did not make.
CACHE_MARKER = ".pagebench-cache"


def make_cache_folder(root: Path, name: str) -> Path:
    """`root/name`, created with pagebench's marker inside when it does not exist yet
    (an existing folder is used as it is: pagebench did not make it)."""
    folder = root / name
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / CACHE_MARKER
        if not marker.exists():
            marker.write_text("a cache folder made by pagebench; `pagebench cache clear` may delete it\n")
    return folder


def folder_state_hash(folder: Path) -> str:
    """Changes whenever a file under `folder` is added, removed, resized or touched."""
    digest = hashlib.sha256(str(folder.resolve()).encode())
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    write_atomic(path, lambda stream: stream.write(text.encode("utf-8")))


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """`write(stream)` into a temporary file beside `path`, fsync, then rename over `path`:
    readers see the old file or the whole new one, never a part (even after SIGKILL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp makes it 0600: give it open()'s mode
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    try:  # Linux says it without changing it (no window where other threads see another umask)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere the only way to read it is to set it: set it straight back
    os.umask(mask)
    return mask
