"""The leaderboard's figures (matplotlib, PNG): per-task scores, and quality against cost
with the Pareto front (the runs no other run beats on both axes).

Figures are written with fixed metadata and fonts, so unchanged inputs give the same
bytes on the same machine.
"""

from __future__ import annotations

import math
from pathlib import Path

from benchmark.core.errors import PagebenchError
from benchmark.core.files import safe_file_name
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
    """The figures for one suite, of its table's metric; returns (caption, file) for each one written."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.family": "DejaVu Sans", "svg.hashsalt": "pagebench"})
    folder.mkdir(parents=True, exist_ok=True)
    metric = table.metric
    written = [(f"{metric} per task, {table.suite}", _task_bars(plt, table, folder, metric))]
    for key, axis_label, name in (
        ("query_ms_p50", "query latency p50 in ms, encode + search", "quality-vs-latency"),
        ("bytes_per_page", "index bytes per page", "quality-vs-bytes"),
    ):
        path = _quality_vs_cost(plt, table, folder, metric, key, axis_label, name)
        if path is not None:
            written.append((f"{table.suite}: average {metric} against {axis_label}", path))
    return written


def _task_bars(plt, table: SuiteTable, folder: Path, metric: str) -> Path:
    scores = table.grid.set_index("label")[table.tasks].T * 100  # rows: tasks, columns: runs
    width = max(6.0, 1.2 + 0.9 * len(table.tasks) * max(1, min(len(scores.columns), 6)) / 3)
    figure, axes = plt.subplots(figsize=(width, 4.5))
    scores.plot.bar(ax=axes, rot=0 if len(table.tasks) <= 4 else 30, width=0.8)
    axes.set_ylabel(f"{metric} ×100")
    axes.set_ylim(0, 100)
    axes.set_title(f"{table.suite}: {metric} per task")
    axes.legend(fontsize="small", loc="lower left")
    axes.grid(axis="y", alpha=0.3)
    path = _plot_path(folder, table.suite, "tasks")
    _save(plt, figure, path)
    return path


def _quality_vs_cost(
    plt, table: SuiteTable, folder: Path, metric: str, key: str, axis_label: str, name: str
) -> Path | None:
    points = [
        (float(row[key]), float(row[AVERAGE]) * 100, str(row["label"]))
        for _, row in table.grid.iterrows()
        if not math.isnan(row[key]) and not math.isnan(row[AVERAGE])
    ]
    if not points:
        return None
    figure, axes = plt.subplots(figsize=(6.4, 4.5))
    axes.scatter([p[0] for p in points], [p[1] for p in points], zorder=3)
    for cost, quality, label in points:
        axes.annotate(label, (cost, quality), textcoords="offset points", xytext=(5, 4), fontsize="small")
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
    axes.set_xlabel(f"{axis_label} (log scale; lower is better)")
    axes.set_ylabel(f"average {metric} ×100")
    axes.set_title(f"{table.suite}: quality against cost")
    axes.legend(fontsize="small", loc="best")
    axes.grid(alpha=0.3)
    path = _plot_path(folder, table.suite, name)
    _save(plt, figure, path)
    return path


def _plot_path(folder: Path, suite: str, figure_name: str) -> Path:
    """`<folder>/<suite>-<figure>.png`, the suite (read from results files) made a safe file
    name, so a suite like `../../x` or `/etc/x` cannot put a plot outside the folder."""
    path = folder / f"{safe_file_name(suite)}-{figure_name}.png"
    if path.resolve().parent != folder.resolve():  # cannot happen with a safe name; never write outside
        raise PagebenchError(f"plot {path} would be written outside {folder}")
    return path


def _save(plt, figure, path: Path) -> None:
    figure.tight_layout()
    temporary = path.with_name(f".{path.name}.tmp")
    figure.savefig(temporary, format="png", dpi=_DPI, metadata=_PNG_METADATA)
    plt.close(figure)
    temporary.replace(path)
