"""What loading does with faulty entries of a hub dataset instead of refusing the task.

Only a hub dataset's author can fix its data, and vidore-benchmark and MTEB evaluate such
data anyway. So for a spec that names a hub `dataset`, each faulty entry is left out (a
judgement of a page missing from the corpus is kept, unmatched, as those tools score it),
a warning is logged, and the entry is recorded in `TaskData.dropped` (the results file's
`task.dropped`). With `strict` each one is the error it always was. Data read from a
`path` (a local folder, or hub-format files on disk) is always strict: its author is the
user, who can fix it. The rule follows the spec's source kind, not where the files are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from benchmark.core.errors import TaskDataError
from benchmark.tasks.spec import TaskSpec

log = logging.getLogger(__name__)

# kind -> what was found and what loading did with it; also the order of the records
DROP_REASONS = {
    "empty-image-filename": "rows with an empty image_filename: left out of the corpus (a query "
    "whose relevant row is one is left out too, in a note)",
    "empty-query-text": "queries with empty text: left out, with their qrels",
    "qrels-unknown-query": "qrels of a query id that is not among the queries: left out",
    "qrels-unknown-page": "judgements of a page that is not in the corpus: kept, so they count in "
    "the ideal ranking, but no page can match them (as vidore-benchmark and MTEB score them)",
}


@dataclass(frozen=True)
class Dropped:
    """Every entry of one kind that loading left out (or, for unknown pages, could not match)."""

    kind: str  # a key of DROP_REASONS
    ids: tuple[str, ...]  # query ids, "query -> page" judgements or "row N", in data order

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def reason(self) -> str:
        return DROP_REASONS[self.kind]


@dataclass
class Origins:
    """Where each query and judgement was read (file and row or line), for error messages."""

    queries: dict[str, str] = field(default_factory=dict)  # query id -> "file row N"
    qrels: dict[tuple[str, str], str] = field(default_factory=dict)  # (query id, page id) -> "file row N"

    def of_query(self, query_id: str, fallback: str) -> str:
        return self.queries.get(query_id, fallback)

    def of_qrel(self, query_id: str, page_id: str, fallback: str) -> str:
        return self.qrels.get((query_id, page_id), fallback)


class DropLog:
    """Leaves faulty entries of a hub dataset out and records them; else raises."""

    def __init__(self, spec: TaskSpec, *, strict: bool):
        self.lenient = spec.dataset is not None and not strict
        if spec.dataset is None:
            self._hint = "local data is always checked strictly: fix it in the files"
        else:
            self._hint = (
                "strict loading; without --strict pagebench leaves it out and records it in task.dropped"
            )
        self._ids: dict[str, list[str]] = {}

    def drop(self, kind: str, item_id: str, problem: str) -> None:
        """Record `item_id` as dropped, or raise `problem` when loading is strict."""
        if kind not in DROP_REASONS:
            raise ValueError(f"unknown kind of dropped entry {kind!r}")
        if not self.lenient:
            raise TaskDataError(f"{problem} ({self._hint})")
        self._ids.setdefault(kind, []).append(item_id)

    def finish(self, where: str) -> tuple[Dropped, ...]:
        """The records, each kind once logged as a warning."""
        records = tuple(Dropped(kind, tuple(self._ids[kind])) for kind in DROP_REASONS if kind in self._ids)
        for record in records:
            examples = ", ".join(repr(item) for item in record.ids[:3])
            more = f" and {record.count - 3} more" if record.count > 3 else ""
            log.warning("%s: %d %s (%s%s)", where, record.count, record.reason, examples, more)
        return records
