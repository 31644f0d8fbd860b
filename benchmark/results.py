"""The results file of one (run, task), its TREC run beside it, and reading them back.

    <output-dir>/<run-name>/<task>.json   metrics, per-query values, task and retriever, environment
    <output-dir>/<run-name>/<task>.trec   top pages per query: qid Q0 docid rank score run-name

`schema_version` is bumped on any rename; `read_result` keeps reading older
versions, migrating them to the current one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from benchmark.environment import environment
from benchmark.errors import PagebenchError
from benchmark.files import write_text_atomic
from benchmark.types import RankedRun, TaskData

SCHEMA_VERSION = 2  # 2: `timing` became the larger `efficiency` block
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")


@dataclass(frozen=True)
class TaskResult:
    task: TaskData
    retriever_name: str
    retriever: dict  # describe(): checkpoint, revision, parameters
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    ranked: RankedRun
    efficiency: dict
    started_at: datetime
    finished_at: datetime
    page_text: dict | None = None
    skipped_pages: list[dict] = field(default_factory=list)  # --on-bad-page skip: {id, reason}

    @property
    def main_score(self) -> float:
        return self.metrics[self.task.spec.main_score]


def default_run_name(retriever_name: str, checkpoint: str | None) -> str:
    """`bm25-ocr`, or `colpali--vidore-colpali-v1.3-hf` when a checkpoint is named."""
    if not checkpoint:
        return retriever_name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", checkpoint.strip("/")).strip("-.")
    return f"{retriever_name}--{slug[-80:]}"


def check_run_name(name: str) -> str:
    if not _SAFE_NAME.match(name) or ".." in name:
        raise PagebenchError(
            f"run name {name!r} must be letters, digits and . _ - + @ (it becomes a folder name)"
        )
    return name


def result_document(result: TaskResult, run_name: str) -> dict:
    task, spec = result.task, result.task.spec
    return {
        "schema_version": SCHEMA_VERSION,
        "run_name": run_name,
        "task": {
            "name": spec.name,
            "suite": spec.suite,
            "format": spec.format,
            "dataset": spec.dataset,
            "source": spec.source_label,
            "revision": spec.revision,
            "resolved_revision": task.resolved_revision,
            "split": spec.split,
            "languages": list(spec.languages),
            "query_language": spec.query_language,
            "main_score": spec.main_score,
            "fingerprint": task.fingerprint,
            "n_queries": len(task.queries),
            "n_pages": task.corpus.n_pages,
            "n_corpus_entries": len(task.corpus),
            "notes": list(task.notes),
        },
        "retriever": {
            "name": result.retriever_name,
            **result.retriever,
            "page_text": result.page_text,
        },
        "main_score": {"name": spec.main_score, "value": result.main_score},
        "skipped_pages": result.skipped_pages,
        "metrics": result.metrics,
        "per_query": result.per_query,
        "efficiency": result.efficiency,
        "environment": environment(device=result.retriever.get("device", "cpu")),
        "timestamps": {
            "started": result.started_at.isoformat(),
            "finished": result.finished_at.isoformat(),
        },
    }


def trec_lines(ranked: RankedRun, run_name: str) -> str:
    lines = []
    for query_id, pages in ranked.items():
        for rank, (page_id, score) in enumerate(pages, start=1):
            lines.append(f"{query_id} Q0 {page_id} {rank} {score:.6f} {run_name}")
    return "\n".join(lines) + "\n"


def write_result(result: TaskResult, output_dir: Path, run_name: str) -> Path:
    """Write the JSON and TREC files atomically; returns the JSON path."""
    folder = output_dir / check_run_name(run_name)
    json_path = folder / f"{result.task.spec.name}.json"
    _check_trec_ids(result.ranked)
    write_text_atomic(folder / f"{result.task.spec.name}.trec", trec_lines(result.ranked, run_name))
    document = result_document(result, run_name)
    write_text_atomic(json_path, json.dumps(document, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
    return json_path


def _check_trec_ids(ranked: RankedRun) -> None:
    """TREC run files are whitespace-separated: an id with a space would corrupt them."""
    for query_id, pages in ranked.items():
        for identifier in (query_id, *(page_id for page_id, _ in pages)):
            if not identifier or any(character.isspace() for character in identifier):
                raise PagebenchError(
                    f"id {identifier!r} contains whitespace and cannot be written to a TREC run"
                )


def read_result(path: Path) -> dict:
    """A results file as a dict in the current schema."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PagebenchError(f"{path}: not a readable results file ({error})") from None
    version = document.get("schema_version") if isinstance(document, dict) else None
    if version == 1:
        document = _from_version_1(document)
    elif version != SCHEMA_VERSION:
        raise PagebenchError(
            f"{path}: schema_version {version!r} is not one this pagebench reads (1 to {SCHEMA_VERSION})"
        )
    document.setdefault("skipped_pages", [])  # added in version 2 without a rename
    return document


def _from_version_1(document: dict) -> dict:
    """Version 1 had only wall times, under `timing`: keep them under their new names."""
    timing = document.pop("timing", {})
    document["efficiency"] = {
        "task_load_s": timing.get("load_s"),
        "index_s": timing.get("index_s"),
        "search_total_s": timing.get("search_s"),
    }
    document["schema_version"] = SCHEMA_VERSION
    return document
