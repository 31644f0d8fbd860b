"""Pieces of the HTML report shared by its sections: page thumbnails (each page decoded
once), a page figure, a query's top-5 pages and its heading."""

from __future__ import annotations

import logging
from html import escape

from PIL.Image import Image

from benchmark.core.errors import TaskDataError
from benchmark.report.run_pages import TaskRun
from benchmark.report.thumbnails import jpeg_data_uri, thumbnail

TOP_PAGES_SHOWN = 5

log = logging.getLogger(__name__)


class UnshownPage(Exception):
    """A page the report cannot show (not in the task, or its image unreadable): one
    placeholder, not a failed report."""


class PageThumbnails:
    """Each page decoded and encoded once per task, however often it is shown."""

    def __init__(self, task_run: TaskRun):
        self._run = task_run
        self._images: dict[str, Image | UnshownPage] = {}

    def image(self, page_id: str) -> Image:
        if page_id not in self._images:
            self._images[page_id] = self._decode(page_id)
        found = self._images[page_id]
        if isinstance(found, UnshownPage):
            raise found
        return found

    def _decode(self, page_id: str) -> Image | UnshownPage:
        position = self._run.page_positions.get(page_id)
        if position is None:
            return UnshownPage(f"page {page_id} not in the task")
        corpus = self._run.task.corpus
        try:
            [page] = corpus.images.load([position], [corpus.ids[position]])
        except TaskDataError as error:  # BadPageError included: one page, not the report
            log.warning("%s: %s", self._run.name, error)
            return UnshownPage(f"page {page_id} unreadable")
        return thumbnail(page)

    def uri(self, page_id: str) -> str:
        return jpeg_data_uri(self.image(page_id))


def page_figure(thumbnails: PageThumbnails, page_id: str, caption: str, css: str = "") -> str:
    try:
        uri = thumbnails.uri(page_id)
    except UnshownPage as reason:
        return (
            f'<figure class="missing" data-page="{escape(page_id)}">({escape(str(reason))})'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return (
        f'<figure class="{css}" data-page="{escape(page_id)}">'
        f'<img class="thumbnail" alt="page {escape(page_id)}" src="{uri}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def top_pages(task_run: TaskRun, thumbnails: PageThumbnails, query_id: str) -> str:
    judged = task_run.task.qrels.get(query_id, {})
    figures = [
        page_figure(
            thumbnails,
            page_id,
            f"#{rank} {escape(page_id)}<br>score {score:.4g}",
            "hit" if judged.get(page_id, 0) > 0 else "",
        )
        for rank, (page_id, score) in enumerate(task_run.ranking.get(query_id, [])[:TOP_PAGES_SHOWN], start=1)
    ]
    return f'<div class="pages top-pages">{"".join(figures) or "(nothing retrieved)"}</div>'


def query_heading(task_run: TaskRun, query_id: str) -> str:
    query = task_run.queries.get(query_id)
    text = query.text if query else "(query not in the task)"
    return f'<div class="query-text">{escape(text)}</div>'
