"""The Python API: `benchmark.evaluate(model, tasks)` is `pagebench run` called from a program.

    from benchmark import evaluate

    evaluation = evaluate("bm25-ocr", "debian-faq-en")
    evaluation.scores()                 # {"debian-faq-en": 0.84...}: each task's main score
    evaluation["debian-faq-en"]         # the typed results (`benchmark.results.schema.ResultsFile`)

It is the same pipeline as the command line (`session.run_tasks`): the runner owns page
batches, the caches, timing and metrics; the model only encodes. Nothing is written
unless `output_dir` is given.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Union

from benchmark.core.defaults import BATCH_SIZE, LATENCY_QUERIES, ON_BAD_PAGE, RANDOM_SEED, TOP_K
from benchmark.core.errors import PagebenchError, UnknownNameError, did_you_mean, unknown_name
from benchmark.core.files import cache_root
from benchmark.core.protocols import DEFAULT_PROTOCOL, PROTOCOL_NAMES
from benchmark.core.vocabulary import METRIC_NAMES, metric_label
from benchmark.results.schema import ResultsFile
from benchmark.results.writer import TaskResult, check_run_name, default_run_name
from benchmark.retrievers.base import Retriever, RetrieverOptions
from benchmark.retrievers.registry import follows_protocol
from benchmark.run.preflight import check_before_run
from benchmark.run.session import load_retriever, run_tasks
from benchmark.run.settings import RunSettings
from benchmark.tasks.catalog import all_specs, resolve_task, specs_in_suite, suites
from benchmark.tasks.spec import TaskSpec

log = logging.getLogger(__name__)

TaskReference = Union[str, "os.PathLike[str]", TaskSpec]


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate` returns: each finished task's result, in task order, and each failed
    task's error (several tasks: one failing does not stop the others, as on the command line).

    `evaluation["docvqa"]` is that task's typed results (what the `.json` file holds),
    `evaluation.results["docvqa"]` adds the ranked run and the qrels it was scored on,
    `evaluation.scores()` gives each task's main score, `evaluation.scores("ndcg_at_10")`
    (or `"nDCG@10"`) another metric."""

    run_name: str
    retriever_name: str
    results: dict[str, TaskResult]
    failures: dict[str, PagebenchError] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)  # task -> its .json, when output_dir was given
    model_load_s: float | None = None  # None: the model was already in memory

    def __getitem__(self, task: str) -> ResultsFile:
        if task not in self.results:
            hint = did_you_mean(task, self.results)
            raise KeyError(f"no result for task {task!r}" + (f"; {hint}" if hint else ""))
        return self.results[task].document

    def __iter__(self) -> Iterator[str]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def scores(self, metric: str | None = None) -> dict[str, float]:
        """Task -> its main score, or `metric` (`ndcg_at_10`, or as tables print it, `nDCG@10`)."""
        if metric is None:
            return {task: result.main_score for task, result in self.results.items()}
        name = metric_name(metric)
        return {task: result.document.metrics[name] for task, result in self.results.items()}


def evaluate(
    model: str | Retriever | object,
    tasks: TaskReference | Sequence[TaskReference],
    *,
    output_dir: str | os.PathLike[str] | None = None,
    run_name: str | None = None,
    protocol: str = DEFAULT_PROTOCOL,
    batch_size: int = BATCH_SIZE,
    top_k: int = TOP_K,
    max_queries: int | None = None,
    query_seed: int = RANDOM_SEED,
    cache_dir: str | os.PathLike[str] | None | Literal["default"] = "default",
    cache_key: str | None = None,
    latency_queries: int = LATENCY_QUERIES,
    show_progress: bool = True,
    on_bad_page: str = ON_BAD_PAGE[0],
    strict: bool = False,
    allow_outside_pages: bool = False,
    checkpoint: str | None = None,
    revision: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    scoring_dtype: str | None = None,
    pool_factor: int | None = None,
    index_dir: str | os.PathLike[str] | None = None,
    params: Mapping[str, str] | None = None,
) -> Evaluation:
    """Evaluate `model` on `tasks`, as `pagebench run` does; returns an `Evaluation`.

    `model` is one of:
      - a retriever name (`"colqwen2"`, see `pagebench retrievers`) or `"module:Class"`, with
        `checkpoint`, `revision`, `dtype` and `params` (`--param`) as on the command line;
      - a `Retriever` (`benchmark/retrievers/base.py`), used as it is;
      - any object with `encode_queries(list[str])` and `encode_pages(list[PIL.Image])`, each
        returning one array per item (numpy, torch or array-like): [dim] is one vector (pages
        ranked by dot product), [n_vectors, dim] several (late interaction, MaxSim). Its methods
        run under `torch.inference_mode()`; put a torch model in eval mode first.
    `tasks`: task names (`name@lang` for one query language), suite names, spec files, local
    task folders or `TaskSpec`s; one or a list.

    Nothing is written unless `output_dir` is given (then `<output_dir>/<run_name>/<task>.json`,
    `.trec` and `.qrels`, as the command line writes). Caches (`cache_dir`, default as the
    command line's; None: none) hold OCR text and page embeddings; an encoder object's page
    embeddings are cached only under a `cache_key`, which must change whenever its weights do.
    `index_dir` keeps page vectors on disk (`--index-on-disk`): float16 when scored in float32,
    bfloat16 when scored in bfloat16.
    `max_queries` evaluates a fixed sample of that many queries per task (drawn with
    `query_seed`; its results carry their own fingerprint and a note). `latency_queries=0` skips
    the one-query-at-a-time latency probe, which a training loop rarely needs.

    Raises `PagebenchError` for bad input (unknown task or retriever, an encoder returning
    the wrong shapes...) before the work where it can; with one task, its failure is raised.
    """
    settings = _settings(
        batch_size=batch_size,
        top_k=top_k,
        cache_dir=_cache_folder(cache_dir),
        show_progress=show_progress,
        latency_queries=latency_queries,
        on_bad_page=on_bad_page,
        protocol=protocol,
        strict=strict,
        allow_outside_pages=allow_outside_pages,
        max_queries=max_queries,
        query_sample_seed=query_seed,
    )
    specs = resolve_tasks(tasks)
    retriever_settings = {
        "checkpoint": checkpoint,
        "revision": revision,
        "device": device,
        "dtype": dtype,
        "scoring_dtype": scoring_dtype,
        "pool_factor": pool_factor,
        "index_dir": None if index_dir is None else os.fspath(index_dir),
        "params": None if params is None else {str(key): str(value) for key, value in params.items()},
    }
    given = {key: value for key, value in retriever_settings.items() if value is not None}
    run_name = check_run_name(run_name or _default_run_name(model, given, protocol))
    if output_dir is not None:  # what would fail after the work fails now, before loading a model
        check_before_run(
            specs,
            output_dir=Path(output_dir),
            run_name=run_name,
            top_k=settings.top_k,
            cache_dir=settings.cache_dir,
            index_dir=None if index_dir is None else Path(index_dir),
        )
    retriever, model_load_s = _retriever(model, given, settings, cache_key)
    return _run(specs, retriever, settings, output_dir, run_name, model_load_s)


def resolve_tasks(tasks: TaskReference | Sequence[TaskReference]) -> list[TaskSpec]:
    """Task names, suite names, spec files, folders and TaskSpecs -> specs, in the order given."""
    if isinstance(tasks, (str, os.PathLike, TaskSpec)):
        tasks = [tasks]
    specs: list[TaskSpec] = []
    for reference in tasks:
        if isinstance(reference, TaskSpec):
            specs.append(reference)
        elif isinstance(reference, os.PathLike):
            specs.append(resolve_task(os.fspath(reference)))
        elif isinstance(reference, str):
            specs.extend(_specs_named(reference))
        else:
            raise PagebenchError(
                f"tasks: {reference!r} is a {type(reference).__name__}, not a task or suite name, "
                "a folder, a spec file or a TaskSpec"
            )
    if not specs:
        raise PagebenchError("tasks: say what to evaluate (a task or suite name, a folder, a TaskSpec)")
    return specs


def metric_name(metric: str) -> str:
    """`ndcg_at_10` or its table label `nDCG@10` -> `ndcg_at_10`; an unknown one lists the valid ones."""
    by_label = {metric_label(name).casefold(): name for name in METRIC_NAMES}
    if metric in METRIC_NAMES:
        return metric
    if metric.casefold() in by_label:
        return by_label[metric.casefold()]
    hint = did_you_mean(metric, [*METRIC_NAMES, *(metric_label(name) for name in METRIC_NAMES)])
    hint = f"; {hint}" if hint else ""
    raise PagebenchError(f"unknown metric {metric!r}{hint} (metrics: {', '.join(METRIC_NAMES)})")


def _specs_named(reference: str) -> list[TaskSpec]:
    """A task first, then a suite; an unknown plain name is offered the closest of both."""
    if reference.endswith(".toml") or Path(reference).expanduser().is_dir():
        return [resolve_task(reference)]
    task_names = {spec.name for spec in all_specs()}
    if reference.partition("@")[0] not in task_names and reference in suites():
        return specs_in_suite(reference)
    try:
        return [resolve_task(reference)]
    except UnknownNameError:
        if "/" in reference or reference.startswith("."):
            raise
        raise unknown_name("task or suite", reference, [*task_names, *suites()], "pagebench tasks") from None


def _whole(value, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


# what each checked setting must be, and the test: the command line's parser checks the same
_SETTING_RULES = {
    "batch_size": ("a positive integer", lambda value: _whole(value, 1)),
    "top_k": ("a positive integer", lambda value: _whole(value, 1)),
    "max_queries": ("a positive integer or None", lambda value: value is None or _whole(value, 1)),
    "latency_queries": ("0 or a positive integer", lambda value: _whole(value, 0)),
    "protocol": (f"one of {', '.join(PROTOCOL_NAMES)}", lambda value: value in PROTOCOL_NAMES),
    "on_bad_page": (f"one of {', '.join(ON_BAD_PAGE)}", lambda value: value in ON_BAD_PAGE),
}


def _settings(**fields) -> RunSettings:
    """RunSettings, with each value checked before any work."""
    for name, (expected, is_valid) in _SETTING_RULES.items():
        if not is_valid(fields[name]):
            raise PagebenchError(f"{name} must be {expected}, got {fields[name]!r}")
    return RunSettings(**fields)


def _cache_folder(cache_dir) -> Path | None:
    if cache_dir is None:
        return None
    return cache_root() if cache_dir == "default" else Path(cache_dir)


def _default_run_name(model, given: dict, protocol: str) -> str:
    """As the command line names runs: the retriever name (plus checkpoint and params), or the
    object's `name` (an encoder without one: its class name)."""
    if isinstance(model, str):
        return default_run_name(model, given.get("checkpoint"), protocol, given.get("params"))
    from benchmark.retrievers.encoder import encoder_name

    name = model.name if follows_protocol(model) else encoder_name(model)
    return default_run_name(str(name), None, protocol)


def _retriever(
    model, given: dict, settings: RunSettings, cache_key: str | None
) -> tuple[Retriever, float | None]:
    """The retriever `model` stands for, and how long loading it took (None: it was in memory)."""
    if isinstance(model, str):
        if cache_key is not None:
            raise PagebenchError("cache_key is for an encoder object; a named retriever has its own")
        return load_retriever(
            model, RetrieverOptions(**given, batch_size=settings.batch_size, protocol=settings.protocol)
        )
    if follows_protocol(model):
        _refuse(given, "a Retriever object, which was made with its own options")
        if cache_key is not None:
            raise PagebenchError("cache_key is for an encoder object, not a Retriever")
        return model, None
    from benchmark.retrievers.encoder import EncoderRetriever, is_encoder

    if not is_encoder(model):
        raise PagebenchError(
            f"model: a {type(model).__qualname__} is neither a retriever name, a Retriever, nor an encoder "
            "(an object with encode_queries(list[str]) and encode_pages(list[PIL.Image]))"
        )
    _refuse({key: value for key, value in given.items() if key not in _ENCODER_OPTIONS}, "an encoder object")
    options = RetrieverOptions(**given, batch_size=settings.batch_size, protocol=settings.protocol)
    return EncoderRetriever(model, options, cache_key=cache_key), None


# where and how an encoder's vectors are scored and kept
_ENCODER_OPTIONS = ("device", "scoring_dtype", "pool_factor", "index_dir")


def _refuse(given: dict, what: str) -> None:
    if given:
        raise PagebenchError(f"{', '.join(sorted(given))}: does not apply to {what}")


def _run(specs, retriever: Retriever, settings: RunSettings, output_dir, run_name: str, model_load_s):
    results: dict[str, TaskResult] = {}
    failures: dict[str, PagebenchError] = {}
    paths: dict[str, Path] = {}
    outcomes = run_tasks(
        specs,
        retriever,
        settings,
        output_dir=None if output_dir is None else Path(output_dir),
        run_name=run_name,
        model_load_s=model_load_s,
    )
    for outcome in outcomes:
        name = outcome.spec.name
        if outcome.error is not None:
            log.warning("%s failed: %s", name, outcome.error)
            failures[name] = outcome.error
            continue
        results[name] = outcome.result
        if outcome.path is not None:
            paths[name] = outcome.path
        main = outcome.result.document.main_score
        log.info("%s: %s = %.4f (%.1f s)", name, main.name, main.value, outcome.seconds)
    if not results and failures:  # nothing to return: the first error says why
        raise next(iter(failures.values()))
    return Evaluation(run_name, retriever.name, results, failures, paths, model_load_s)
