"""The HTML report opened in a real browser: headless Chromium loads the page from a file, with
no console error, every embedded plot decoded, and the verdict badges and the CPU-simulation
box actually drawn. A screenshot is kept under pytest's tmp dir and in $MGBENCH_ARTIFACTS.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages ended by NUL on fds 3 and 4), so the test needs the browser and nothing else: no
websocket client, no port, no browser-automation package pinned to a browser version. The test
skips only when no Chromium or Chrome can be found (.ci/run installs Debian's ``chromium``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mgbench.analysis.cells import cell_results
from mgbench.present import plots
from mgbench.present.html import html_document, verdict_kind
from mgbench.present.model import Column, Report, Section
from mgbench.present.sections import build_report
from mgbench.records import store
from mgbench.records.timelines import read_timelines

ROOT = Path(__file__).resolve().parents[2]
SMOKE_RUN = ROOT / "results" / "smoke" / "20261130-171743-vm"
IMAGENET_RUN = ROOT / "results" / "imagenet" / "20261130-152731-vm"
BROWSER_ENV = "MGBENCH_BROWSER"  # a browser's path, when it is not on PATH under a usual name
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 60.0
VIEWPORT = {"width": 1280, "height": 900}

# Run in the page once it has loaded: decode every image (a data URI decodes asynchronously),
# then report what a reader would see.
PAGE_CHECKS = """
(async () => {
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  const shown = el => {
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    return box.width > 0 && box.height > 0 && style.display !== 'none'
      && style.visibility !== 'hidden' && Number(style.opacity) > 0;
  };
  // Inside its table's scroll box too: a verdict scrolled off to the right is not read.
  const unclipped = el => {
    const box = el.getBoundingClientRect(), wrap = el.closest('.table-wrap');
    return !wrap || box.right <= wrap.getBoundingClientRect().right + 1;
  };
  const badge = b => ({kind: b.className, text: b.textContent, shown: shown(b) && unclipped(b),
                       background: getComputedStyle(b).backgroundColor});
  return {
    images: [...document.images].map(i => ({alt: i.alt, width: i.naturalWidth})),
    badges: [...document.querySelectorAll('td.verdict .badge')].map(badge),
    cpuSimulation: [...document.querySelectorAll('.callout')]
      .filter(c => c.textContent.includes('CPU simulation')).map(shown),
    warnings: [...document.querySelectorAll('section.warnings')].map(shown),
    brokenLinks: [...document.querySelectorAll('nav.toc a')]
      .filter(a => !document.getElementById(a.getAttribute('href').slice(1)))
      .map(a => a.textContent),
    literalMarkdown: document.body.innerText.includes('**'),
    height: document.documentElement.scrollHeight,
  };
})()
"""


class BrowserError(RuntimeError):
    pass


def find_browser() -> str | None:
    configured = os.environ.get(BROWSER_ENV)
    if configured:
        return configured
    return next((path for name in BROWSER_NAMES if (path := shutil.which(name))), None)


class Chromium:
    """Headless Chromium and one page, over the DevTools protocol on a pipe."""

    def __init__(self, executable: str, profile_dir: Path, log_path: Path) -> None:
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # bash (dash takes single-digit fds only) moves the browser's ends onto fds 3 and 4;
        # from 10 up they cannot be overwritten by that move itself.
        ours = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w)]
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        args = [
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-sync",
            "--mute-audio",
            "--hide-scrollbars",
            f"--user-data-dir={profile_dir}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        if os.geteuid() == 0:  # Chromium refuses to start as root inside its sandbox (CI runs)
            args.insert(0, "--no-sandbox")
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                shutil.which("bash") or "/bin/bash",
                "-c",
                f'exec "$0" "$@" 3<&{ours[0]} 4>&{ours[1]}',
                executable,
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            pass_fds=ours,
        )
        for fd in ours:  # the browser's copies only, so its exit reads as EOF here
            os.close(fd)
        self._write, self._read = to_browser_w, from_browser_r
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=None)
        attached = self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, None
        )
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {**VIEWPORT, "deviceScaleFactor": 1, "mobile": False},
        )

    def close(self) -> None:
        with contextlib.suppress(BrowserError):  # it may be gone already
            self.send("Browser.close", session=None)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._write, self._read):
            os.close(fd)
        self._log.close()

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise BrowserError(f"no answer from the browser in time; its log: {self.log_path}")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise BrowserError(f"the browser exited; its log: {self.log_path}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = ""
    ) -> dict[str, Any]:
        """One command and its result; events read meanwhile are kept in ``events``. ``session``
        "" means this page's session, None the browser itself."""
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        session = self.session if session == "" else session
        if session:
            command["sessionId"] = session
        data = json.dumps(command).encode() + b"\0"
        while data:
            data = data[os.write(self._write, data) :]
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            message = self._message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == self.session:
                    return self.events.pop(index)["params"]
            self.events.append(self._message(deadline))

    def open(self, path: Path) -> None:
        self.events.clear()
        navigated = self.send("Page.navigate", {"url": path.as_uri()})
        if navigated.get("errorText"):
            raise BrowserError(f"{path}: {navigated['errorText']}")
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        answer = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"the page's script failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def console_errors(self) -> list[str]:
        """Errors the page logged, threw, or the browser logged for it (a refused resource)."""
        errors = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a)) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                errors.append(json.dumps(params["exceptionDetails"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(params["entry"]["text"])
        return errors

    def screenshot(self, path: Path, *, full_page: bool) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params |= {
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": size["width"],
                    "height": size["height"],
                    "scale": 1,
                },
            }
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", params)["data"]))
        return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    executable = find_browser()
    if executable is None:
        pytest.skip(
            f"no Chromium or Chrome found (looked for {', '.join(BROWSER_NAMES)} on PATH and "
            f"${BROWSER_ENV}); .ci/run installs Debian's chromium with apt-get"
        )
    folder = tmp_path_factory.mktemp("chromium")
    chromium = Chromium(executable, folder / "profile", folder / "chromium.log")
    yield chromium
    chromium.close()


def keep_artifact(path: Path) -> None:
    """A copy in $MGBENCH_ARTIFACTS too, where CI collects what a reader should look at."""
    folder = os.environ.get("MGBENCH_ARTIFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(folder) / path.name)


def run_page(run: Path, folder: Path) -> Path:
    """The run's report as the HTML page, with the throughput plots drawn afresh embedded."""
    stored = store.read_run(run / "results.jsonl")
    records = list(stored.records)
    cells = cell_results(records)
    report = build_report(
        records,
        title=f"mgbench report: {run.name}",
        cells=cells,
        warnings=stored.warnings,
        timelines=read_timelines(run),
    )
    images = plots.throughput_plots(cells, folder)[:2]
    assert images, f"{run}: no throughput plot to embed"
    page = folder / f"report-{run.parent.name}.html"
    page.write_text(html_document(report, images, generated_by="mgbench tests"), "utf-8")
    return page


def assert_reads_well(browser: Chromium, page: Path) -> dict[str, Any]:
    browser.open(page)
    seen = browser.evaluate(PAGE_CHECKS)
    assert browser.console_errors() == []
    assert seen["images"] and all(image["width"] > 0 for image in seen["images"]), seen["images"]
    assert all(image["alt"] for image in seen["images"])
    assert seen["badges"] and all(badge["shown"] for badge in seen["badges"]), seen["badges"]
    assert seen["brokenLinks"] == []
    assert not seen["literalMarkdown"]
    return seen


def test_the_smoke_report_reads_well_in_chromium(browser: Chromium, tmp_path: Path) -> None:
    seen = assert_reads_well(browser, run_page(SMOKE_RUN, tmp_path))
    assert seen["cpuSimulation"] == [True]
    assert "badge hardware" in {badge["kind"] for badge in seen["badges"]}
    # What a reader sees first, the claim's verdicts, and the whole page to scroll through.
    keep_artifact(browser.screenshot(tmp_path / "report-smoke.png", full_page=False))
    browser.evaluate("document.querySelector('td.verdict').closest('section').scrollIntoView()")
    keep_artifact(browser.screenshot(tmp_path / "report-smoke-verdicts.png", full_page=False))
    keep_artifact(browser.screenshot(tmp_path / "report-smoke-full.png", full_page=True))


def test_the_imagenet_report_colours_each_verdict_by_what_it_says(
    browser: Chromium, tmp_path: Path
) -> None:
    seen = assert_reads_well(browser, run_page(IMAGENET_RUN, tmp_path))
    verdicts = [b for b in seen["badges"] if b["kind"].startswith("badge verdict-")]
    # Its seed's-question rows: both inconclusive (their CIs cover 0 and reach past +-2%).
    assert "badge verdict-inconclusive" in {b["kind"] for b in verdicts}
    for badge in verdicts:
        assert badge["kind"] == f"badge verdict-{verdict_kind(badge['text'])}", badge
    keep_artifact(browser.screenshot(tmp_path / "report-imagenet-full.png", full_page=True))


def test_each_verdict_kind_has_its_own_colour(browser: Chromium, tmp_path: Path) -> None:
    verdicts = [
        "supports the claim (CI inside 5-12%)",
        "contradicts: smaller than claimed (no detectable difference)",
        "inconclusive (about 9 more rounds would decide at alpha 0.05)",
    ]
    report = Report(
        "verdicts",
        [],
        [Section("Verdicts", [Column("verdict")], [[v] for v in verdicts], ["Three kinds."])],
    )
    page = tmp_path / "verdicts.html"
    page.write_text(html_document(report), "utf-8")
    browser.open(page)
    badges = browser.evaluate(PAGE_CHECKS)["badges"]
    assert [b["kind"] for b in badges] == [
        "badge verdict-supports",
        "badge verdict-contradicts",
        "badge verdict-inconclusive",
    ]
    assert all(b["shown"] for b in badges)
    backgrounds = {b["background"] for b in badges}
    assert len(backgrounds) == 3 and "rgba(0, 0, 0, 0)" not in backgrounds
    assert browser.console_errors() == []
