"""The results file, defined once: what `pagebench run` writes and what every report reads.

    <output-dir>/<run-name>/<task>.json   this model
    <output-dir>/<run-name>/<task>.trec   the ranked run (see writer.py)

The writer builds a `ResultsFile` and dumps it; the reader validates a file against it,
so a missing or mistyped field is one error naming the file and the field, never a
`KeyError` deep in a report. Fields are written in the order declared here. Sections
whose content depends on the retriever or the machine (`retriever`, `efficiency`,
`environment`) write only the fields that were set, so a plugin's `describe()` and
`pagebench profile`'s partial blocks round-trip unchanged.

`SCHEMA_VERSION` is bumped on any rename or change of meaning; `migrations.py` reads
older versions into this one.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

# 2: `timing` became the larger `efficiency` block
# 3: metrics follow trec_eval's tie rule and name their protocol (`evaluation`)
SCHEMA_VERSION = 3
# `task.dropped` (no bump: a new optional field; absent, as in every older file, means
# nothing was dropped) lists at most this many ids per kind, so a badly broken dataset
# cannot bloat the file; `count` says how many there were.
DROPPED_IDS_KEPT = 10


# Every quality metric is a fraction; a NaN, an infinity or 1e308 is a broken file, never a
# score a report may rank or a CI gate may pass.
Score = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
# Costs and counts: finite and not negative.
Measured = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DroppedRecord(_Section):
    """One kind of faulty entry of a hub dataset that was evaluated anyway (`benchmark.tasks.drops`)."""

    kind: str
    reason: str
    count: Count
    first_ids: list[str]  # the first DROPPED_IDS_KEPT, in data order


class TaskSection(_Section):
    name: str
    suite: str
    format: str
    dataset: str | None
    source: str | None
    revision: str | None
    resolved_revision: str | None
    split: str
    languages: list[str]
    query_language: str | None
    main_score: str
    fingerprint: str  # results compare only when this matches
    n_queries: Count
    n_pages: Count
    n_corpus_entries: Count
    notes: list[str]
    dropped: list[DroppedRecord] = []  # written only when something was dropped


class PageTextSection(_Section):
    source: str | None
    ocr_pages_recognised: Count
    ocr_pages_from_cache: Count


class RetrieverSection(_Section):
    """`name`, then what the retriever's `describe()` returned (plugins may add fields)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    checkpoint: str | None = None
    revision: str | None = None
    resolved_revision: str | None = None
    device: str | None = None
    dtype: str | None = None
    model_parameters: Count | None = None
    parameters: dict[str, Any] = {}
    page_text: PageTextSection | None = None  # text retrievers: where page text came from


class Evaluation(_Section):
    """How `metrics` were computed; results compare only when this matches."""

    protocol: str  # pagebench, vidore or mteb: benchmark.core.protocols
    tie_rule: str  # "trec_eval" (score, then id, both descending); older files: "page id ascending"


class MainScore(_Section):
    name: str
    value: Score


class SkippedPageRecord(_Section):
    id: str
    reason: str


class Efficiency(_Section):
    """What a run cost (see the README's efficiency section). Every field is optional:
    `pagebench profile` measures a subset, and version-1 files had three."""

    device: str | None = None
    dtype: str | None = None
    threads: Count | None = None
    page_batch_size: Count | None = None
    query_batch_size: Count | None = None
    model_parameters: Count | None = None
    model_load_s: Measured | None = None
    task_load_s: Measured | None = None
    search_total_s: Measured | None = None
    pages_encoded: Count | None = None
    pages_from_cache: Count | None = None
    world_size: Count | None = None
    index_pages_per_s_per_rank: list[Measured | None] | None = None
    index_s: Measured | None = None
    index_pages_per_s: Measured | None = None
    index_ms_per_page: Measured | None = None
    index_warm_up_batch_excluded: bool | None = None
    # No bump: new optional fields, absent in older files. The time inside the retriever's
    # encode calls, and the time indexing waited for decoded pages (prefetching hides the rest).
    index_model_s: Measured | None = None
    index_input_wait_s: Measured | None = None
    latency_sample_queries: Count | None = None
    query_ms_p50: Measured | None = None
    query_ms_p95: Measured | None = None
    query_encode_ms_p50: Measured | None = None
    query_encode_ms_p95: Measured | None = None
    query_encode_ms_p99: Measured | None = None
    search_ms_p50: Measured | None = None
    search_ms_p95: Measured | None = None
    search_ms_per_1000_pages: Measured | None = None
    peak_rss_mb: Measured | None = None
    peak_accelerator_mb: Measured | None = None
    index_bytes_total: Count | None = None
    index_bytes_per_page: Measured | None = None


class GitState(_Section):
    sha: str
    dirty: bool


class Environment(_Section):
    pagebench: str | None = None
    python: str | None = None
    platform: str | None = None
    cpu_count: Count | None = None
    device: str | None = None
    device_name: str | None = None
    packages: dict[str, str] = {}
    # "git checkout" (then `git` holds its commit) or "installed package" (no git: the
    # version is `pagebench` and `packages.pagebench`). No bump: a new optional field;
    # absent in older files, which recorded only `git` (null outside a checkout).
    pagebench_source: str | None = None
    git: GitState | None = None


class Timestamps(_Section):
    started: str  # ISO 8601, UTC
    finished: str


class ResultsFile(_Section):
    schema_version: int
    run_name: str
    task: TaskSection
    retriever: RetrieverSection
    evaluation: Evaluation
    main_score: MainScore
    skipped_pages: list[SkippedPageRecord] = []  # --on-bad-page skip
    metrics: dict[str, Score]  # mean over every query of the task
    # at least one query: compare and check test per-query values, and a task has queries
    per_query: Annotated[dict[str, dict[str, Score]], Field(min_length=1)]
    efficiency: Efficiency
    environment: Environment = Environment()
    timestamps: Timestamps | None = None

    def to_json(self) -> str:
        """The file's text: the fields that were set, in declaration order, one space indent."""
        # allow_nan=False: a NaN is never written silently (the types already refuse one)
        text = json.dumps(self.model_dump(exclude_unset=True), indent=1, ensure_ascii=False, allow_nan=False)
        return text + "\n"
