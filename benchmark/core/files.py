"""Where pagebench keeps its caches, and atomic writes (a crash never leaves a
half-written file that a later run trusts)."""

from __future__ import annotations

import hashlib
import os
import re
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


_UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9._-]+")
_LONGEST_FILE_NAME = 100  # of the part made from outside text; file systems allow 255 bytes


def safe_file_name(text: str) -> str:
    """`text` as one file name that stays in its folder: runs of anything but letters, digits
    and `._-` become `-` (so no `/`, `..` or absolute path survives), leading and trailing
    `-` and `.` go; at most the last 100 characters (a checkpoint path ends with what names
    it); `unnamed` when nothing is left.

    The one place names from outside (suites, checkpoints, --param values) become file names."""
    name = _UNSAFE_IN_FILE_NAMES.sub("-", text).strip("-.")[-_LONGEST_FILE_NAME:].strip("-.")
    return name or "unnamed"


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
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
