"""Thin helpers around `datasets.load_dataset` shared by the hub-format loaders.

The same calls read a hub id (with its pinned revision) or a local folder laid out
like a hub repository, which is how the tests and the bundled task exercise the
real loading code without a network.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

from benchmark.core.errors import TaskDataError
from benchmark.core.files import DATASETS_CACHE_FOLDER, cache_root, folder_state_hash, make_cache_folder
from benchmark.core.hub_access import hub_endpoint, hub_offline, hub_unreachable_reason, offline_advice
from benchmark.tasks.entries import entry_id, entry_text
from benchmark.tasks.spec import TaskSpec, is_commit

log = logging.getLogger(__name__)

# Where local folders read through `datasets` keep their Arrow cache: under the run's
# --cache-dir, in a temporary folder with --no-cache (None), or under the default cache
# root when nobody said (tests, scripts).
DEFAULT_CACHE: Literal["default"] = "default"
_cache_root: ContextVar[Path | None | Literal["default"]] = ContextVar(
    "datasets_cache_root", default=DEFAULT_CACHE
)
_temporary_cache: list[Path] = []  # made once per process under --no-cache, removed at exit
# (hub id, revision asked for) -> commit of the cached copy read offline, for the results file
_offline_commits: dict[tuple[str, str], str | None] = {}


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
    offline = is_hub and hub_offline()
    if is_hub and not offline:
        _check_hub_reachable(spec, what)
    # Download bars help for the hub; for a local folder they are only noise.
    quiet = not is_hub and not datasets.utils.are_progress_bars_disabled()
    if quiet:
        datasets.utils.disable_progress_bars()
    # hub downloads stay in the Hugging Face cache (HF_DATASETS_CACHE), shared with other tools
    cache_dir = None if is_hub else str(_local_dataset_cache(Path(source)))
    # Offline, datasets warns twice per dataset that it serves the cached copy: expected here,
    # and the commit read goes into the results file instead.
    verbosity = datasets.utils.logging.get_verbosity()
    if offline:
        datasets.utils.logging.set_verbosity_error()
    try:
        dataset = datasets.load_dataset(
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
        if offline and _cache_miss(error):
            raise TaskDataError(_not_in_cache(spec, what)) from None
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TaskDataError(f"task {spec.name!r}: cannot load {what}: {first_line}") from None
    finally:
        if quiet:
            datasets.utils.enable_progress_bars()
        datasets.utils.logging.set_verbosity(verbosity)
    if offline:
        _check_cached_revision(spec, what, dataset, revision)
        commit = cached_commit(dataset)
        log.debug("task %r: %s read from the datasets cache, commit %s", spec.name, what, commit)
        if not text_dataset:
            _offline_commits[spec.dataset, revision] = commit
    return dataset


def download_command(spec: TaskSpec) -> str:
    """The `pagebench download` command that puts this task's hub data in the cache."""
    return f"pagebench download --task {spec.name}"


def _check_hub_reachable(spec: TaskSpec, what: str) -> None:
    reason = hub_unreachable_reason()  # one probe per process, not 23 s of retries per dataset
    if reason is not None:
        raise TaskDataError(
            f"task {spec.name!r}: cannot load {what}: the Hugging Face hub ({hub_endpoint()}) "
            f"cannot be reached ({reason}); {offline_advice(download_command(spec))}"
        )


def _cache_miss(error: Exception) -> bool:
    # what `datasets` raises offline when nothing, or not this config, is cached
    return isinstance(error, ConnectionError) or str(error).startswith("Couldn't find cache")


def _not_in_cache(spec: TaskSpec, what: str) -> str:
    import datasets

    return (
        f"task {spec.name!r}: {what} is not in the datasets cache ({datasets.config.HF_DATASETS_CACHE}) "
        f"and offline mode is on (HF_HUB_OFFLINE); fill the cache on a machine with internet access "
        f"(`{download_command(spec)}`, same HF_HOME), or evaluate a local folder (--task ./my-docs)"
    )


def _check_cached_revision(spec: TaskSpec, what: str, dataset, revision: str) -> None:
    # Offline, `datasets` serves the most recently cached copy whatever revision was asked
    # for; a pinned task must not be evaluated on other data than it names.
    cached = cached_commit(dataset)
    if is_commit(revision) and cached is not None and cached != revision:
        raise TaskDataError(
            f"task {spec.name!r}: the cached copy of {what} is revision {cached}, not the pinned "
            f"{revision} (offline mode serves whatever is cached); `{download_command(spec)}` "
            "on a machine with internet access fetches the pinned one"
        )


def cached_commit(dataset) -> str | None:
    """The hub commit a loaded dataset's Arrow files were built from (their cache folder is
    named after it: <cache>/<org>___<name>/<config>/<version>/<commit>/), if it says."""
    files = getattr(dataset, "cache_files", None) or []
    if not files:
        return None
    folder = Path(files[0]["filename"]).parent.name
    return folder if is_commit(folder) else None


# The configs each hub format reads (None: the dataset's only one), as its loader asks for them.
_HUB_CONFIGS = {"vidore-qa": (None,), "beir": ("corpus", "queries", "qrels")}


def hub_splits(spec: TaskSpec, *, page_text: bool = True) -> list[tuple[str | None, bool]]:
    """(config, is the text twin) for each hub split a run of this task may read; none for
    local data. `page_text`: include the OCR-text twin that text retrievers read."""
    if spec.dataset is None or Path(spec.dataset).is_dir():
        return []
    splits = [(config, False) for config in _HUB_CONFIGS.get(spec.format, ())]
    if page_text and spec.text_dataset is not None and not Path(spec.text_dataset).is_dir():
        splits.append((None, True))
    return splits


def describe_split(spec: TaskSpec, config: str | None, text_dataset: bool) -> str:
    source, revision = (spec.source, spec.revision)
    if text_dataset:
        source, revision = spec.text_dataset, spec.text_dataset_revision or "main"
    return f"{source}" + (f" config {config}" if config else "") + f" split {spec.split} @ {revision}"


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
    if hub_offline():  # the cached copy that was read, not what the hub holds now
        return _offline_commits.get((spec.dataset, spec.revision))
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
