"""Task specs: one small TOML file per task, validated field by field.

A spec is data, not code (as in lm-evaluation-harness): adding a task means adding
one file under ``tasks/<suite>/``. Every error names the file and the field.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmark.core.defaults import MAIN_SCORE, PDF_DPI
from benchmark.core.errors import SpecError, UnknownNameError, did_you_mean
from benchmark.core.languages import LANGUAGES
from benchmark.core.vocabulary import METRIC_NAMES, metric_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FORMATS = ("vidore-qa", "beir", "local")
_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# a split names a file (qrels/<split>.tsv) in local folders: no '/', no '..'
_SPLIT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")
MAX_PDF_DPI = 1200  # a print scan; an A4 page is then 140 megapixels, near the decoding limit


def is_commit(revision: str | None) -> bool:
    """A full commit hash (a pinned revision), not a branch or tag name such as "main"."""
    return bool(revision and _SHA_PATTERN.match(revision))


@dataclass(frozen=True)
class TaskSpec:
    name: str
    suite: str
    description: str
    format: str
    languages: tuple[str, ...]
    dataset: str | None = None  # Hugging Face hub id ...
    path: Path | None = None  # ... or a local folder (relative paths are relative to the spec)
    revision: str | None = None
    split: str = "test"
    main_score: str = MAIN_SCORE
    page_text_column: str | None = None  # column with OCR text of each page, if the data has one
    text_dataset: str | None = None  # vidore-qa: the "_tesseract" twin holding page text
    text_dataset_revision: str | None = None
    query_language: str | None = None  # keep only queries in this language (name@lang)
    pdf_dpi: int = PDF_DPI  # local folders: resolution PDF pages are rendered at
    n_queries: int | None = None  # as published, for `pagebench tasks`; the loader counts
    n_pages: int | None = None
    notes: str | None = None
    mteb_task: str | None = None  # MTEB's name for the same data, to import MTEB result files
    source_file: Path | None = None

    @property
    def source(self) -> str:
        """What `datasets.load_dataset` is given: the hub id or the local folder."""
        return self.dataset if self.dataset is not None else str(self.path)

    @property
    def source_label(self) -> str:
        """The hub id, or the folder relative to its spec file (bundled tasks), for reports; a
        folder holding its own `task.toml` is named by its path (relative, it would be ".")."""
        if self.dataset is not None:
            return self.dataset
        if self.source_file is not None and self.path.is_relative_to(self.source_file.parent):
            relative = self.path.relative_to(self.source_file.parent)
            if relative != Path("."):
                return str(relative)
        return str(self.path)

    @property
    def revision_is_pinned(self) -> bool:
        return self.dataset is None or is_commit(self.revision)

    def for_language(self, code: str) -> TaskSpec:
        """The `name@code` variant: same data, only queries in that language."""
        if code not in self.languages:
            raise SpecError(
                f"task {self.name!r} has no language {code!r}; it has: {', '.join(self.languages)}"
            )
        return replace(self, name=f"{self.name}@{code}", languages=(code,), query_language=code)


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "suite": str,
    "description": str,
    "format": str,
    "languages": list,
    "dataset": str,
    "path": str,
    "revision": str,
    "split": str,
    "main_score": str,
    "page_text_column": str,
    "text_dataset": str,
    "text_dataset_revision": str,
    "query_language": str,
    "pdf_dpi": int,
    "n_queries": int,
    "n_pages": int,
    "notes": str,
    "mteb_task": str,
}
_REQUIRED = ("name", "suite", "description", "format", "languages")


def parse_spec(raw: dict[str, Any], source_file: Path | None, *, base_dir: Path | None = None) -> TaskSpec:
    """Validate a spec mapping; `source_file` is only used to name the culprit."""
    where = str(source_file) if source_file else "task spec"
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a table of fields")

    def fail(field_name: str, problem: str) -> SpecError:
        shown = field_name.encode("unicode_escape").decode("ascii")  # a key may hold a newline
        return SpecError(f"{where}: field '{shown}': {problem}")

    _check_fields(raw, fail)
    _check_values(raw, fail)
    _check_data_source(raw, fail)
    path = None
    if "path" in raw:
        path = Path(raw["path"])
        if not path.is_absolute():
            base = base_dir if base_dir is not None else (source_file.parent if source_file else Path.cwd())
            path = (base / path).resolve()
    values = {k: v for k, v in raw.items() if k not in ("languages", "path")}
    if "main_score" in values:
        values["main_score"] = metric_name(values["main_score"])
    return TaskSpec(**values, languages=tuple(raw["languages"]), path=path, source_file=source_file)


def _check_fields(raw: dict[str, Any], fail) -> None:
    """Known field names, required ones present, each of its type and not blank."""
    unknown = sorted(set(raw) - set(_FIELD_TYPES))
    if unknown:
        hint = did_you_mean(unknown[0], _FIELD_TYPES, limit=1)
        raise fail(unknown[0], f"unknown field{f' ({hint})' if hint else ''}")
    for key in _REQUIRED:
        if key not in raw:
            raise fail(key, "missing (required)")
    for key, value in raw.items():
        expected = _FIELD_TYPES[key]
        # TOML booleans are not ints for our purposes.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise fail(key, f"expected {expected.__name__}, got {type(value).__name__} {value!r}")
        if isinstance(value, str) and not value.strip():
            raise fail(key, "must not be empty")


def _check_values(raw: dict[str, Any], fail) -> None:
    """Name, format, languages, main score and counts hold values pagebench knows."""
    name = raw["name"]
    if not _NAME_PATTERN.match(name):
        raise fail("name", f"{name!r} must be lowercase letters, digits, '.', '_' or '-'")
    if "split" in raw and not _SPLIT_PATTERN.match(raw["split"]):
        raise fail("split", f"{raw['split']!r} must be letters, digits, '_' or '-' (such as \"test\")")
    if raw["format"] not in FORMATS:
        raise fail("format", f"{raw['format']!r} is not one of {', '.join(FORMATS)}")
    languages = raw["languages"]
    _check_languages(languages, fail)
    query_language = raw.get("query_language")
    if query_language is not None and query_language not in languages:
        raise fail("query_language", f"{query_language!r} is not among languages {languages}")
    main_score = raw.get("main_score", MAIN_SCORE)
    try:
        metric_name(main_score)  # `ndcg_at_5`, or `nDCG@5` as tables print it
    except UnknownNameError:
        hint = did_you_mean(main_score, METRIC_NAMES, limit=1)
        raise fail(
            "main_score",
            f"{main_score!r} is not a metric pagebench computes{f' ({hint})' if hint else ''}; "
            f"valid: {', '.join(METRIC_NAMES)}",
        ) from None
    for key in ("pdf_dpi", "n_queries", "n_pages"):
        if key in raw and raw[key] <= 0:
            raise fail(key, "must be positive")
    if raw.get("pdf_dpi", PDF_DPI) > MAX_PDF_DPI:
        raise fail("pdf_dpi", f"{raw['pdf_dpi']} is more than {MAX_PDF_DPI} (a page would be gigapixels)")


def _check_languages(languages: list, fail) -> None:
    if not languages:
        raise fail("languages", "must list at least one language")
    for code in languages:
        if not isinstance(code, str):
            shown = f"{type(code).__name__} {code!r}"
            raise fail("languages", f'expected language codes such as "en", got {shown}')
        if code not in LANGUAGES:
            raise fail("languages", f"{code!r} is not a known language code ({', '.join(LANGUAGES)})")


def _check_data_source(raw: dict[str, Any], fail) -> None:
    """Exactly one of a pinned hub dataset or a local folder, and the fields that go with it."""
    has_dataset, has_path = "dataset" in raw, "path" in raw
    if has_dataset == has_path:
        raise fail("dataset", "give exactly one of 'dataset' (hub id) or 'path' (local folder)")
    if has_dataset and "revision" not in raw:
        raise fail("revision", "required with 'dataset' (pin a commit so results are reproducible)")
    if raw["format"] == "local" and not has_path:
        raise fail("path", "format 'local' reads a folder: set 'path'")
    if "text_dataset" in raw and raw["format"] != "vidore-qa":
        raise fail("text_dataset", "only vidore-qa tasks take a separate text dataset")
    if "text_dataset" in raw and "page_text_column" not in raw:
        raise fail("page_text_column", "required with 'text_dataset' (which column holds the text)")


def load_spec_file(path: Path, *, defaults: dict[str, Any] | None = None) -> TaskSpec:
    """Read and validate a spec; `defaults` fill fields the file leaves out."""
    return parse_spec({**(defaults or {}), **read_spec_table(path)}, path)


def read_spec_table(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except UnicodeDecodeError as error:
        raise SpecError(f"{path}: not UTF-8 text ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: invalid TOML: {error}") from None
