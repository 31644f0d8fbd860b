"""Checks before a run does any work: what would otherwise fail only after every page was
encoded (a folder that cannot be written, a full disk, a file name too long, two tasks
writing the same results file) fails first, as one line naming the folder or task."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.core.files import temporary_name_length
from benchmark.core.vocabulary import metric_cutoff
from benchmark.results.writer import result_file_names
from benchmark.tasks.spec import TaskSpec

# Rough sizes of what a run writes, for the free-space check (an estimate, not a promise).
RESULT_BYTES_PER_QUERY = 2048  # per-query metrics in the .json, the .qrels lines
TREC_LINE_BYTES = 80  # `qid Q0 page rank score run` per page kept
CACHE_BYTES_PER_PAGE = 16 * 1024  # OCR text or a single-vector embedding; multi-vector pages take more
DISK_INDEX_BYTES_PER_PAGE = 2 * 1030 * 128 * 2  # a ColPali page in float16, staging and bucket copies
UNKNOWN_COUNT = 1000  # pages or queries of a task whose spec does not say
_FALLBACK_NAME_MAX = 255


def check_before_run(
    specs: Sequence[TaskSpec],
    *,
    output_dir: Path,
    run_name: str,
    top_k: int,
    cache_dir: Path | None = None,
    index_dir: Path | None = None,
) -> None:
    """Raise a `PagebenchError` for the first thing that would fail the run after its work."""
    run_folder = Path(output_dir) / run_name
    check_main_scores_within(specs, top_k)
    _check_distinct_result_files(specs, run_folder)
    _check_name_lengths(specs, run_folder)
    folders = {"output": run_folder}
    if cache_dir is not None:
        folders["cache"] = Path(cache_dir)
    if index_dir is not None:
        folders["--index-on-disk"] = Path(index_dir)
    for role, folder in folders.items():
        _check_writable(folder, role)
    needs = {"output": sum(_results_bytes(spec, top_k) for spec in specs)}
    if cache_dir is not None:
        pages = sum(_count(spec.n_pages, spec, "corpus.jsonl") for spec in specs)
        needs["cache"] = pages * CACHE_BYTES_PER_PAGE
    if index_dir is not None:  # one task's index at a time: it is removed when the task ends
        needs["--index-on-disk"] = max(
            _count(spec.n_pages, spec, "corpus.jsonl") * DISK_INDEX_BYTES_PER_PAGE for spec in specs
        )
    _check_free_space(folders, needs)


def check_main_scores_within(specs: Sequence[TaskSpec], top_k: int) -> None:
    """Metrics with a cutoff above --top-k are left out of the results; a task's main score
    cannot be."""
    for spec in specs:
        if metric_cutoff(spec.main_score) > top_k:
            raise PagebenchError(
                f"--top-k {top_k} keeps fewer pages than {spec.main_score}, the main score of task "
                f"{spec.name}, reads: use --top-k {metric_cutoff(spec.main_score)} or more"
            )


def check_output_file(path: Path, role: str) -> None:
    """A file a command writes after its work (`profile --output`): its folder writable, and
    the path itself not a folder."""
    if Path(path).is_dir():
        raise PagebenchError(f"{role} {path} is a folder, not a file")
    _check_writable(Path(path).parent, f"{role}'s")


def _check_distinct_result_files(specs: Sequence[TaskSpec], run_folder: Path) -> None:
    """Two tasks of one name (two folders both called `docs`) would overwrite each other's results."""
    seen: dict[str, TaskSpec] = {}
    for spec in specs:
        key = spec.name.casefold()  # one file on case-insensitive file systems too
        if key in seen:
            raise PagebenchError(
                f"{_origin(seen[key])} and {_origin(spec)} are both task {spec.name!r}: their results "
                f"would overwrite each other in {run_folder}; give one another name "
                "(`name` in its task.toml), or evaluate them in separate runs (--run-name)"
            )
        seen[key] = spec


def _origin(spec: TaskSpec) -> str:
    if spec.format == "local" and spec.path is not None:
        return f"folder {spec.path}"
    return str(spec.source_file) if spec.source_file is not None else f"task {spec.name!r}"


def _check_name_lengths(specs: Sequence[TaskSpec], run_folder: Path) -> None:
    """Names longer than the file system allows (255 bytes on most) fail only at the write."""
    name_max, path_max = _name_limits(run_folder)
    if len(run_folder.name.encode()) > name_max:
        raise PagebenchError(
            f"run name {run_folder.name[:40]!r}... is {len(run_folder.name.encode())} bytes; folder names "
            f"may have at most {name_max} here: choose a shorter --run-name"
        )
    for spec in specs:
        longest = max(temporary_name_length(name) for name in result_file_names(spec.name))
        if longest > name_max:
            raise PagebenchError(
                f"task name {spec.name[:40]!r}... ({_origin(spec)}) makes result file names of {longest} "
                f"bytes (with the temporary-file suffix); at most {name_max} are allowed here: "
                f"give it a name of at most {name_max - longest + len(spec.name.encode())} bytes "
                "(`name` in its task.toml)"
            )
        full_path = len(str(run_folder.absolute()).encode()) + 1 + longest
        if full_path > path_max:
            raise PagebenchError(
                f"{run_folder}: the results of task {spec.name!r} would have paths of {full_path} bytes, "
                f"more than the {path_max} allowed: choose a shorter --output-dir or --run-name"
            )


def _name_limits(folder: Path) -> tuple[int, int]:
    existing = _nearest_existing(folder)
    try:
        return os.pathconf(existing, "PC_NAME_MAX"), os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or no answer
        return _FALLBACK_NAME_MAX, 4096


def _nearest_existing(folder: Path) -> Path:
    """`folder`, or the closest of its parents that exists (a file, if one is in the way)."""
    folder = folder.absolute()
    while not _exists(folder) and folder != folder.parent:
        folder = folder.parent
    return folder


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long, say: checked on its own
        return False


def _check_writable(folder: Path, role: str) -> None:
    """Write a probe file into `folder`, or into the nearest folder above it that exists (where
    the run will create it): the only test that holds for read-only mounts, ACLs and root alike.
    Nothing is left behind, not even an empty folder."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise PagebenchError(f"{role} folder {folder}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".pagebench-probe-"):
            pass
    except OSError as error:
        raise PagebenchError(
            f"{role} folder {folder} cannot be written ({existing}: {error.strerror or error})"
        ) from None


def _check_free_space(folders: dict[str, Path], needs: dict[str, int]) -> None:
    """Folders on one file system share its free space."""
    by_device: dict[int, list[str]] = {}
    for role, folder in folders.items():
        by_device.setdefault(_nearest_existing(folder).stat().st_dev, []).append(role)
    for roles in by_device.values():
        needed = sum(needs.get(role, 0) for role in roles)
        folder = folders[roles[0]]
        free = shutil.disk_usage(_nearest_existing(folder)).free
        if free < needed:
            parts = ", ".join(f"{role} {_size(needs.get(role, 0))}" for role in roles)
            raise PagebenchError(
                f"{folder}: {_size(free)} free, but this run writes about {_size(needed)} there ({parts}); "
                "free some space or choose another folder"
            )


def _results_bytes(spec: TaskSpec, top_k: int) -> int:
    queries = _count(spec.n_queries, spec, "queries.jsonl")
    return queries * (RESULT_BYTES_PER_QUERY + top_k * TREC_LINE_BYTES)


def _count(published: int | None, spec: TaskSpec, local_file: str) -> int:
    """The spec's count, else the lines of a local folder's file, else a guess."""
    if published is not None:
        return published
    if spec.format == "local" and spec.path is not None:
        try:
            with open(spec.path / local_file, "rb") as lines:
                return sum(1 for _ in lines)
        except OSError:
            pass  # the loader names the missing file
    return UNKNOWN_COUNT


def _size(n_bytes: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n_bytes < 1024 or unit == "GiB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return ""  # unreachable
