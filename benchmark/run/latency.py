"""Online latency: one query at a time (batch size 1), as a user of a search box waits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmark.core.defaults import LATENCY_WARM_UP
from benchmark.core.types import Query
from benchmark.measure.timing import Timer


@dataclass(frozen=True)
class Latency:
    query_encode_ms: list[float]
    search_ms: list[float]

    @property
    def query_ms(self) -> list[float]:
        """One query end to end (encode, then search), query by query."""
        return [encode + search for encode, search in zip(self.query_encode_ms, self.search_ms, strict=True)]


def latency_probe(retriever, queries: Sequence[Query], depth: int, sample: int, device: str) -> Latency:
    """The first `sample` queries, each encoded then searched alone, after a short warm-up."""
    queries = list(queries)
    for query in queries[:LATENCY_WARM_UP]:
        retriever.search(retriever.encode_queries([query]), depth)
    encode_ms, search_ms = [], []
    for query in queries[:sample]:
        with Timer(device) as encode:
            encoded = retriever.encode_queries([query])
        with Timer(device) as search:
            retriever.search(encoded, depth)
        encode_ms.append(encode.seconds * 1000)
        search_ms.append(search.seconds * 1000)
    return Latency(encode_ms, search_ms)
