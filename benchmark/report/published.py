"""Published results from other tools, as leaderboard rows to rank against.

Two formats are read (scores are fractions in both; the leaderboard shows ×100). Every
metric of pagebench's vocabulary the file holds is kept, so each suite's table can read
its own main score (or the metric `--metric` names):
- the official ViDoRe results JSON, `{"metadata": {...}, "metrics": {dataset_id:
  {"ndcg_at_5": ...}}}`, and its older bare form `{dataset_id: {"ndcg_at_5": ...}}`.
  Dataset ids map to the task whose spec names that dataset (`vidore/docvqa_test_subsampled`
  is `docvqa`, QA semantics; a `..._beir` id is the BEIR-format task), or whose
  `text_dataset` it is (a `..._tesseract` id: the same task, read as OCR text). An
  `..._ocr_chunk` id no spec names falls back to its base task as a separate row marked
  as the OCR-chunk variant (text chunks, a page scored by its best one: another pipeline
  than the task's). vidore-benchmark writes no dataset revision (its metadata holds a
  timestamp and its version), so against a spec that pins one the row says so;
- MTEB result files, `<TaskName>.json` with `scores.test[i].ndcg_at_5` and the
  `dataset_revision` MTEB read, alone or as a folder (MTEB's `results/<model>/<revision>/`).
  Task names map through the specs' `mteb_task` field. Language subsets (`hf_subset`)
  are kept as `task@lang`; the task's own score, their mean, only when every language of
  the spec is there. A revision other than the one the spec pins is named on the row.

Imported rows carry no per-query values, fingerprint or efficiency: they rank, they do
not enter `compare` or `check`.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.core.languages import language_of_label
from benchmark.core.vocabulary import METRIC_NAMES
from benchmark.report.markdown import escaped
from benchmark.tasks.spec import TaskSpec, is_commit

VIDORE_FORMAT = "ViDoRe results JSON"
MTEB_FORMAT = "MTEB results"
OCR_CHUNK_SUFFIX = "_ocr_chunk"
OCR_CHUNK_LABEL = "OCR-chunk variant"
REVISION_NOT_RECORDED = (
    "revision not recorded: the file does not say which dataset revision it was computed on, "
    "and pagebench's spec pins one"
)
OCR_CHUNK_NOTE = (
    f"{OCR_CHUNK_LABEL}: the file scores the `vidore/<name>{OCR_CHUNK_SUFFIX}` dataset (OCR text "
    "chunks, a page scored by its best chunk), not the task's own dataset"
)
_MTEB_META_FILE = "model_meta.json"
_DEFAULT_SUBSET = "default"


@dataclass(frozen=True)
class PublishedRun:
    label: str  # the model, as the file names it
    source: str  # format and file, shown beside the label
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # task -> metric -> fraction
    notes: dict[str, str] = field(default_factory=dict)  # task -> caveat the leaderboard footnotes
    partial: dict[str, tuple[str, ...]] = field(default_factory=dict)  # task -> the languages it covers
    unmatched: list[str] = field(default_factory=list)  # names in the file no task of ours has

    def score(self, task: str, metric: str) -> float | None:
        return self.scores.get(task, {}).get(metric)


def read_published(path: Path, specs: list[TaskSpec]) -> list[PublishedRun]:
    """The runs in a ViDoRe results file, an MTEB result file, or a folder of MTEB results."""
    if path.is_dir():
        return _read_mteb_folder(path, specs)
    document = _load_json(path)
    if _is_mteb_task_result(document):
        return [_mteb_run([(path, document)], _mteb_label(path.parent), path, specs)]
    return _vidore_runs(path, document, specs)


def _load_json(path: Path, *, require_object: bool = True):
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PagebenchError(f"{path}: not a readable JSON file ({error})") from None
    if require_object and not isinstance(document, dict):
        raise PagebenchError(f"{path}: expected a JSON object of results")
    return document


def _is_mteb_task_result(document: dict) -> bool:
    return isinstance(document.get("scores"), dict) and "task_name" in document


def _metric_values(values: dict, path: Path, where: str) -> dict[str, float]:
    """The metrics of pagebench's vocabulary in one block of scores (others, e.g. MTEB's
    nauc_* which may be negative, are not ours to read)."""
    return {
        name: _fraction(values[name], path, f"{where}: {name}")
        for name in METRIC_NAMES
        if values.get(name) is not None
    }


def _fraction(value, path: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise PagebenchError(f"{path}: {where}: expected a score between 0 and 1, got {value!r}")
    return float(value)


# --- ViDoRe ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _DatasetMatch:
    spec: TaskSpec
    pinned_revision: str | None  # the commit the spec pins for the dataset the id names, if any
    ocr_chunk: bool = False  # an `_ocr_chunk` id that fell back to its base task


def _vidore_runs(path: Path, document: dict, specs: list[TaskSpec]) -> list[PublishedRun]:
    metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    by_dataset = document.get("metrics", document)
    if not isinstance(by_dataset, dict) or not all(isinstance(v, dict) for v in by_dataset.values()):
        raise PagebenchError(
            f"{path}: neither a ViDoRe results file ({{'metrics': {{dataset: {{...}}}}}}) "
            "nor an MTEB task result ({'task_name': ..., 'scores': ...})"
        )
    label = str(metadata.get("model_name") or path.stem.removesuffix("_metrics"))
    source = f"{VIDORE_FORMAT} {path.name}"
    image = PublishedRun(label, source)
    ocr_chunk = PublishedRun(f"{label} ({OCR_CHUNK_LABEL})", source)
    taken: dict[tuple[str, bool], str] = {}  # (task, OCR-chunk row) -> the id that gave it
    for dataset_id, values in sorted(by_dataset.items()):
        match = _spec_for_dataset(dataset_id, specs)
        metrics = _metric_values(values, path, dataset_id)
        if match is None or not metrics:
            image.unmatched.append(dataset_id)
            continue
        task = match.spec.name
        if (task, match.ocr_chunk) in taken:
            raise PagebenchError(
                f"{path}: {taken[task, match.ocr_chunk]!r} and {dataset_id!r} both map to task {task!r}; "
                "keep one of them in the file"
            )
        taken[task, match.ocr_chunk] = dataset_id
        run = ocr_chunk if match.ocr_chunk else image
        run.scores[task] = metrics
        if match.ocr_chunk:
            run.notes[task] = OCR_CHUNK_NOTE
        elif match.pinned_revision is not None:
            run.notes[task] = REVISION_NOT_RECORDED
    if not ocr_chunk.scores:
        return [image]
    if image.scores:
        return [image, ocr_chunk]  # the ids left out are named once, by the first row
    ocr_chunk.unmatched.extend(image.unmatched)
    return [ocr_chunk]


def _spec_for_dataset(dataset_id: str, specs: list[TaskSpec]) -> _DatasetMatch | None:
    """The task a ViDoRe dataset id stands for; an `_ocr_chunk` id no spec names falls back
    to its base dataset's task, flagged."""
    match = _spec_naming(dataset_id, specs)
    if match is None and dataset_id.endswith(OCR_CHUNK_SUFFIX):
        base = _spec_naming(dataset_id.removesuffix(OCR_CHUNK_SUFFIX), specs)
        if base is not None:
            return _DatasetMatch(base.spec, None, ocr_chunk=True)
    return match


def _spec_naming(dataset_id: str, specs: list[TaskSpec]) -> _DatasetMatch | None:
    """Exact hub id first (the task's dataset, then its text twin); else the same dataset
    name under another owner (vidore/ vs mteb/), when only one spec has it."""
    candidates = [(spec, spec.dataset, spec.revision) for spec in specs if spec.dataset]
    candidates += [
        (spec, spec.text_dataset, spec.text_dataset_revision) for spec in specs if spec.text_dataset
    ]
    exact = [(spec, revision) for spec, dataset, revision in candidates if dataset == dataset_id]
    if not exact:
        name = dataset_id.rsplit("/", 1)[-1]
        exact = [(s, r) for s, dataset, r in candidates if dataset.rsplit("/", 1)[-1] == name]
    if len(exact) != 1:
        return None
    spec, revision = exact[0]
    return _DatasetMatch(spec, revision if is_commit(revision) else None)


# --- MTEB -----------------------------------------------------------------------------


def _read_mteb_folder(folder: Path, specs: list[TaskSpec]) -> list[PublishedRun]:
    by_folder: dict[Path, list[tuple[Path, dict]]] = {}
    for path in sorted(folder.rglob("*.json")):
        if path.name == _MTEB_META_FILE:
            continue
        document = _load_json(path, require_object=False)
        if isinstance(document, dict) and _is_mteb_task_result(document):  # other JSON is not ours to read
            by_folder.setdefault(path.parent, []).append((path, document))
    if not by_folder:
        raise PagebenchError(f"{folder}: no MTEB result files (<Task>.json with 'task_name' and 'scores')")
    return [_mteb_run(files, _mteb_label(parent), parent, specs) for parent, files in by_folder.items()]


def _mteb_label(folder: Path) -> str:
    """model_meta.json's name and revision when present, else `<model>/<revision>` folder names."""
    meta_file = folder / _MTEB_META_FILE
    if meta_file.is_file():
        meta = _load_json(meta_file)
        if meta.get("name"):
            revision = meta.get("revision")
            return f"{meta['name']}@{revision[:12]}" if revision else str(meta["name"])
    return f"{folder.parent.name}/{folder.name}"


def _mteb_run(files: list[tuple[Path, dict]], label: str, where: Path, specs: list[TaskSpec]) -> PublishedRun:
    by_mteb_name = {spec.mteb_task: spec for spec in specs if spec.mteb_task}
    run = PublishedRun(label, f"{MTEB_FORMAT} {where.name}")
    for path, document in files:
        spec = by_mteb_name.get(document["task_name"])
        entries = document["scores"].get(spec.split) if spec is not None else None
        if spec is None or not isinstance(entries, list) or not entries:
            run.unmatched.append(str(document["task_name"]))
            continue
        by_subset = {}
        for index, entry in enumerate(entries):
            where_in_file = f"scores.{spec.split}[{index}]"
            metrics = _metric_values(entry, path, where_in_file) if isinstance(entry, dict) else {}
            if not metrics:
                raise PagebenchError(
                    f"{path}: {where_in_file} holds no metric pagebench knows (e.g. ndcg_at_5)"
                )
            by_subset[str(entry.get("hf_subset", _DEFAULT_SUBSET))] = metrics
        scores, covered = _mteb_task_scores(spec, by_subset, path)
        run.scores.update(scores)
        if covered is not None:
            run.partial[spec.name] = covered
        note = _revision_note(spec, document.get("dataset_revision"))
        if note is not None:
            run.notes.update(dict.fromkeys(scores, note))
    return run


def _mteb_task_scores(
    spec: TaskSpec, by_subset: dict[str, dict[str, float]], path: Path
) -> tuple[dict[str, dict[str, float]], tuple[str, ...] | None]:
    """The task's scores, and the languages covered when not all of the spec's are.

    Language subsets are kept as task@lang; the task's own score is their mean (each
    language has the same queries translated, so this equals our pooled mean), given only
    when every language of the spec is there: a subset's mean is not the task's score."""
    if list(by_subset) == [_DEFAULT_SUBSET]:  # MTEB's one-subset tasks
        return {spec.name: by_subset[_DEFAULT_SUBSET]}, None
    by_language = {}
    for subset, metrics in by_subset.items():
        code = language_of_label(subset)
        if code not in spec.languages:
            raise PagebenchError(
                f"{path}: hf_subset {subset!r} is not one of task {spec.name!r}'s languages "
                f"({', '.join(spec.languages)})"
            )
        by_language[code] = metrics
    if len(spec.languages) == 1:
        return {spec.name: by_language[spec.languages[0]]}, None
    scores = {f"{spec.name}@{code}": by_language[code] for code in spec.languages if code in by_language}
    if len(by_language) < len(spec.languages):
        return scores, tuple(code for code in spec.languages if code in by_language)
    shared = set.intersection(*(set(metrics) for metrics in by_language.values()))
    scores[spec.name] = {
        metric: statistics.fmean(by_language[code][metric] for code in spec.languages)
        for metric in sorted(shared)
    }
    return scores, None


def _revision_note(spec: TaskSpec, recorded) -> str | None:
    """What the row must say when the file's dataset revision is not the one the spec pins."""
    if spec.dataset is None or not is_commit(spec.revision):
        return None  # the spec pins nothing to compare with ("main")
    if not isinstance(recorded, str) or not recorded.strip():
        return REVISION_NOT_RECORDED
    if recorded == spec.revision:
        return None
    return (
        f"{spec.name}: computed on dataset revision {escaped(recorded)} (as the file records it); "
        f"pagebench's spec pins {spec.dataset} at {spec.revision}, so the data may differ"
    )
