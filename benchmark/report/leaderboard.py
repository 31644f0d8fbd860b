"""`pagebench leaderboard`: results files (and published results) -> leaderboard.md.

One table per suite: a row per run (a run folder, i.e. one retriever + checkpoint), a
column per task with the metric ×100, the suite average, and efficiency columns. The
average exists only for a run that covers every task of the suite; a partial run is
marked incomplete, never averaged over what it has. Rows are ranked by the average;
the best value of each column is bold (HELM-style: each column declares whether
lower is better).

The output depends on nothing but the inputs (no dates, sorted everywhere), so
regenerating without new results gives the same bytes.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.core.errors import PagebenchError
from benchmark.core.files import write_text_atomic
from benchmark.core.vocabulary import EFFICIENCY_MEASURES
from benchmark.report.collect import StoredResult
from benchmark.report.efficiency import size_text
from benchmark.report.published import PublishedRun
from benchmark.results.schema import ResultsFile
from benchmark.tasks.spec import TaskSpec

AVERAGE = "average"


EFFICIENCY_COLUMNS = EFFICIENCY_MEASURES  # name, header and direction of each cost column


@dataclass
class Entry:
    """One leaderboard row before it is split by suite: a run of ours or a published one."""

    key: str  # unique: the run name, or model and source for published rows
    label: str
    retriever: str
    checkpoint: str | None
    results: dict[str, StoredResult] = field(default_factory=dict)  # by task (our runs only)
    scores: dict[str, float] = field(default_factory=dict)  # by task, fractions


@dataclass(frozen=True)
class SuiteTable:
    suite: str
    tasks: list[str]  # the suite's tasks: the average needs all of them
    extra_tasks: list[str]  # e.g. name@lang results: shown, not averaged
    grid: pd.DataFrame  # rows: entry keys in rank order; columns: tasks, average, efficiency, text columns
    warnings: list[str]


def entries_from(results: list[StoredResult], published: list[PublishedRun], metric: str) -> list[Entry]:
    by_key: dict[str, Entry] = {}
    for result in results:
        retriever = result.document.retriever
        entry = by_key.setdefault(
            result.run_name,
            Entry(result.run_name, result.run_name, retriever.name, retriever.checkpoint),
        )
        if result.task_name in entry.results:
            raise PagebenchError(
                f"{result.path} and {entry.results[result.task_name].path} are both run "
                f"{result.run_name!r} on task {result.task_name!r}: keep one"
            )
        entry.results[result.task_name] = result
        entry.scores[result.task_name] = result.metric(metric)
    for run in published:
        key = f"{run.label} [{run.source}]"
        if key in by_key:
            raise PagebenchError(f"published results {key!r} are imported twice")
        by_key[key] = Entry(key, run.label, f"published: {run.source}", None, scores=dict(run.scores))
    return list(by_key.values())


def suite_tables(entries: list[Entry], specs: list[TaskSpec]) -> list[SuiteTable]:
    suite_of = {spec.name: spec.suite for spec in specs}
    catalog_tasks: dict[str, list[str]] = {}
    for spec in specs:
        catalog_tasks.setdefault(spec.suite, []).append(spec.name)
    for entry in entries:
        for result in entry.results.values():  # tasks outside the catalog (local folders, spec files)
            suite_of.setdefault(result.task_name, result.suite)
    seen: dict[str, set[str]] = {}
    for entry in entries:
        for task in entry.scores:
            suite = suite_of.get(task) or suite_of.get(task.partition("@")[0])
            if suite is not None:
                seen.setdefault(suite, set()).add(task)
    tables = []
    for suite in sorted(seen):
        tasks = catalog_tasks.get(suite) or sorted(t for t in seen[suite] if "@" not in t)
        extra = sorted(seen[suite] - set(tasks))
        members = [entry for entry in entries if any(task in seen[suite] for task in entry.scores)]
        tables.append(_suite_table(suite, tasks, extra, members))
    return tables


def _suite_table(suite: str, tasks: list[str], extra: list[str], entries: list[Entry]) -> SuiteTable:
    rows = {}
    for entry in entries:
        row: dict[str, object] = {task: entry.scores.get(task, math.nan) for task in (*tasks, *extra)}
        row["label"], row["retriever"], row["checkpoint"] = (
            entry.label,
            entry.retriever,
            entry.checkpoint or "",
        )
        row["covered"] = sum(task in entry.scores for task in tasks)
        row.update(_efficiency([entry.results[t] for t in (*tasks, *extra) if t in entry.results]))
        rows[entry.key] = row
    grid = pd.DataFrame.from_dict(rows, orient="index")
    grid[AVERAGE] = grid[tasks].mean(axis=1, skipna=False)  # NaN unless every task is there
    grid["_key"] = grid.index
    grid = grid.sort_values([AVERAGE, "covered", "_key"], ascending=[False, False, True], na_position="last")
    return SuiteTable(suite, tasks, extra, grid.drop(columns="_key"), _data_warnings(entries, tasks))


def _efficiency(results: list[StoredResult]) -> dict[str, object]:
    """A run's costs over the suite's tasks: median query latency, pages over index time,
    index bytes over pages; the devices it ran on."""
    blocks = [(r.document.efficiency, r.document.task.n_pages) for r in results]
    latencies = [e.query_ms_p50 for e, _ in blocks if e.query_ms_p50 is not None]
    indexed = [(e.index_s, n) for e, n in blocks if e.index_s]
    stored = [(e.index_bytes_total, n) for e, n in blocks if e.index_bytes_total is not None]
    devices = sorted({_device(r.document) for r in results})
    return {
        "query_ms_p50": statistics.median(latencies) if latencies else math.nan,
        "pages_per_s": sum(n for _, n in indexed) / sum(s for s, _ in indexed) if indexed else math.nan,
        "bytes_per_page": sum(b for b, _ in stored) / sum(n for _, n in stored) if stored else math.nan,
        "device": ", ".join(devices),
    }


def _device(document: ResultsFile) -> str:
    device = document.efficiency.device or "?"
    name = document.environment.device_name
    return f"{device} ({name})" if name else device


def _data_warnings(entries: list[Entry], tasks: list[str]) -> list[str]:
    warnings = []
    for task in tasks:
        fingerprints = sorted({e.results[task].fingerprint for e in entries if task in e.results})
        if len(fingerprints) > 1:
            short = ", ".join(f[:12] for f in fingerprints)
            warnings.append(f"{task}: runs were evaluated on different data (fingerprints {short})")
    return warnings


# --- markdown -------------------------------------------------------------------------


def render_markdown(
    tables: list[SuiteTable], metric: str, sources: list[str], plots: dict[str, list[tuple[str, str]]]
) -> str:
    """`plots`: per suite, (caption, path relative to the markdown file)."""
    lines = [
        "# Leaderboard",
        "",
        (
            f"Generated by `pagebench leaderboard` from {', '.join(f'`{s}`' for s in sources)}; "
            "do not edit by hand."
        ),
        "",
        (
            f"Task columns: {metric} ×100. **Bold**: best in its column. `average`: mean over every task "
            "of the suite, only for runs that cover them all (others say how many they cover). "
            "Efficiency over the run's tasks in the suite: `query ms p50` is the median of each task's "
            "median time for one query end to end (encode + search, batch size 1); `pages/s` is pages "
            "indexed over indexing time; `bytes/page` is index size over pages. Figures measured on "
            "different devices do not compare. Published rows are imported from other tools' result "
            "files: they rank, but carry no per-query values or costs."
        ),
    ]
    for table in tables:
        lines += ["", f"## {table.suite}", "", *_markdown_table(table)]
        lines += [f"\n> note: {warning}" for warning in table.warnings]
        for caption, path in plots.get(table.suite, []):
            lines += ["", f"![{caption}]({path})"]
    return "\n".join(lines) + "\n"


def _markdown_table(table: SuiteTable) -> list[str]:
    grid = table.grid
    score_columns = [*table.tasks, AVERAGE, *table.extra_tasks]
    best = {column: grid[column].max() for column in score_columns}
    for column in EFFICIENCY_COLUMNS:
        best[column.name] = grid[column.name].max() if column.higher_is_better else grid[column.name].min()
    headers = ["rank", "run", "retriever", "checkpoint", *score_columns]
    headers += [column.label for column in EFFICIENCY_COLUMNS] + ["device"]
    align = (
        ["---:", "---", "---", "---"] + ["---:"] * (len(score_columns) + len(EFFICIENCY_COLUMNS)) + ["---"]
    )
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    for rank, (_, row) in enumerate(grid.iterrows(), start=1):
        cells = [str(rank) if not math.isnan(row[AVERAGE]) else "", f"`{row['label']}`", row["retriever"]]
        cells.append(f"`{row['checkpoint']}`" if row["checkpoint"] else "")
        for column in score_columns:
            cells.append(_marked(row[column], best[column], lambda v: f"{100 * v:.2f}"))
        if math.isnan(row[AVERAGE]):
            cells[4 + len(table.tasks)] = f"incomplete ({row['covered']}/{len(table.tasks)})"
        cells.append(_marked(row["query_ms_p50"], best["query_ms_p50"], _milliseconds))
        cells.append(_marked(row["pages_per_s"], best["pages_per_s"], lambda v: f"{v:.1f}"))
        cells.append(_marked(row["bytes_per_page"], best["bytes_per_page"], size_text))
        cells.append(row["device"])
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _marked(value: float, best: float, text) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"**{text(value)}**" if value == best else text(value)


def _milliseconds(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def write_leaderboard(markdown: str, path: Path) -> bool:
    """Write only if it changed; True when the file was (re)written."""
    if path.is_file() and path.read_text(encoding="utf-8") == markdown:
        return False
    write_text_atomic(path, markdown)
    return True
