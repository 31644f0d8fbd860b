"""The browser harness (tests/browser.py) on a small self-contained page: it renders,
its embedded image decodes, a filter changes what is shown, and screenshots are PNGs."""

from __future__ import annotations

import base64

from PIL import Image

from tests.browser import artifacts_folder
from tests.conftest import png_bytes

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>harness fixture</title></head>
<body>
<h1>Worst queries</h1>
<img id="thumbnail" alt="page" src="data:image/png;base64,{image}">
<select id="filter">
  <option value="all">all languages</option>
  <option value="en">en</option>
  <option value="fr">fr</option>
</select>
<table><tbody>
  <tr data-language="en"><td>how do I upgrade</td></tr>
  <tr data-language="fr"><td>comment mettre à jour</td></tr>
  <tr data-language="en"><td>where are the sources</td></tr>
</tbody></table>
<script>
document.getElementById("filter").addEventListener("change", function (event) {{
  for (const row of document.querySelectorAll("tr[data-language]")) {{
    const shown = event.target.value === "all" || row.dataset.language === event.target.value;
    row.style.display = shown ? "" : "none";
  }}
}});
</script>
</body></html>
"""


def write_page(folder):
    page = folder / "page.html"
    image = base64.b64encode(png_bytes("page 1", (320, 100))).decode()
    page.write_text(PAGE.format(image=image), encoding="utf-8")
    return page


def test_the_page_renders_and_its_embedded_image_decodes(browser, tmp_path):
    browser.open(write_page(tmp_path))
    assert browser.text(browser.find("h1")) == "Worst queries"
    assert browser.run("return document.body.innerText.trim().length") > 0
    size = browser.run(
        "const image = arguments[0];return image.complete ? [image.naturalWidth, image.naturalHeight] : null",
        browser.find("#thumbnail"),
    )
    assert size == [320, 100]


def test_a_filter_changes_the_visible_rows(browser, tmp_path):
    browser.open(write_page(tmp_path))
    assert len(browser.visible_texts("tr")) == 3
    browser.select("#filter", "fr")
    assert browser.visible_texts("tr") == ["comment mettre à jour"]
    browser.select("#filter", "en")
    assert browser.visible_texts("tr") == ["how do I upgrade", "where are the sources"]


def test_a_screenshot_is_a_png_in_the_artifacts_folder(browser, tmp_path, monkeypatch):
    monkeypatch.setenv("PAGEBENCH_TEST_ARTIFACTS", str(tmp_path / "artifacts"))
    browser.open(write_page(tmp_path))
    path = browser.screenshot("harness page")
    assert path == artifacts_folder() / "harness_page.png" and path.parent == tmp_path / "artifacts"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 0 and image.height > 0
        colours = image.convert("L").getextrema()
    assert colours[0] < colours[1]  # not blank: the page drew something
