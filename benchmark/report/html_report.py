"""`pagebench report`: one self-contained HTML file to see why a retriever fails.

Per task: the metric table with 95 % paired-bootstrap intervals, the distribution of
per-query nDCG@5, the worst queries with the gold page and the top-5 pages as
thumbnails (embedded JPEG), similarity maps where a provider gives them (multi-vector
retrievers), and with a second run the queries B lost most against A. No server, no
network: styles, script and images are inline. Ids for tests: see `html_assets`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path

from benchmark.core.defaults import REPORT_WORST_QUERIES, RESAMPLES, STATISTICS_SEED
from benchmark.core.vocabulary import metric_label
from benchmark.evaluation.significance import compare_paired
from benchmark.report.html_assets import SCRIPT, STYLE, histogram_svg, select
from benchmark.report.html_compare import compare_losses
from benchmark.report.html_pages import PageThumbnails, UnshownPage, page_figure, query_heading, top_pages
from benchmark.report.run_pages import TaskRun, load_task_runs
from benchmark.report.thumbnails import SimilarityProvider, token_map_images
from benchmark.results.schema import ResultsFile
from benchmark.tasks.data import TaskData

log = logging.getLogger(__name__)

WORST_METRIC = "ndcg_at_5"
DEFAULT_WORST = REPORT_WORST_QUERIES
TABLE_METRICS = ("ndcg_at_5", "ndcg_at_10", "recall_at_5", "recall_at_10", "map_at_10", "mrr_at_10")


SimilarityFactory = Callable[[ResultsFile, TaskData], SimilarityProvider | None]
"""(a task's results file, the loaded task) -> its similarity-map provider, or None."""


@dataclass(frozen=True)
class ReportOptions:
    worst: int = DEFAULT_WORST
    task: str | None = None
    resamples: int = RESAMPLES
    seed: int = STATISTICS_SEED
    # Per task: the similarity-map provider for that run and task (None: no section), e.g.
    # `benchmark.run.similarity_maps.make_provider` with the retriever the results file names.
    similarity_for: SimilarityFactory | None = None


def write_report(run: Path, output: Path, *, compare: Path | None = None, options: ReportOptions) -> Path:
    output.write_text(build_report(run, compare=compare, options=options), encoding="utf-8")
    return output


def build_report(run: Path, *, compare: Path | None = None, options: ReportOptions) -> str:
    runs = load_task_runs(run, options.task)
    others = load_task_runs(compare, options.task, among=set(runs)) if compare else {}
    sections = []
    for name, task_run in runs.items():
        thumbnails = PageThumbnails(task_run)
        other = others.get(name)
        if other is not None and other.result.fingerprint != task_run.result.fingerprint:
            log.warning("%s: evaluated on other data in %s; not compared", name, compare)
            other = None
        sections.append(_task_section(task_run, other, thumbnails, options))
    return _page(run, compare, runs, "".join(sections))


def _page(run: Path, compare: Path | None, runs: dict[str, TaskRun], body: str) -> str:
    languages = sorted({lang for r in runs.values() for lang in _languages(r)})
    metrics = sorted({m for r in runs.values() for m in _table_metrics(r)})
    title = f"pagebench report: {run}" + (f" against {compare}" if compare else "")
    filters = (
        select("filter-task", "task", [(name, name) for name in runs])
        + select("filter-language", "language", [(code, code) for code in languages])
        + select("filter-metric", "metric", [(name, metric_label(name)) for name in metrics])
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><div class="filters">{filters}</div>{body}'
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def _languages(task_run: TaskRun) -> list[str]:
    found = {query.language for query in task_run.task.queries if query.language}
    return sorted(found or set(task_run.result.document.task.languages))


def _table_metrics(task_run: TaskRun) -> list[str]:
    stored = task_run.result.document.metrics
    main = task_run.result.document.main_score.name
    return [name for name in dict.fromkeys((main, *TABLE_METRICS)) if name in stored]


def _worst_metric(task_run: TaskRun) -> str:
    metrics = task_run.result.document.metrics
    return WORST_METRIC if WORST_METRIC in metrics else task_run.result.document.main_score.name


def _task_section(task_run: TaskRun, other: TaskRun | None, thumbnails: PageThumbnails, options) -> str:
    metric = _worst_metric(task_run)
    per_query = task_run.result.per_query(metric)
    document = task_run.result.document
    parts = [
        f'<section class="task" data-task="{escape(task_run.name)}" '
        f'data-language="{escape(" ".join(_languages(task_run)))}">',
        f"<h2>{escape(task_run.name)}</h2>",
        f'<p class="meta">retriever {escape(document.retriever.name)}, run {escape(document.run_name)}, '
        f"{document.task.n_queries} queries, {document.task.n_pages} pages</p>",
        _metric_table(task_run, other, options),
        histogram_svg(list(per_query.values()), metric_label(metric)),
        _worst_queries(task_run, per_query, metric, thumbnails, options),
    ]
    if other is not None:
        other_thumbnails = PageThumbnails(other)
        parts.append(compare_losses(task_run, other, metric, thumbnails, other_thumbnails, options.worst))
    return "".join(parts) + "</section>"


def _metric_table(task_run: TaskRun, other: TaskRun | None, options: ReportOptions) -> str:
    """Without a second run: each mean with its 95 % bootstrap interval (the paired test
    against zero); with one: both means and B - A with its paired interval and p-value."""
    header = (
        "<tr><th>metric</th><th>A</th><th>B</th><th>B − A</th><th>95% CI</th><th>p</th></tr>"
        if other
        else "<tr><th>metric</th><th>mean</th><th>95% CI</th></tr>"
    )
    rows = []
    for name in _table_metrics(task_run):
        a = task_run.result.per_query(name)
        if other is not None and name in other.result.document.metrics:
            b = other.result.per_query(name)
            shared = sorted(set(a) & set(b))
            paired = _paired([a[q] for q in shared], [b[q] for q in shared], options)
            cells = (
                f"<td>{paired.mean_a:.4f}</td><td>{paired.mean_b:.4f}</td><td>{paired.difference:+.4f}</td>"
                f"<td>[{paired.ci_low:+.4f}, {paired.ci_high:+.4f}]</td><td>{paired.p_value:.4f}</td>"
            )
        else:
            values = [a[q] for q in sorted(a)]
            paired = _paired([0.0] * len(values), values, options)
            cells = f"<td>{paired.mean_b:.4f}</td><td>[{paired.ci_low:.4f}, {paired.ci_high:.4f}]</td>"
        row = f'<tr class="metric-row" data-metric="{name}"><td>{escape(metric_label(name))}</td>'
        rows.append(f"{row}{cells}</tr>")
    return f'<table class="metrics">{header}{"".join(rows)}</table>'


def _paired(a: list[float], b: list[float], options: ReportOptions):
    return compare_paired([(a, b)], resamples=options.resamples, seed=options.seed)


def _worst_queries(task_run: TaskRun, per_query: dict[str, float], metric: str, thumbnails, options) -> str:
    worst = sorted(per_query, key=lambda qid: (per_query[qid], qid))[: options.worst]
    factory = options.similarity_for
    provider = factory(task_run.result.document, task_run.task) if factory is not None else None
    items = []
    for query_id in worst:
        gold = task_run.gold_page(query_id)
        rank = task_run.rank_of(query_id, gold) if gold else None
        rank_text = f"rank {rank}" if rank else "not retrieved"
        gold_figure = (
            page_figure(thumbnails, gold, f"gold {escape(gold)}<br>{rank_text}", "gold") if gold else ""
        )
        items.append(
            f'<li class="worst-query" data-query="{escape(query_id)}" '
            f'data-language="{escape(task_run.language_of(query_id))}" '
            f'data-ndcg="{per_query[query_id]:.4f}" data-gold-rank="{rank or "none"}">'
            f"{query_heading(task_run, query_id)}"
            f'<div class="meta">{escape(query_id)} · {escape(metric_label(metric))} '
            f"{per_query[query_id]:.4f} · gold page {rank_text}</div>"
            f'<div class="pages">{gold_figure}{top_pages(task_run, thumbnails, query_id)}</div>'
            f"{_similarity(task_run, thumbnails, query_id, gold, provider)}</li>"
        )
    return (
        f"<h3>The {len(worst)} worst queries by {escape(metric_label(metric))}</h3>"
        f'<ol class="worst-queries">{"".join(items)}</ol>'
    )


def _similarity(task_run: TaskRun, thumbnails, query_id: str, gold: str | None, provider) -> str:
    """Where each query token matched the gold page and the top-1 page (multi-vector runs)."""
    query = task_run.queries.get(query_id)
    ranked = task_run.ranking.get(query_id, [])
    pages = list(dict.fromkeys(p for p in (gold, ranked[0][0] if ranked else None) if p is not None))
    if provider is None or query is None or not pages:
        return ""
    maps = provider(query.text, pages)
    blocks = []
    for page_id in pages:
        try:
            page = thumbnails.image(page_id)
        except UnshownPage:
            continue
        if not maps.get(page_id):
            continue
        role = "gold" if page_id == gold else "top-1"
        figures = "".join(
            f'<figure><img class="thumbnail similarity-map" alt="{escape(token)}" src="{uri}">'
            f"<figcaption>{escape(token)} ({best:.3g})</figcaption></figure>"
            for token, uri, best in token_map_images(page, maps[page_id])
        )
        heading = f'<div class="meta">{role} page {escape(page_id)}</div>'
        blocks.append(f'{heading}<div class="pages">{figures}</div>')
    if not blocks:
        return ""
    return f'<section class="similarity-maps" data-query="{escape(query_id)}">{"".join(blocks)}</section>'
