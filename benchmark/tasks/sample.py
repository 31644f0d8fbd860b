"""A fixed sample of a task's queries, for quick evaluations (a training loop's every N steps).

The same seed and size give the same queries on every call, so scores along a training
run compare with each other. The corpus stays whole: a query still searches every page.
The sample gets a fingerprint of its own, so its results never compare with the whole
task's, and a note in the results file says what was evaluated.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace

from benchmark.core.errors import PagebenchError
from benchmark.tasks.data import TaskData


def sample_queries(task: TaskData, max_queries: int | None, seed: int) -> TaskData:
    """`task` with `max_queries` of its queries drawn with `seed` (kept in task order);
    unchanged when it has no more than that."""
    if max_queries is not None and max_queries < 1:
        raise PagebenchError(f"max_queries must be a positive number of queries, got {max_queries}")
    if max_queries is None or max_queries >= len(task.queries):
        return task
    chosen = sorted(random.Random(seed).sample(range(len(task.queries)), max_queries))
    queries = tuple(task.queries[index] for index in chosen)
    kept = {query.id for query in queries}
    digest = hashlib.sha256(f"{task.fingerprint}\0sample\0{seed}\0".encode())
    digest.update("\0".join(sorted(kept)).encode())
    note = (
        f"queries: a sample of {max_queries} of {len(task.queries)} (seed {seed}); "
        "scores compare only with runs on the same sample"
    )
    return replace(
        task,
        queries=queries,
        qrels={query_id: judged for query_id, judged in task.qrels.items() if query_id in kept},
        fingerprint="sha256:" + digest.hexdigest(),
        notes=(*task.notes, note),
    )
