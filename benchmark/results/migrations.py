"""Reading older results files: each function lifts one version to the next, so a file
of any version this pagebench knows is read in the current schema (tested against the
committed results and a version-1 fixture)."""

from __future__ import annotations

from benchmark.results.schema import SCHEMA_VERSION

OLDEST_READABLE = 1


class MigrationError(ValueError):
    """An older file whose fields cannot be lifted (the reader names the file)."""


def to_current(document: dict) -> dict:
    """`document` (a parsed results file of version 1..current) in the current schema."""
    if document.get("schema_version") == 1:
        document = _from_version_1(document)
    if document.get("schema_version") == 2:
        document = _from_version_2(document)
    return document


def _from_version_1(document: dict) -> dict:
    """Version 1 had only wall times, under `timing`: keep them under their new names."""
    timing = document.pop("timing", {})
    if not isinstance(timing, dict):
        raise MigrationError(f"field 'timing': expected an object (got {type(timing).__name__})")
    document["efficiency"] = {
        "task_load_s": timing.get("load_s"),
        "index_s": timing.get("index_s"),
        "search_total_s": timing.get("search_s"),
    }
    document["schema_version"] = 2
    return document


def _from_version_2(document: dict) -> dict:
    """Versions 1 and 2 broke ties by page id ascending and had no protocols: say so, so
    that they are never compared with files ranked by trec_eval's rule."""
    document["evaluation"] = {"protocol": "pagebench", "tie_rule": "page id ascending"}
    document["schema_version"] = SCHEMA_VERSION
    return document
