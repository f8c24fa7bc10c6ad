"""The ChatPanel in a real browser, on JupyterLab 4 and Notebook 7 (DESIGN §4)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import notebook_url, start_frontend

DOCS = Path(__file__).resolve().parents[2] / "docs"
TIMEOUT = 90_000
ERRORS = re.compile(r"error|expired|not found|failed", re.I)


@pytest.fixture(params=["lab", "notebook"])
def frontend(request) -> str:
    return request.param


@pytest.fixture
def server(tmp_path, frontend):
    process = start_frontend(tmp_path, frontend)
    yield process
    process.stop()


class Notebook:
    """One tab with chat.ipynb open."""

    def __init__(self, page: Any, server: Any, frontend: str) -> None:
        self.page, self.server, self.frontend = page, server, frontend

    def open(self) -> Notebook:
        self.page.goto(notebook_url(self.server, self.frontend), timeout=TIMEOUT)
        self.page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=TIMEOUT)
        return self

    def dismiss_dialogs(self) -> None:
        """A dialog JupyterLab opens on a slow start ("Select Kernel") takes the
        default; on a loaded machine it would otherwise swallow the next click."""
        dialog = self.page.locator(".jp-Dialog .jp-mod-accept")
        while dialog.count():
            dialog.first.click()

    def run_cell(self) -> None:
        """Run the chat cell (Ctrl+Enter: run in place, so a retry adds no cell)."""
        self.page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=TIMEOUT)
        for _ in range(6):
            self.dismiss_dialogs()
            self.page.locator(".jp-Cell .cm-content").first.click()
            self.page.keyboard.press("Control+Enter")
            try:
                self.page.wait_for_selector(".rc-panel", timeout=15_000)
                return
            except Exception:  # the kernel may still be connecting
                continue
        self.panel().wait_for(timeout=TIMEOUT)

    def save(self) -> None:
        """Save, and wait until the file on the server holds the panel's output
        (Ctrl+S again every few seconds: on a loaded machine a key can be lost)."""
        url = f"{self.server.base}api/contents/chat.ipynb"
        with httpx.Client(headers=self.server.headers, timeout=10) as client:
            for attempt in range(TIMEOUT // 100):
                if attempt % 50 == 0:
                    self.dismiss_dialogs()
                    self.page.locator(".jp-Notebook .jp-Cell").first.click(position={"x": 2, "y": 2})
                    self.page.keyboard.press("Control+s")
                answer = client.get(url)  # mid-save it may be another answer: poll on
                model = answer.json() if answer.status_code == 200 else {}
                cells = (model.get("content") or {}).get("cells") or []
                if cells and cells[0].get("outputs"):
                    return
                self.page.wait_for_timeout(100)  # polling the condition, not a fixed wait
        raise AssertionError("the notebook was not saved with the panel's output")

    def panel(self):
        return self.page.locator(".rc-panel").first

    def send(self, text: str) -> None:
        box = self.panel().locator("textarea")
        box.fill(text)
        box.press("Enter")

    def reply_text(self) -> str:
        return self.panel().locator(".rc-assistant .rc-body").last.inner_text()

    def wait_reply(self, expected: str) -> None:
        self.page.wait_for_function(
            """(expected) => { const b = [...document.querySelectorAll('.rc-panel .rc-assistant')].pop();
                 return b && !b.classList.contains('rc-status-streaming')
                   && b.querySelector('.rc-body').innerText.trim() === expected; }""",
            arg=expected,
            timeout=TIMEOUT,
        )

    def wait_streaming(self, at_least: int) -> None:
        self.page.wait_for_function(
            """(n) => { const b = document.querySelector('.rc-panel .rc-status-streaming .rc-body');
                 return b && b.innerText.length >= n; }""",
            arg=at_least,
            timeout=TIMEOUT,
        )

    def status_text(self) -> str:
        return self.panel().locator(".rc-status").inner_text()


@pytest.fixture
def tab(browser, server, frontend):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    notebook = Notebook(page, server, frontend).open()
    notebook.run_cell()
    notebook.save()
    yield notebook
    context.close()


def long(n: int, piece: str = "word ") -> tuple[str, str]:
    return f"/pace 0.02 /repeat {n} {piece}", (piece * n).strip()


def test_finished_reply_survives_a_reload_with_no_error(tab):
    tab.send("/pace 0.01 /repeat 30 hello ")
    tab.wait_reply(("hello " * 30).strip())
    tab.page.reload()
    tab.panel().wait_for(timeout=TIMEOUT)
    tab.wait_reply(("hello " * 30).strip())
    assert not ERRORS.search(tab.panel().inner_text())


def test_reload_mid_stream_continues_to_the_full_text(tab):
    prompt, expected = long(250)
    tab.send(prompt)
    tab.wait_streaming(50)
    tab.page.reload()
    tab.panel().wait_for(timeout=TIMEOUT)
    tab.wait_reply(expected)
    assert not ERRORS.search(tab.status_text())


def test_send_after_an_inactive_check_attaches_at_once(tab):
    """The first render found no active stream; sending must still attach, and a reload right after too."""
    prompt, expected = long(120)
    tab.send(prompt)
    tab.page.reload()
    tab.panel().wait_for(timeout=TIMEOUT)
    tab.wait_reply(expected)


def test_kernel_restart_mid_stream_then_rerun(tab, server):
    prompt, expected = long(300)
    tab.send(prompt)
    tab.wait_streaming(40)
    with httpx.Client(headers=server.headers) as client:
        kernel = client.get(server.base + "api/kernels").json()[0]["id"]
        assert client.post(server.base + f"api/kernels/{kernel}/restart").status_code == 200
    tab.run_cell()  # the same notebook path: the same conversation
    tab.wait_reply(expected)


def test_two_tabs_end_with_the_same_text(tab, server, frontend):
    other = Notebook(tab.page.context.new_page(), server, frontend).open()
    other.panel().wait_for(timeout=TIMEOUT)
    prompt, expected = long(150, "ça ")
    tab.send(prompt)
    tab.wait_reply(expected)
    other.wait_reply(expected)
    assert tab.reply_text() == other.reply_text()


def test_model_output_never_executes(tab):
    payload = (
        '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> '
        '[click me](javascript:window.__pwned=3) <a href="javascript:window.__pwned=4">raw</a>'
    )
    tab.send(f"/repeat 1 {payload}")
    tab.page.wait_for_function(
        "() => [...document.querySelectorAll('.rc-panel .rc-assistant')].some(b => !b.classList.contains('rc-status-streaming'))",
        timeout=TIMEOUT,
    )
    body = tab.panel().locator(".rc-assistant .rc-body").last
    assert body.locator("img, script").count() == 0
    for link in body.locator("a").all():
        assert not (link.get_attribute("href") or "").lower().startswith("javascript")
        link.click(modifiers=["Control"]) if link.get_attribute("href") else None
    if body.locator("a").count() == 0:
        body.get_by_text("click me").click()
    tab.page.wait_for_timeout(300)
    assert tab.page.evaluate("window.__pwned") is None
    assert "<script>" in body.inner_text()  # shown as text, not run


def test_stop_keeps_the_partial_reply_after_a_reload(tab):
    prompt, _ = long(1000)
    tab.send(prompt)
    tab.wait_streaming(100)
    tab.panel().get_by_role("button", name="Stop").click()
    tab.page.wait_for_function(
        "() => document.querySelector('.rc-panel .rc-assistant.rc-status-aborted')", timeout=TIMEOUT
    )
    kept = tab.reply_text()
    assert len(kept) >= 100 and kept.startswith("word word")
    tab.page.reload()
    tab.panel().wait_for(timeout=TIMEOUT)
    tab.page.wait_for_function(
        "() => document.querySelector('.rc-panel .rc-assistant.rc-status-aborted')", timeout=TIMEOUT
    )
    assert tab.reply_text() == kept
