"""The leaderboard's figures (matplotlib, PNG): per-task scores, and quality against cost
with the Pareto front (the runs no other run beats on both axes).

Figures are written with fixed metadata and fonts, so unchanged inputs give the same
bytes on the same machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.core.files import safe_file_name
from benchmark.core.vocabulary import metric_label
from benchmark.report.efficiency import size_text
from benchmark.report.leaderboard import AVERAGE, SuiteTable

_PNG_METADATA = {"Software": None}  # matplotlib would stamp its version; keep files stable
_DPI = 100


def pareto_front(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """(cost, quality, label) points no other point beats: cheaper-or-equal and better.

    Returned by increasing cost; quality strictly increases along the front.
    """
    front = []
    for cost, quality, label in sorted(points, key=lambda p: (p[0], -p[1], p[2])):
        if not front or quality > front[-1][1]:
            front.append((cost, quality, label))
    return front


def write_suite_plots(table: SuiteTable, folder: Path) -> list[tuple[str, Path]]:
    """The figures for one suite, of its table's metric; returns (caption, file) for each one written.

    A scatter's caption names the runs it leaves out and why (the figure says so too), so a
    run missing from a plot is never mistaken for a run that was not made."""
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    label = metric_label(table.metric)
    bars = _plot_path(folder, table.suite, "tasks")
    _save(plt, task_scores_figure(table), bars)
    written = [(f"{label} per task, {table.suite}", bars)]
    for measure in COST_AXES:
        figure, left_out = quality_vs_cost_figure(table, measure)
        if figure is None:
            continue
        path = _plot_path(folder, table.suite, measure.file_name)
        _save(plt, figure, path)
        caption = f"{table.suite}: average {label} against {measure.axis_label}"
        written.append((caption + (f"; not shown: {left_out_text(left_out)}" if left_out else ""), path))
    return written


@dataclass(frozen=True)
class CostAxis:
    key: str  # the grid column
    axis_label: str
    file_name: str
    bytes: bool = False  # ticks as B / KB / MB, as tables print sizes


COST_AXES = (
    CostAxis("query_ms_p50", "query latency p50 in ms, encode + search", "quality-vs-latency"),
    CostAxis("bytes_per_page", "index size per page", "quality-vs-bytes", bytes=True),
)


def task_scores_figure(table: SuiteTable):
    """Bars of each run's score per task, each bar labelled with its value; the legend sits
    below the axes, where it cannot hide a short bar."""
    plt = _pyplot()
    label = metric_label(table.metric)
    scores = table.grid.set_index("label")[table.tasks].T * 100  # rows: tasks, columns: runs
    width = max(6.0, 1.2 + 0.9 * len(table.tasks) * max(1, min(len(scores.columns), 6)) / 3)
    figure, axes = plt.subplots(figsize=(width, 5.0), layout="constrained")
    scores.plot.bar(ax=axes, rot=0 if len(table.tasks) <= 4 else 30, width=0.8, legend=False)
    for bars, run in zip(axes.containers, scores.columns, strict=True):
        # a task the run lacks gets a dash, as in the table, instead of a bar of height 0
        values = ["–" if math.isnan(v) else f"{v:.1f}" for v in scores[run]]
        axes.bar_label(bars, labels=values, fontsize="x-small", padding=2)
    axes.set_ylabel(f"{label} ×100")
    axes.set_ylim(0, 105)  # room for the value above a bar at 100
    axes.set_title(f"{table.suite}: {label} per task")
    handles, names = axes.get_legend_handles_labels()
    figure.legend(handles, names, fontsize="small", loc="outside lower center", ncol=min(len(names), 3))
    axes.grid(axis="y", alpha=0.3)
    return figure


def quality_vs_cost_figure(table: SuiteTable, measure: CostAxis):
    """The average score against one cost, with the Pareto front; and the runs left out
    (label -> why). The figure is None when no run has both values."""
    plt = _pyplot()
    label = metric_label(table.metric)
    points, left_out = [], {}
    for _, row in table.grid.iterrows():
        if math.isnan(row[AVERAGE]):
            left_out[str(row["label"])] = f"incomplete, {row['covered']}/{len(table.tasks)} tasks"
        elif math.isnan(row[measure.key]):
            left_out[str(row["label"])] = "not measured"
        else:
            points.append((float(row[measure.key]), float(row[AVERAGE]) * 100, str(row["label"])))
    if not points:
        return None, left_out
    figure, axes = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    axes.scatter([p[0] for p in points], [p[1] for p in points], zorder=3)
    for cost, quality, name in points:
        axes.annotate(name, (cost, quality), textcoords="offset points", xytext=(5, 4), fontsize="small")
    front = pareto_front(points)
    axes.step([p[0] for p in front], [p[1] for p in front], where="post", color="tab:red")
    axes.scatter(
        [p[0] for p in front],
        [p[1] for p in front],
        s=160,
        facecolors="none",
        edgecolors="tab:red",
        label="Pareto front (no run is cheaper and better)",
        zorder=4,
    )
    costs, qualities = [p[0] for p in points], [p[1] for p in points]
    axes.set_xscale("log")
    # room for the labels on a log axis, and around the scores
    axes.set_xlim(min(costs) / 2, max(costs) * 4)
    axes.set_ylim(max(0.0, min(qualities) - 8), min(100.0, max(qualities) + 8))
    if measure.bytes:
        _bytes_ticks(axes.xaxis)
    axes.set_xlabel(f"{measure.axis_label} (log scale; lower is better)")
    axes.set_ylabel(f"average {label} ×100")
    axes.set_title(f"{table.suite}: quality against cost")
    axes.legend(fontsize="small", loc="best")
    axes.grid(alpha=0.3)
    if left_out:
        # below the axis label, inside the layout so the saved figure keeps it
        note = f"not shown: {left_out_text(left_out)}"
        axes.text(0, -0.18, note, transform=axes.transAxes, va="top", fontsize="x-small")
    return figure, left_out


def left_out_text(left_out: dict[str, str]) -> str:
    return "; ".join(f"{name} ({why})" for name, why in sorted(left_out.items()))


def _bytes_ticks(axis) -> None:
    """Sizes in binary units written as tables write them (1.4 KB), not powers of ten.
    Ticks fall on powers of 1024 and their 2/4/8/… multiples, so each label is exact."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=2, numticks=12))
    axis.set_major_formatter(FuncFormatter(lambda value, _: size_text(value)))
    axis.set_minor_formatter(NullFormatter())


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.family": "DejaVu Sans", "svg.hashsalt": "pagebench"})
    return plt


def _plot_path(folder: Path, suite: str, figure_name: str) -> Path:
    """`<folder>/<suite>-<figure>.png`, the suite (read from results files) made a safe file
    name, so a suite like `../../x` or `/etc/x` cannot put a plot outside the folder."""
    path = folder / f"{safe_file_name(suite)}-{figure_name}.png"
    if path.resolve().parent != folder.resolve():  # cannot happen with a safe name; never write outside
        raise PagebenchError(f"plot {path} would be written outside {folder}")
    return path


def _save(plt, figure, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    figure.savefig(temporary, format="png", dpi=_DPI, metadata=_PNG_METADATA)
    plt.close(figure)
    temporary.replace(path)
