"""Drives the live view in a real headless Chromium and measures how soon it shows a hop.

Debian's chromium, driven by Playwright with executable_path (nothing is downloaded). The
page records every port change it shows in window.mtdlab.portChanges with Date.now(); the
truth log's hop.proxy_switched has the controller's time.time(). Both read the host's clock,
so shown - wall is the time from the truth-log write to the page update. Used by the
integration test (tests/integration/test_live_view.py) and by bench/live_view.py.
"""
from __future__ import annotations

import shutil

from mtdlab.contract.stats import percentile

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    raise RuntimeError("no chromium on PATH: apt-get install chromium (.ci/run does)")


class LivePage:
    def __init__(self, url: str, width: int = 1400, height: int = 1000):
        from playwright.sync_api import sync_playwright
        self._pw = sync_playwright().start()
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        self.browser = self._pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        self.page = self.browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        # Functions, not strings: the page's CSP forbids eval, which string predicates need.
        self.page.wait_for_function("() => window.mtdlab && window.mtdlab.views > 0", timeout=30_000)

    def port_changes(self) -> list[dict]:
        return self.page.evaluate("() => window.mtdlab.portChanges")

    def shown_port(self, service: str) -> str:
        return self.page.locator(f'#map td.port[data-service="{service}"]').inner_text()

    def wait_port(self, service: str, port: int, timeout_s: float) -> None:
        self.page.wait_for_function(
            "([s, p]) => { const td = document.querySelector(`#map td.port[data-service=\"${s}\"]`);"
            " return td && td.textContent === String(p); }", arg=[service, port], timeout=timeout_s * 1000)

    def marks(self) -> list[dict]:
        return self.page.evaluate("""() => [...document.querySelectorAll('#timelines circle.mark')].map(c => ({
            service: c.closest('.timeline-row').dataset.service, port: c.dataset.port, kind: c.classList[1]}))""")

    def screenshot(self, path) -> None:
        self.page.screenshot(path=str(path), full_page=True)

    def close(self) -> None:
        self.browser.close()
        self._pw.stop()


def update_latencies(switches: list[dict], changes: list[dict]) -> list[float]:
    """For each hop.proxy_switched the page showed: seconds from its truth-log write to the page."""
    shown = {(c["service"], c["port"], c["hop"]): c["shown"] for c in changes}
    return [shown[k] - e["wall"] for e in switches if (k := (e["service"], e["port"], e["hop"])) in shown]


def latency_summary(latencies: list[float]) -> dict:
    return {"hops": len(latencies), "p50_s": _r(percentile(latencies, 50)), "p95_s": _r(percentile(latencies, 95)),
            "max_s": _r(max(latencies) if latencies else None)}


def _r(x):
    return None if x is None else round(x, 3)
