"""Writing one (run, task): the results file and, beside it, the TREC run and qrels, atomically.

<output-dir>/<run-name>/<task>.json   `schema.ResultsFile`
<output-dir>/<run-name>/<task>.trec   top pages per query: qid Q0 docid rank score run-name
<output-dir>/<run-name>/<task>.qrels  the judgements the metrics used: qid 0 docid relevance

With the last two, trec_eval or ir_measures recompute every metric in the first
(`trec_eval -m ndcg_cut.5 task.qrels task.trec`). The `.json` is the commit marker: the three
are written to temporary files, then renamed with the `.json` last, so a `.trec` without its
`.json` is an unfinished write, which no reader takes for a result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.core.files import safe_file_name, write_files_atomic
from benchmark.core.protocols import DEFAULT_PROTOCOL
from benchmark.core.types import Qrels, RankedRun
from benchmark.results.schema import ResultsFile

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")


@dataclass(frozen=True)
class TaskResult:
    """What evaluating one task gives: the results file, the ranked run and the qrels it was scored on."""

    document: ResultsFile
    ranked: RankedRun
    qrels: Qrels

    @property
    def main_score(self) -> float:
        return self.document.main_score.value


def default_run_name(
    retriever_name: str,
    checkpoint: str | None,
    protocol: str = DEFAULT_PROTOCOL,
    params: dict[str, str] | None = None,
) -> str:
    """`bm25-ocr`, or `colpali--vidore-colpali-v1.3-hf` when a checkpoint is named; each
    `--param` appended as `@key-value` (`bm25-ocr@variant-vidore`) and a protocol other
    than the default as `+vidore`, so differently made runs land in their own folders."""
    name = safe_file_name(retriever_name)  # `--retriever my_package.model:MyRetriever` has a colon
    if checkpoint:
        name = f"{name}--{safe_file_name(checkpoint.strip('/'))[-80:]}"
    for key, value in sorted((params or {}).items()):
        name += f"@{safe_file_name(key)}-{safe_file_name(value)}"
    return name if protocol == DEFAULT_PROTOCOL else f"{name}+{protocol}"


def check_run_name(name: str) -> str:
    if not _SAFE_NAME.match(name) or ".." in name:
        raise PagebenchError(
            f"run name {name!r} must be letters, digits and . _ - + @ (it becomes a folder name)"
        )
    return name


def trec_lines(ranked: RankedRun, run_name: str) -> str:
    lines = []
    for query_id, pages in ranked.items():
        for rank, (page_id, score) in enumerate(pages, start=1):
            # repr() round-trips: trec_eval reads back the exact score, so no ties appear from rounding
            lines.append(f"{query_id} Q0 {page_id} {rank} {float(score)!r} {run_name}")
    return "\n".join(lines) + "\n"


def qrels_lines(qrels: Qrels) -> str:
    return "".join(
        f"{query_id} 0 {page_id} {relevance}\n"
        for query_id, judged in qrels.items()
        for page_id, relevance in judged.items()
    )


RESULT_SUFFIXES = (".trec", ".qrels", ".json")  # written in this order: the .json commits the set


def result_file_names(task_name: str) -> list[str]:
    """The files one task's results take in its run folder."""
    return [f"{task_name}{suffix}" for suffix in RESULT_SUFFIXES]


def write_result(result: TaskResult, output_dir: Path) -> Path:
    """Write the TREC, qrels and JSON files under the document's run name, as one commit: the
    `.json` is renamed into place last (a `.trec` without its `.json` is not a result); returns
    the JSON path. A full or read-only disk is an error naming the folder, never a `.trec`
    beside another run's `.json`."""
    document = result.document
    folder = output_dir / check_run_name(document.run_name)
    _check_trec_ids(result)
    contents = (trec_lines(result.ranked, document.run_name), qrels_lines(result.qrels), document.to_json())
    paths = [folder / name for name in result_file_names(document.task.name)]
    try:
        write_files_atomic([(path, _writer(text)) for path, text in zip(paths, contents, strict=True)])
    except OSError as error:
        raise PagebenchError(
            f"{folder}: cannot write the results of task {document.task.name!r}: {error.strerror or error}"
        ) from None
    return paths[-1]


def _writer(text: str):
    return lambda stream: stream.write(text.encode("utf-8"))


def _trec_ids(result: TaskResult) -> Iterator[str]:
    """Every id the .trec and .qrels files will hold."""
    yield from result.ranked
    yield from result.qrels
    for pages in result.ranked.values():
        yield from (page_id for page_id, _ in pages)
    for judged in result.qrels.values():
        yield from judged


def _check_trec_ids(result: TaskResult) -> None:
    """TREC files are whitespace-separated: an id with a space would corrupt them."""
    for identifier in _trec_ids(result):
        if not identifier or any(character.isspace() for character in identifier):
            raise PagebenchError(f"id {identifier!r} contains whitespace and cannot be written to a TREC run")
