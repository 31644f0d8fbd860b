"""Where pagebench keeps its caches, and atomic writes (a crash never leaves a
half-written file that a later run trusts)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
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


# Written into each cache folder pagebench creates (`ocr`, `embeddings`, `datasets`):
# `pagebench cache clear` deletes only folders holding it, never one it did not make.
CACHE_MARKER = ".pagebench-cache"
# `<cache-dir>/datasets`: the Arrow files of local data read through `datasets`
DATASETS_CACHE_FOLDER = "datasets"


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
    write_files_atomic([(path, write)])


def write_files_atomic(files: Sequence[tuple[Path, Callable[[BinaryIO], object]]]) -> None:
    """Several files of one folder, committed together: each is written to a temporary file and
    fsynced, then they are renamed in order. The last is the commit marker: its old version is
    removed before the first rename, so a crash between renames leaves new files without the
    marker (which readers ignore), never new files beside an old marker. On any failure the
    temporary files are removed; one before the renames (a full disk) leaves the folder as it was."""
    if not files:
        return
    folder = files[0][0].parent
    folder.mkdir(parents=True, exist_ok=True)
    mode = 0o666 & ~current_umask()  # what open() would give; mkstemp's own files are 0600
    staged: list[tuple[str, Path]] = []
    try:
        for path, write in files:
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((temporary, path))
            with os.fdopen(handle, "wb") as stream:
                write(stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, mode)
        marker = files[-1][0]
        if len(files) > 1 and marker.exists():
            marker.unlink()
            _fsync_folder(folder)  # withdrawn on disk before anything it described is replaced
        while staged:
            temporary, path = staged[0]
            if len(staged) == 1 and len(files) > 1:
                _fsync_folder(folder)  # the others' renames reach the disk before the marker's
            os.replace(temporary, path)
            staged.pop(0)
    except BaseException:
        for temporary, _ in staged:
            Path(temporary).unlink(missing_ok=True)
        raise


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":  # a folder cannot be opened for fsync elsewhere; renames are still atomic
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def temporary_name_length(name: str) -> int:
    """Bytes in the name of the temporary file written before `name` (the longest name an
    atomic write creates): `.NAME.` + 8 random characters + `.tmp`."""
    return len(name.encode()) + len("..") + 8 + len(".tmp")


def current_umask() -> int:
    """The process's umask. Linux reports it; elsewhere reading it means setting it, so it
    is set straight back (a file another thread creates in between may miss the umask)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
