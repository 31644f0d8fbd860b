"""A loaded task: the spec it came from, its corpus, queries and qrels, and its fingerprint."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.core.types import Corpus, Qrels, Query
from benchmark.tasks.drops import Dropped
from benchmark.tasks.spec import TaskSpec


@dataclass(frozen=True)
class TaskData:
    spec: TaskSpec
    corpus: Corpus
    queries: tuple[Query, ...]
    qrels: Qrels
    fingerprint: str
    resolved_revision: str | None = None
    notes: tuple[str, ...] = field(default=())  # what loading dropped or excluded, for the report
    dropped: tuple[Dropped, ...] = field(default=())  # faults of hub data evaluated anyway (drops.py)
