"""Screenshots of the panel for the docs: light and dark, streaming and finished,
and a reasoning reply followed by a failed one (with its Retry).

python docs/make_screenshots.py     # writes docs/panel-{light,dark}-{streaming,finished,reasoning}.png
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright

from tests.browser.conftest import ARGS, CHROMIUM, start_frontend
from tests.browser.notebook import Notebook

DOCS = Path(__file__).resolve().parent
PROMPT = "Show me how ChatPanel resumes a stream"
THINK = (
    "/think The user asks which backend to pick. One server: memory is enough. Several: Redis.\n"
    "/pace 0.05 /repeat 1 For **one server**, keep the defaults (memory + SQLite). For several, set "
    "`stream_backend` to a `redis://` URL and `db_url` to PostgreSQL."
)
THOUGHT_REPLY = (
    "For one server, keep the defaults (memory + SQLite). For several, set stream_backend to a "
    "redis:// URL and db_url to PostgreSQL."
)


def shoot(dark: bool) -> None:
    root = Path(tempfile.mkdtemp(prefix="resumechat-shots-"))
    server = start_frontend(root, "lab", dark=dark, demo_delay=0.08)
    name = "dark" if dark else "light"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1000, "height": 820}, device_scale_factor=1)
            notebook = Notebook(page, server, "lab").open()
            notebook.run_cell()
            notebook.send(PROMPT)
            notebook.wait_streaming(120)
            notebook.panel().screenshot(path=str(DOCS / f"panel-{name}-streaming.png"))
            page.wait_for_function(
                "() => !document.querySelector('.rc-panel .rc-status-streaming')", timeout=120_000
            )
            notebook.panel().screenshot(path=str(DOCS / f"panel-{name}-finished.png"))
            notebook.panel().get_by_role("button", name="New conversation").click()
            page.wait_for_function(
                "() => !document.querySelector('.rc-panel .rc-assistant')", timeout=120_000
            )
            notebook.send(THINK)
            notebook.wait_reply(THOUGHT_REPLY)
            notebook.send("/fail 14 Explain the error")
            notebook.panel().locator(".rc-assistant.rc-status-error").wait_for(timeout=120_000)
            notebook.wait_idle()
            notebook.panel().screenshot(path=str(DOCS / f"panel-{name}-reasoning.png"))
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    for dark in (False, True):
        shoot(dark)
