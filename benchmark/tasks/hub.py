"""Thin helpers around `datasets.load_dataset` shared by the hub-format loaders.

The same calls read a hub id (with its pinned revision) or a local folder laid out
like a hub repository, which is how the tests and the bundled task exercise the
real loading code without a network.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

from benchmark.core.errors import TaskDataError
from benchmark.core.files import DATASETS_CACHE_FOLDER, cache_root, folder_state_hash, make_cache_folder
from benchmark.tasks.entries import entry_id, entry_text
from benchmark.tasks.spec import TaskSpec

# Where local folders read through `datasets` keep their Arrow cache: under the run's
# --cache-dir, in a temporary folder with --no-cache (None), or under the default cache
# root when nobody said (tests, scripts).
DEFAULT_CACHE: Literal["default"] = "default"
_cache_root: ContextVar[Path | None | Literal["default"]] = ContextVar(
    "datasets_cache_root", default=DEFAULT_CACHE
)
_temporary_cache: list[Path] = []  # made once per process under --no-cache, removed at exit


@contextmanager
def datasets_cache_under(root: Path | None | Literal["default"]) -> Iterator[None]:
    """Within this block, local datasets are cached under `root/datasets` (None: no cache)."""
    token = _cache_root.set(root)
    try:
        yield
    finally:
        _cache_root.reset(token)


def _local_dataset_cache(source: Path) -> Path:
    # datasets keys its cache of a local folder by the folder's name alone (two
    # different folders called "data" share one cache, and an edited folder is not
    # re-read), so local folders get a cache of their own, keyed by their files.
    root = _cache_root.get()
    if root is None:  # --no-cache: datasets still needs a folder for its Arrow files
        if not _temporary_cache:
            _temporary_cache.append(Path(tempfile.mkdtemp(prefix="pagebench-datasets-")))
            atexit.register(shutil.rmtree, _temporary_cache[0], ignore_errors=True)
        return _temporary_cache[0] / folder_state_hash(source)
    root = cache_root() if root == DEFAULT_CACHE else root
    return make_cache_folder(root, DATASETS_CACHE_FOLDER) / folder_state_hash(source)


def load_split(spec: TaskSpec, config: str | None = None, *, text_dataset: bool = False):
    """One split of one config of the task's data (or of its text twin), memory-mapped."""
    import datasets

    if text_dataset:
        source, revision = spec.text_dataset, spec.text_dataset_revision or "main"
        is_hub = not Path(source).is_dir()
    else:
        source, revision = spec.source, spec.revision
        # a `dataset` that names a folder on disk is read as datasets reads it: as files
        is_hub = spec.dataset is not None and not Path(spec.dataset).is_dir()
    what = f"{source!r}" + (f" config {config!r}" if config else "") + f" split {spec.split!r}"
    # Download bars help for the hub; for a local folder they are only noise.
    quiet = not is_hub and not datasets.utils.are_progress_bars_disabled()
    if quiet:
        datasets.utils.disable_progress_bars()
    # hub downloads stay in the Hugging Face cache (HF_DATASETS_CACHE), shared with other tools
    cache_dir = None if is_hub else str(_local_dataset_cache(Path(source)))
    try:
        return datasets.load_dataset(
            source,
            config,
            split=spec.split,
            revision=revision if is_hub else None,
            cache_dir=cache_dir,
        )
    except (
        OSError,
        ValueError,
        KeyError,
    ) as error:  # ConnectionError and FileNotFoundError are OSErrors
        hint = " Is the Hugging Face hub reachable (or the dataset in the local cache)?" if is_hub else ""
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TaskDataError(f"task {spec.name!r}: cannot load {what}: {first_line}.{hint}") from None
    finally:
        if quiet:
            datasets.utils.enable_progress_bars()


def pick_column(dataset, candidates: Sequence[str], role: str, where: str) -> str:
    """The first of `candidates` the dataset has; else an error listing what it has."""
    for name in candidates:
        if name in dataset.column_names:
            return name
    raise TaskDataError(
        f"{where}: no {role} column (looked for {', '.join(repr(c) for c in candidates)}); "
        f"its columns are {dataset.column_names}"
    )


def resolved_hub_revision(spec: TaskSpec) -> str | None:
    """The commit a hub revision points at (so 'main' is recorded as a sha), if reachable."""
    if spec.dataset is None:
        return spec.revision
    if spec.revision_is_pinned:
        return spec.revision
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(spec.dataset, revision=spec.revision).sha
    except Exception:  # noqa: BLE001 - best effort: offline or cache-only runs still work
        return None


def text_of(value, where: str) -> str | None:
    """A text cell: None stays None, strings pass, anything else is a typed error."""
    return entry_text(value, where)


def id_of(value, where: str) -> str:
    """Ids may be strings or integers in the wild (ViDoRe v3 uses int64); we use strings.
    Checked as `benchmark.tasks.entries` says (no whitespace, bounded, printable)."""
    return entry_id(value, where)
