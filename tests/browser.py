"""A headless Chromium driven over W3C WebDriver with the standard library (no selenium),
for tests that check a page as a user sees it: the `browser` fixture.

Debian's `chromium` and `chromium-driver` run it (`.ci/run` installs them). One browser
serves the whole test session; after each test that used it, a screenshot of the page it
left is saved under $PAGEBENCH_TEST_ARTIFACTS (default `test-artifacts/`), kept by CI.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference
WINDOW_SIZE = (1280, 1024)
INSTALL_HINT = "install them with: sudo apt-get install -y chromium chromium-driver (.ci/run does)"


def artifacts_folder() -> Path:
    return Path(os.environ.get("PAGEBENCH_TEST_ARTIFACTS") or REPO / "test-artifacts")


class Browser:
    """One WebDriver session: open a page, run script, find and read elements, click, screenshot."""

    def __init__(self, driver_url: str, session_id: str):
        self._url = f"{driver_url}/session/{session_id}"

    def _call(self, method: str, path: str, body: dict | None = None):
        return _request(method, self._url + path, body)

    def open(self, target: str | Path) -> None:
        """A URL, or a local file (as file://)."""
        url = Path(target).resolve().as_uri() if isinstance(target, Path) else target
        self._call("POST", "/url", {"url": url})

    def run(self, script: str, *args):
        """The value of `script` (a function body: `return …`) run in the page; elements as references."""
        return self._call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find_all(self, css: str) -> list[dict]:
        return self._call("POST", "/elements", {"using": "css selector", "value": css})

    def find(self, css: str) -> dict:
        found = self.find_all(css)
        assert found, f"no element matches {css!r} in the page"
        return found[0]

    def text(self, element: dict) -> str:
        """The element's rendered text (empty when hidden)."""
        return self._call("GET", f"/element/{element[ELEMENT]}/text")

    def visible_texts(self, css: str) -> list[str]:
        return [text for text in (self.text(e) for e in self.find_all(css)) if text]

    def click(self, element: dict) -> None:
        self._call("POST", f"/element/{element[ELEMENT]}/click", {})

    def select(self, select_css: str, value: str) -> None:
        """Choose an option of a <select> the way a user does (a click, so `change` fires)."""
        self.click(self.find(f"{select_css} option[value={json.dumps(value)}]"))

    def screenshot(self, name: str) -> Path:
        """The viewport as a PNG under the artifacts folder; returns its path."""
        folder = artifacts_folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}.png"
        path.write_bytes(base64.b64decode(self._call("GET", "/screenshot")))
        return path


def _request(method: str, url: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["value"]
    except urllib.error.HTTPError as error:  # WebDriver errors carry their message in the body
        raise AssertionError(f"WebDriver {method} {url}: {error.read().decode(errors='replace')}") from None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_ready(driver_url: str, process: subprocess.Popen, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"chromedriver exited with {process.returncode} before it was ready")
        try:
            if _request("GET", f"{driver_url}/status").get("ready"):
                return
        except (OSError, AssertionError):
            pass
        time.sleep(0.1)
    pytest.fail(f"chromedriver was not ready after {seconds:.0f} s")


@pytest.fixture(scope="session")
def _browser_session():
    driver, chromium = shutil.which("chromedriver"), shutil.which("chromium")
    if driver is None or chromium is None:
        missing = " and ".join(n for n, p in (("chromium", chromium), ("chromedriver", driver)) if p is None)
        pytest.fail(
            f"the browser tests need Debian's chromium and chromium-driver; {missing} not found: "
            + INSTALL_HINT
        )
    port = _free_port()
    process = subprocess.Popen(
        [driver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    driver_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(driver_url, process)
        width, height = WINDOW_SIZE
        options = {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"],
        }
        capabilities = {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}
        session = _request("POST", f"{driver_url}/session", {"capabilities": capabilities})
        try:
            yield Browser(driver_url, session["sessionId"])
        finally:
            _request("DELETE", f"{driver_url}/session/{session['sessionId']}")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def browser(_browser_session, request):
    """The session's browser; the page a test leaves is saved as `<test name>.png`."""
    yield _browser_session
    _browser_session.screenshot(request.node.name)
