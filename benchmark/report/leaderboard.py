"""`pagebench leaderboard`: results files (and published results) -> leaderboard.md.

One table per suite: a row per run (a run folder, i.e. one retriever + checkpoint), a
column per task with the suite's metric ×100, the suite average, and efficiency columns.
Each suite is ranked by its tasks' main score (ViDoRe v1/v2 nDCG@5, v3 nDCG@10), unless
`--metric` names one metric for every table; the line under each heading says which.
The average exists only for a run that covers every task of the suite; a partial run is
marked incomplete, never averaged over what it has. Rows are ranked by the average;
the best value of each column is bold (HELM-style: each column declares whether
lower is better). Caveats on imported values (another dataset revision, none recorded,
the OCR-chunk variant) are numbered footnotes under the table, marked on each cell.

The output depends on nothing but the inputs (no dates, sorted everywhere), so
regenerating without new results gives the same bytes.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.core.errors import PagebenchError
from benchmark.core.files import write_text_atomic
from benchmark.core.vocabulary import EFFICIENCY_MEASURES, metric_label
from benchmark.report.collect import StoredResult
from benchmark.report.efficiency import size_text
from benchmark.report.markdown import code, escaped
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
    published: PublishedRun | None = None  # imported rows: every metric the file holds, by task

    @property
    def tasks(self) -> set[str]:
        return set(self.results) | set(self.published.scores if self.published else ())

    def score(self, task: str, metric: str) -> float:
        """The task's metric (fraction), NaN when the row has none."""
        if task in self.results:
            return self.results[task].metric(metric)
        value = self.published.score(task, metric) if self.published else None
        return math.nan if value is None else value


@dataclass(frozen=True)
class SuiteTable:
    suite: str
    metric: str  # what the task columns and the average hold
    metric_chosen: bool  # True: set by --metric; False: the suite's main score
    tasks: list[str]  # the suite's tasks: the average needs all of them
    extra_tasks: list[str]  # e.g. name@lang results: shown, not averaged
    grid: pd.DataFrame  # rows: entry keys in rank order; columns: tasks, average, efficiency, text columns
    warnings: list[str]
    notes: dict[str, dict[str, str]] = field(default_factory=dict)  # entry key -> column -> caveat
    partial: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # key -> task -> langs


def entries_from(results: list[StoredResult], published: list[PublishedRun]) -> list[Entry]:
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
    for run in published:
        key = f"{run.label} [{run.source}]"
        if key in by_key:
            raise PagebenchError(f"published results {key!r} are imported twice")
        by_key[key] = Entry(key, run.label, f"published: {run.source}", None, published=run)
    return list(by_key.values())


def suite_tables(entries: list[Entry], specs: list[TaskSpec], metric: str | None = None) -> list[SuiteTable]:
    """One table per suite with results; `metric` overrides every suite's main score."""
    suite_of = {spec.name: spec.suite for spec in specs}
    catalog_tasks: dict[str, list[str]] = {}
    main_scores: dict[str, dict[str, str]] = {}  # suite -> task -> main score
    for spec in specs:
        catalog_tasks.setdefault(spec.suite, []).append(spec.name)
        main_scores.setdefault(spec.suite, {})[spec.name] = spec.main_score
    for entry in entries:
        for result in entry.results.values():  # tasks outside the catalog (local folders, spec files)
            suite_of.setdefault(result.task_name, result.suite)
            if result.suite not in catalog_tasks:  # the catalog's main score wins over what a file recorded
                main_scores.setdefault(result.suite, {})[result.task_name] = result.document.task.main_score
    seen: dict[str, set[str]] = {}
    for entry in entries:
        for task in entry.tasks:
            suite = suite_of.get(task) or suite_of.get(task.partition("@")[0])
            if suite is not None:
                seen.setdefault(suite, set()).add(task)
    tables = []
    for suite in sorted(seen):
        tasks = catalog_tasks.get(suite) or sorted(t for t in seen[suite] if "@" not in t)
        extra = sorted(seen[suite] - set(tasks))
        members = [entry for entry in entries if entry.tasks & seen[suite]]
        chosen = metric or suite_main_score(suite, main_scores.get(suite, {}))
        tables.append(_suite_table(suite, (chosen, metric is not None), tasks, extra, members))
    return tables


def suite_main_score(suite: str, main_scores: dict[str, str]) -> str:
    """The one main score a suite's tasks share. A table ranks by one metric, so a suite
    whose tasks disagree is refused (naming them) rather than ranked by a majority that
    would show some tasks under a score that is not theirs."""
    counts = Counter(main_scores.values())
    if len(counts) == 1:
        return next(iter(counts))
    by_score = "; ".join(
        f"{score}: {', '.join(sorted(t for t, s in main_scores.items() if s == score))}"
        for score in sorted(counts)
    )
    raise PagebenchError(
        f"suite {suite!r}: its tasks have different main scores ({by_score}); one table ranks by one "
        "metric: give the suite's specs the same main_score, or choose one with --metric"
    )


def _suite_table(
    suite: str, metric: tuple[str, bool], tasks: list[str], extra: list[str], entries: list[Entry]
) -> SuiteTable:
    name, chosen = metric
    rows, notes, partial, warnings = {}, {}, {}, []
    for entry in entries:
        row: dict[str, object] = {task: entry.score(task, name) for task in (*tasks, *extra)}
        row["label"], row["retriever"], row["checkpoint"] = (
            entry.label,
            entry.retriever,
            entry.checkpoint or "",
        )
        row["covered"] = sum(not math.isnan(row[task]) for task in tasks)
        row.update(_efficiency([entry.results[t] for t in (*tasks, *extra) if t in entry.results]))
        rows[entry.key] = row
        if entry.published is not None:
            run = entry.published
            notes[entry.key] = {t: note for t, note in run.notes.items() if t in row}
            partial[entry.key] = {t: langs for t, langs in run.partial.items() if t in tasks}
            missing = sorted(t for t in run.scores if t in row and math.isnan(row[t]))
            if missing:
                warnings.append(
                    f"{code(run.label)} ({escaped(run.source)}): the file has no {name} for "
                    f"{escaped(', '.join(missing))}"
                )
    grid = pd.DataFrame.from_dict(rows, orient="index")
    grid[AVERAGE] = grid[tasks].mean(axis=1, skipna=False)  # NaN unless every task is there
    grid["_key"] = grid.index
    grid = grid.sort_values([AVERAGE, "covered", "_key"], ascending=[False, False, True], na_position="last")
    warnings += _data_warnings(entries, tasks)
    return SuiteTable(suite, name, chosen, tasks, extra, grid.drop(columns="_key"), warnings, notes, partial)


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
            short = escaped(", ".join(f[:12] for f in fingerprints))
            warnings.append(f"{escaped(task)}: runs were evaluated on different data (fingerprints {short})")
    return warnings


# --- markdown -------------------------------------------------------------------------


def render_markdown(
    tables: list[SuiteTable], sources: list[str], plots: dict[str, list[tuple[str, str]]]
) -> str:
    """`plots`: per suite, (caption, path relative to the markdown file)."""
    lines = [
        "# Leaderboard",
        "",
        (
            f"Generated by `pagebench leaderboard` from {', '.join(code(s) for s in sources)}; "
            "do not edit by hand."
        ),
        "",
        (
            "Task columns: the metric named under each suite's heading ×100 (the suite's main score "
            "unless `--metric` chose another). **Bold**: best in its column. `average`: mean over every "
            "task of the suite, only for runs that cover them all (others say how many they cover). "
            "Efficiency over the run's tasks in the suite: `query ms p50` is the median of each task's "
            "median time for one query end to end (encode + search, batch size 1); `pages/s` is pages "
            "indexed over indexing time; `bytes/page` is index size over pages. Figures measured on "
            "different devices do not compare. Published rows are imported from other tools' result "
            "files: they rank, but carry no per-query values or costs; `[n]` on a value points to a "
            "footnote under its table (another dataset revision, none recorded, the OCR-chunk variant), "
            "and `en only` (or the languages listed) means the file covers only those query languages "
            "of the task: their values are the `task@lang` columns, and no task score or average is "
            "derived from them."
        ),
    ]
    for table in tables:
        source = "set with `--metric`" if table.metric_chosen else "the suite's main score"
        caption = f"Ranked by {metric_label(table.metric)} (`{table.metric}`) ×100, {source}."
        table_lines, footnotes = _markdown_table(table)
        lines += ["", f"## {escaped(table.suite)}", "", caption, "", *table_lines]
        lines += [f"\n> [{number}] {note}" for number, note in enumerate(footnotes, start=1)]
        lines += [f"\n> note: {warning}" for warning in table.warnings]
        for caption, path in plots.get(table.suite, []):
            lines += ["", f"![{escaped(caption)}]({path})"]
    return "\n".join(lines) + "\n"


def _markdown_table(table: SuiteTable) -> tuple[list[str], list[str]]:
    """The table's lines, and its footnotes in the order their numbers were given."""
    grid = table.grid
    score_columns = [*table.tasks, AVERAGE, *table.extra_tasks]
    best = {column: grid[column].max() for column in score_columns}
    for column in EFFICIENCY_COLUMNS:
        best[column.name] = grid[column.name].max() if column.higher_is_better else grid[column.name].min()
    headers = ["rank", "run", "retriever", "checkpoint", *(escaped(column) for column in score_columns)]
    headers += [column.label for column in EFFICIENCY_COLUMNS] + ["device"]
    align = (
        ["---:", "---", "---", "---"] + ["---:"] * (len(score_columns) + len(EFFICIENCY_COLUMNS)) + ["---"]
    )
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    footnotes: list[str] = []
    for rank, (key, row) in enumerate(grid.iterrows(), start=1):
        cells = [
            str(rank) if not math.isnan(row[AVERAGE]) else "",
            code(row["label"]),
            escaped(row["retriever"]),
        ]
        cells.append(code(row["checkpoint"]) if row["checkpoint"] else "")
        notes, partial = table.notes.get(key, {}), table.partial.get(key, {})
        for column in score_columns:
            text = _marked(row[column], best[column], lambda v: f"{100 * v:.2f}")
            if column in partial and math.isnan(row[column]):
                text = f"{escaped(', '.join(partial[column]))} only"
            caveats = [] if math.isnan(row[column]) else _cell_notes(column, notes, table.tasks)
            cells.append(text + _footnote_marks(caveats, footnotes))
        if math.isnan(row[AVERAGE]):
            cells[4 + len(table.tasks)] = f"incomplete ({row['covered']}/{len(table.tasks)})"
        cells.append(_marked(row["query_ms_p50"], best["query_ms_p50"], _milliseconds))
        cells.append(_marked(row["pages_per_s"], best["pages_per_s"], lambda v: f"{v:.1f}"))
        cells.append(_marked(row["bytes_per_page"], best["bytes_per_page"], size_text))
        cells.append(escaped(row["device"]))
        lines.append("| " + " | ".join(cells) + " |")
    return lines, footnotes


def _cell_notes(column: str, notes: dict[str, str], tasks: list[str]) -> list[str]:
    """A cell's caveats; the average carries those of every task it is made of."""
    if column == AVERAGE:
        return list(dict.fromkeys(notes[task] for task in tasks if task in notes))
    return [notes[column]] if column in notes else []


def _footnote_marks(cell_notes: list[str], footnotes: list[str]) -> str:
    """` [1, 2]` for a cell's notes; the same text keeps one number in a table."""
    numbers = []
    for note in cell_notes:
        if note not in footnotes:
            footnotes.append(note)
        numbers.append(footnotes.index(note) + 1)
    return f" [{', '.join(map(str, numbers))}]" if numbers else ""


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
