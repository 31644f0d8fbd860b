"""Published results from other tools, as leaderboard rows to rank against.

Two formats are read (scores are fractions in both; the leaderboard shows ×100):
- the official ViDoRe results JSON, `{"metadata": {...}, "metrics": {dataset_id:
  {"ndcg_at_5": ...}}}`, and its older bare form `{dataset_id: {"ndcg_at_5": ...}}`.
  Dataset ids map to the task whose spec names that dataset (`vidore/docvqa_test_subsampled`
  is `docvqa`, QA semantics; a `..._beir` id is the BEIR-format task);
- MTEB result files, `<TaskName>.json` with `scores.test[i].ndcg_at_5`, alone or as a
  folder (MTEB's `results/<model>/<revision>/`). Task names map through the specs'
  `mteb_task` field. Several `hf_subset` entries (query languages) are averaged for the
  task and also kept as `task@lang`.

Imported rows carry no per-query values, fingerprint or efficiency: they rank, they do
not enter `compare` or `check`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.core.languages import language_of_label
from benchmark.core.vocabulary import DEFAULT_METRIC
from benchmark.tasks.spec import TaskSpec

VIDORE_FORMAT = "ViDoRe results JSON"
MTEB_FORMAT = "MTEB results"
_MTEB_META_FILE = "model_meta.json"


@dataclass(frozen=True)
class PublishedRun:
    label: str  # the model, as the file names it
    source: str  # format and file, shown beside the label
    scores: dict[str, float] = field(default_factory=dict)  # our task name -> metric (fraction)
    unmatched: list[str] = field(default_factory=list)  # names in the file no task of ours has


def read_published(path: Path, specs: list[TaskSpec], metric: str = DEFAULT_METRIC) -> list[PublishedRun]:
    """The runs in a ViDoRe results file, an MTEB result file, or a folder of MTEB results."""
    if path.is_dir():
        return _read_mteb_folder(path, specs, metric)
    document = _load_json(path)
    if _is_mteb_task_result(document):
        return [_mteb_run([(path, document)], _mteb_label(path.parent), path, specs, metric)]
    return [_vidore_run(path, document, specs, metric)]


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


# --- ViDoRe ---------------------------------------------------------------------------


def _vidore_run(path: Path, document: dict, specs: list[TaskSpec], metric: str) -> PublishedRun:
    metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    by_dataset = document.get("metrics", document)
    if not isinstance(by_dataset, dict) or not all(isinstance(v, dict) for v in by_dataset.values()):
        raise PagebenchError(
            f"{path}: neither a ViDoRe results file ({{'metrics': {{dataset: {{...}}}}}}) "
            "nor an MTEB task result ({'task_name': ..., 'scores': ...})"
        )
    label = str(metadata.get("model_name") or path.stem.removesuffix("_metrics"))
    run = PublishedRun(label, f"{VIDORE_FORMAT} {path.name}")
    for dataset_id, values in sorted(by_dataset.items()):
        spec = _spec_for_dataset(dataset_id, specs)
        if spec is None or values.get(metric) is None:
            run.unmatched.append(dataset_id)
            continue
        run.scores[spec.name] = _fraction(values[metric], path, dataset_id)
    return run


def _spec_for_dataset(dataset_id: str, specs: list[TaskSpec]) -> TaskSpec | None:
    """Exact hub id first; else the same dataset name under another owner (vidore/ vs mteb/)."""
    for spec in specs:
        if spec.dataset == dataset_id:
            return spec
    name = dataset_id.rsplit("/", 1)[-1]
    matches = [spec for spec in specs if spec.dataset and spec.dataset.rsplit("/", 1)[-1] == name]
    return matches[0] if len(matches) == 1 else None


# --- MTEB -----------------------------------------------------------------------------


def _read_mteb_folder(folder: Path, specs: list[TaskSpec], metric: str) -> list[PublishedRun]:
    by_folder: dict[Path, list[tuple[Path, dict]]] = {}
    for path in sorted(folder.rglob("*.json")):
        if path.name == _MTEB_META_FILE:
            continue
        document = _load_json(path, require_object=False)
        if isinstance(document, dict) and _is_mteb_task_result(document):  # other JSON is not ours to read
            by_folder.setdefault(path.parent, []).append((path, document))
    if not by_folder:
        raise PagebenchError(f"{folder}: no MTEB result files (<Task>.json with 'task_name' and 'scores')")
    return [
        _mteb_run(files, _mteb_label(parent), parent, specs, metric) for parent, files in by_folder.items()
    ]


def _mteb_label(folder: Path) -> str:
    """model_meta.json's name and revision when present, else `<model>/<revision>` folder names."""
    meta_file = folder / _MTEB_META_FILE
    if meta_file.is_file():
        meta = _load_json(meta_file)
        if meta.get("name"):
            revision = meta.get("revision")
            return f"{meta['name']}@{revision[:12]}" if revision else str(meta["name"])
    return f"{folder.parent.name}/{folder.name}"


def _mteb_run(
    files: list[tuple[Path, dict]], label: str, where: Path, specs: list[TaskSpec], metric: str
) -> PublishedRun:
    by_mteb_name = {spec.mteb_task: spec for spec in specs if spec.mteb_task}
    run = PublishedRun(label, f"{MTEB_FORMAT} {where.name}")
    for path, document in files:
        spec = by_mteb_name.get(document["task_name"])
        entries = document["scores"].get("test")
        if spec is None or not isinstance(entries, list) or not entries:
            run.unmatched.append(str(document["task_name"]))
            continue
        values = {}
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or entry.get(metric) is None:
                raise PagebenchError(f"{path}: scores.test[{index}] has no {metric!r}")
            values[str(entry.get("hf_subset", "default"))] = _fraction(entry[metric], path, metric)
        run.scores.update(_mteb_task_scores(spec, values))
    return run


def _mteb_task_scores(spec: TaskSpec, by_subset: dict[str, float]) -> dict[str, float]:
    """One subset is the task; language subsets are averaged for it (each language has
    the same queries translated, so this equals our pooled mean) and kept as task@lang."""
    if "default" in by_subset or len(by_subset) == 1:
        return {spec.name: by_subset.get("default", next(iter(by_subset.values())))}
    scores = {spec.name: sum(by_subset.values()) / len(by_subset)}
    for subset, value in by_subset.items():
        code = language_of_label(subset)
        if code is not None:
            scores[f"{spec.name}@{code}"] = value
    return scores


def _fraction(value, path: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise PagebenchError(f"{path}: {where}: expected a score between 0 and 1, got {value!r}")
    return float(value)
