"""The `--compare` part of the HTML report: the queries where run B lost most against
run A (per-query nDCG@5 difference), with both rankings side by side."""

from __future__ import annotations

from html import escape

from benchmark.core.vocabulary import metric_label
from benchmark.report.html_pages import query_heading, top_pages
from benchmark.report.run_pages import TaskRun


def biggest_losses(a: dict[str, float], b: dict[str, float], limit: int) -> list[tuple[str, float]]:
    """(query id, B - A) for the queries B is worse on, the biggest loss first."""
    deltas = [(qid, b[qid] - a[qid]) for qid in sorted(set(a) & set(b))]
    return sorted((item for item in deltas if item[1] < 0), key=lambda item: (item[1], item[0]))[:limit]


def compare_losses(run_a: TaskRun, run_b: TaskRun, metric: str, thumbs_a, thumbs_b, limit: int) -> str:
    losses = biggest_losses(run_a.result.per_query(metric), run_b.result.per_query(metric), limit)
    label = escape(metric_label(metric))
    items = []
    for query_id, delta in losses:
        items.append(
            f'<li class="compare-loss" data-query="{escape(query_id)}" '
            f'data-language="{escape(run_a.language_of(query_id))}" data-delta="{delta:.4f}">'
            f"{query_heading(run_a, query_id)}"
            f'<div class="meta">{escape(query_id)} · {label} B − A {delta:+.4f}</div><div class="side">'
            f"<div><b>A: {escape(run_a.result.run_name)}</b>{top_pages(run_a, thumbs_a, query_id)}</div>"
            f"<div><b>B: {escape(run_b.result.run_name)}</b>{top_pages(run_b, thumbs_b, query_id)}</div>"
            "</div></li>"
        )
    return (
        f"<h3>Where B lost most against A ({len(losses)} queries, by {label})</h3>"
        f'<ol class="compare-losses">{"".join(items)}</ol>'
    )
