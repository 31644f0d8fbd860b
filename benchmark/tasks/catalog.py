"""Finding tasks: the bundled spec files, a spec file by path, or a local folder.

Reading specs imports neither `datasets` nor torch, so `pagebench tasks` is instant.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from benchmark.core.errors import SpecError, UnknownNameError, unknown_name
from benchmark.tasks.spec import TaskSpec, load_spec_file, parse_spec

LOCAL_SPEC_NAME = "task.toml"


def spec_root() -> Path:
    """Where the bundled `tasks/` folder is.

    In a wheel it is copied into the package as `benchmark/task_specs`; in a source
    checkout (editable install, tests) it is the repository's top-level `tasks/`.
    """
    package_dir = Path(__file__).resolve().parent.parent
    installed = package_dir / "task_specs"
    return installed if installed.is_dir() else package_dir.parent / "tasks"


@cache
def _catalog(root: Path) -> dict[str, TaskSpec]:
    specs: dict[str, TaskSpec] = {}
    for path in sorted(root.glob("*/*.toml")):
        spec = load_spec_file(path)
        if spec.name in specs:
            raise SpecError(
                f"{path}: task name {spec.name!r} is already used by {specs[spec.name].source_file}"
            )
        specs[spec.name] = spec
    return specs


def all_specs() -> list[TaskSpec]:
    """Every bundled task, grouped by suite then name."""
    return sorted(_catalog(spec_root()).values(), key=lambda spec: (spec.suite, spec.name))


def suites() -> list[str]:
    return sorted({spec.suite for spec in all_specs()})


def specs_in_suite(suite: str) -> list[TaskSpec]:
    found = [spec for spec in all_specs() if spec.suite == suite]
    if not found:
        raise unknown_name("suite", suite, suites(), "pagebench tasks")
    return found


def resolve_task(reference: str) -> TaskSpec:
    """A task name (optionally `name@lang`), a spec file, or a local task folder."""
    as_path = Path(reference).expanduser()
    if reference.endswith(".toml"):
        return load_spec_file(as_path)
    if as_path.is_dir():
        return local_folder_spec(as_path)
    name, _, language = reference.partition("@")
    catalog = _catalog(spec_root())
    if name not in catalog:
        if "/" in reference or reference.startswith("."):
            raise UnknownNameError(f"task folder {reference!r} does not exist")
        if name in suites():
            tasks = ", ".join(spec.name for spec in specs_in_suite(name))
            raise UnknownNameError(
                f"{name!r} is a suite, not a task: run all of it with --suite {name}, "
                f"or name one of its tasks ({tasks})"
            )
        raise unknown_name("task", name, list(catalog), "pagebench tasks")
    spec = catalog[name]
    return spec.for_language(language) if language else spec


def local_folder_spec(folder: Path) -> TaskSpec:
    """A folder in the local format; its optional task.toml sets name, languages, DPI..."""
    folder = folder.resolve()
    defaults = {
        "name": _folder_task_name(folder),
        "suite": "local",
        "description": f"local folder {folder}",
        "format": "local",
        "languages": ["en"],
        "path": ".",
    }
    spec_file = folder / LOCAL_SPEC_NAME
    if not spec_file.is_file():
        return parse_spec(defaults, None, base_dir=folder)
    spec = load_spec_file(spec_file, defaults=defaults)  # the file may set only what differs
    if spec.format != "local":
        raise SpecError(f"{spec_file}: field 'format': a task folder's spec must say format = \"local\"")
    if not spec.path.is_relative_to(folder):  # the folder is the task: its spec cannot point elsewhere
        raise SpecError(f"{spec_file}: field 'path': {spec.path} is outside the task folder {folder}")
    return spec


def _folder_task_name(folder: Path) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in folder.name.lower()).strip("-._")
    return cleaned or "local-task"
