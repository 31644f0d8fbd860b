"""The inline style and script of the HTML report, and its nDCG histogram (inline SVG).

Element ids and attributes a browser test can rely on:
- `<select id="filter-task">`, `<select id="filter-language">`, `<select id="filter-metric">`:
  the filters; the value "" shows everything.
- `<section class="task" data-task="NAME" data-language="en fr">`: one per task.
- `<tr class="metric-row" data-metric="ndcg_at_5">`: a row of a task's metric table.
- `<ol class="worst-queries">` with `<li class="worst-query" data-query="ID" data-language="en"
  data-ndcg="0.0000" data-gold-rank="3|none">`: the worst queries, lowest nDCG@5 first.
- `<ol class="compare-losses">` with `<li class="compare-loss" data-query="ID" data-delta="-1.0000">`.
- `<svg class="histogram">`, `<section class="similarity-maps">`, `<img class="thumbnail">`.
Hidden elements carry the `hidden` attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

HISTOGRAM_BINS = 10

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.5em}h2{border-bottom:2px solid #ccc;padding-bottom:.2em}
.filters{position:sticky;top:0;background:#f6f6f6;padding:.5em;border:1px solid #ddd;z-index:1}
.filters label{margin-right:1.2em}
table.metrics{border-collapse:collapse;margin:.5em 0}
table.metrics td,table.metrics th{border:1px solid #ddd;padding:.2em .6em;text-align:right}
table.metrics td:first-child{text-align:left}
ol.worst-queries>li,ol.compare-losses>li{margin:.8em 0;padding:.5em;border:1px solid #e3e3e3}
.query-text{font-weight:600}.meta{color:#666;font-size:.9em}
.pages{display:flex;flex-wrap:wrap;gap:.5em;align-items:flex-start}
figure{margin:0;text-align:center;font-size:.8em}
figure.gold img{outline:3px solid #2a2}figure.hit img{outline:3px solid #2a2}
img.thumbnail{width:160px;border:1px solid #aaa}
.side{display:flex;gap:2em;flex-wrap:wrap}.side>div{flex:1}
svg.histogram rect{fill:#4a78b5}svg.histogram text{font-size:10px;fill:#333}
"""

SCRIPT = """
(function(){
  function value(id){var e=document.getElementById(id);return e?e.value:"";}
  function apply(){
    var task=value("filter-task"),lang=value("filter-language"),metric=value("filter-metric");
    document.querySelectorAll("section.task").forEach(function(s){
      var langs=(s.dataset.language||"").split(" ");
      s.hidden=!!((task&&s.dataset.task!==task)||(lang&&langs.indexOf(lang)<0));
    });
    document.querySelectorAll("[data-query][data-language]").forEach(function(q){
      q.hidden=!!(lang&&q.dataset.language!==lang);
    });
    document.querySelectorAll("tr.metric-row").forEach(function(r){
      r.hidden=!!(metric&&r.dataset.metric!==metric);
    });
  }
  ["filter-task","filter-language","filter-metric"].forEach(function(id){
    var e=document.getElementById(id);if(e){e.addEventListener("change",apply);}
  });
  apply();
})();
"""


def histogram_svg(values: Sequence[float], label: str, bins: int = HISTOGRAM_BINS) -> str:
    """Bars of how many queries fall in each of `bins` equal steps of [0, 1]."""
    counts = [0] * bins
    for value in values:
        counts[min(int(value * bins), bins - 1)] += 1
    width, height, bar = 40 + bins * 30, 150, 26  # bars from y=16 (room for the count) to 116
    tallest = max(counts) or 1
    parts = [
        f'<svg class="histogram" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)} per query">'
    ]
    for index, count in enumerate(counts):
        bar_height = round(100 * count / tallest)
        x = 30 + index * 30
        parts.append(
            f'<rect x="{x}" y="{116 - bar_height}" width="{bar}" height="{bar_height}">'
            f"<title>{index / bins:.1f}–{(index + 1) / bins:.1f}: {count} queries</title></rect>"
            f'<text x="{x + bar / 2}" y="{112 - bar_height}" text-anchor="middle">{count}</text>'
            f'<text x="{x}" y="130">{index / bins:.1f}</text>'
        )
    parts.append(f'<text x="30" y="146">{escape(label)} per query (1.0 at the right end)</text></svg>')
    return "".join(parts)


def select(element_id: str, label: str, options: Sequence[tuple[str, str]]) -> str:
    """A filter: `options` are (value, text); the first entry, "", shows everything."""
    choices = "".join(
        f'<option value="{escape(value)}">{escape(text)}</option>' for value, text in [("", "all"), *options]
    )
    return f'<label>{escape(label)} <select id="{element_id}">{choices}</select></label>'
