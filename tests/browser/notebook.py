"""One tab with chat.ipynb open in JupyterLab 4 or Notebook 7, as a user drives it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.server_process import TOKEN, ServerProcess

TIMEOUT = 90_000
MIME = "application/vnd.jupyter.resumechat+json"  # the chat's output, kernel-free view

# Cell ``i`` was run or waits to run: its prompt shows [*] or [n], or it shows a panel.
SENT = """() => { const p = document.querySelector('.rc-panel');
  return !!p && (p.querySelector('textarea').value === '' || !!p.querySelector('.rc-notice')?.textContent); }"""
STARTED = r"""(i) => { const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  if (!cell) return false;
  const prompt = cell.querySelector('.jp-InputPrompt');
  return !!cell.querySelector('.rc-panel') || /\[(\*|\d+)\]/.test(prompt ? prompt.textContent : ''); }"""


def notebook_url(
    server: ServerProcess, frontend: str, base: str | None = None, path: str = "chat.ipynb"
) -> str:
    page = f"lab/tree/{path}" if frontend == "lab" else f"notebooks/{path}"
    return f"{base or server.base}{page}?token={TOKEN}"


class Notebook:
    """One tab with chat.ipynb open."""

    def __init__(
        self, page: Any, server: Any, frontend: str, base: str | None = None, path: str = "chat.ipynb"
    ) -> None:
        """``base``: the origin the page is opened at (default: the server's own)."""
        self.page, self.server, self.frontend, self.base = page, server, frontend, base
        self.path = path

    def open(self) -> Notebook:
        self.page.goto(notebook_url(self.server, self.frontend, self.base, self.path), timeout=TIMEOUT)
        self.page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=TIMEOUT)
        return self

    def dismiss_dialogs(self) -> None:
        """A dialog JupyterLab opens takes its default: on a slow start "Select Kernel" (accept),
        after a server restart "Server Connection Error" (its one button, Close); modal, it
        would otherwise swallow the next click or key."""
        dialogs = self.page.locator(".jp-Dialog")
        for _ in range(10):
            if not dialogs.count():
                return
            dialog = dialogs.first
            accept = dialog.locator(".jp-mod-accept")
            button = accept.first if accept.count() else dialog.locator(".jp-Dialog-footer button").last
            try:
                button.click(timeout=5_000)
            except Exception:  # it closed meanwhile
                pass

    def run_cell(self) -> None:
        """Run the chat cell (Ctrl+Enter: run in place, so a retry adds no cell)."""
        self.page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=TIMEOUT)
        for _ in range(6):
            if not self.press_run(0):
                continue
            try:
                self.page.wait_for_selector(".rc-panel", timeout=15_000)
                return
            except Exception:  # the kernel may still be connecting
                continue
        self.panel().wait_for(timeout=TIMEOUT)

    def press_run(self, index: int) -> bool:
        """Ctrl+Enter in cell ``index`` until it runs or waits to ([*] or [n], or a panel).

        A key pressed while the page still settles can come to nothing (the prompt
        stays [ ]: the cell was not focused, or no kernel was connected yet); then
        it is pressed again at once rather than after a wait for a panel that is
        not coming."""
        for _ in range(12):
            self.dismiss_dialogs()
            self.page.locator(".jp-Cell .cm-content").nth(index).click()
            self.page.keyboard.press("Control+Enter")
            try:
                self.page.wait_for_function(STARTED, arg=index, timeout=5_000)
                return True
            except Exception:  # the key came to nothing: press it again
                continue
        return False

    def save(self) -> None:
        """Save, until the file on the server holds the panel's output; then the notebook is
        focused on its first cell, as a Ctrl+S in it leaves it (the shortcut tests press keys
        next and start from there)."""
        self.saved_until(lambda cells: bool(cells and cells[0].get("outputs")))
        first = self.page.locator(".jp-Notebook .jp-Cell").first
        for target, where in (
            (first, {"x": 2, "y": 2}),
            (first, {"x": 2, "y": 2}),
            (first.locator(".jp-InputPrompt"), None),
        ):
            self.dismiss_dialogs()  # one that came up meanwhile would take the click
            try:
                target.click(position=where, timeout=5_000)
                return
            except Exception:  # covered (its corner under the toolbar of a scrolled notebook): the next
                continue
        # best effort: the save, which is what most callers wait for, is done; the shortcut tests
        # check the focus they start from themselves

    def saved_until(
        self, wanted: Callable[[list[dict[str, Any]]], bool], seconds: float = 60
    ) -> list[dict[str, Any]]:
        """Save until the file's cells satisfy ``wanted``; those cells.

        The notebook toolbar's save button (both front ends have it), not Ctrl+S, which
        needs the notebook focused. It is pressed again after a few seconds (a click can be
        lost) but never while a save is in flight: two saves at once collide on the server's
        temporary file and the loser's error dialog covers the page. After ``seconds`` the
        failure says what the page showed instead of running into pytest's timeout."""
        url = f"{self.server.base}api/contents/{self.path}"
        flying: set[Any] = set()
        saving = lambda r: r.method == "PUT" and "/api/contents/" in r.url  # noqa: E731
        started = lambda r: flying.add(r) if saving(r) else None  # noqa: E731
        ended = lambda r: flying.discard(r)  # noqa: E731
        self.page.on("request", started)
        self.page.on("requestfinished", ended)
        self.page.on("requestfailed", ended)
        deadline = time.monotonic() + seconds
        pressed, answer, cells = 0.0, None, []
        try:
            with httpx.Client(headers=self.server.headers, timeout=10) as client:
                while time.monotonic() < deadline:
                    self.dismiss_dialogs()  # a failed save says so in a dialog: accept it, save again
                    if not flying and time.monotonic() - pressed > 5:
                        pressed = time.monotonic()
                        self.press_save()
                    answer = client.get(url)  # mid-save it may be another answer: poll on
                    model = answer.json() if answer.status_code == 200 else {}
                    cells = (model.get("content") or {}).get("cells") or []
                    if cells and wanted(cells):
                        return list(cells)
                    self.page.wait_for_timeout(100)  # polling the condition, not a fixed wait
        finally:
            self.page.remove_listener("request", started)
            self.page.remove_listener("requestfinished", ended)
            self.page.remove_listener("requestfailed", ended)
        dialogs = self.page.locator(".jp-Dialog").all_inner_texts()
        raise AssertionError(
            f"the saved notebook never matched in {seconds:g} s: last answer "
            f"{answer.status_code if answer else None}, cells {cells}, dialogs {dialogs}, "
            f"panels on the page {self.page.locator('.rc-panel').count()}"
        )

    def press_save(self) -> None:
        """The notebook toolbar's save button; Ctrl+S when something covers it."""
        try:
            self.page.locator('.jp-NotebookPanel-toolbar [data-command="docmanager:save"]').first.click(
                timeout=5_000
            )
        except Exception:  # covered (a dialog came up meanwhile): the keys, and the caller tries again
            self.page.keyboard.press("Control+s")

    def panel(self):
        return self.page.locator(".rc-panel").first

    def send(self, text: str) -> None:
        """Type ``text`` and press Enter until the view took it (the box empties) or said why
        not (a notice): on a loaded machine a view still loading, or a lost key, comes to
        nothing. Pressing again is safe: the same draft goes with the same client_id."""
        box = self.panel().locator("textarea")
        box.fill(text)
        for _ in range(TIMEOUT // 5_000):
            box.press("Enter")
            try:
                self.page.wait_for_function(SENT, timeout=5_000)
                return
            except Exception:  # neither: press it again
                continue
        raise AssertionError(f"the panel never took the message {text!r}")

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

    def box(self) -> Any:
        return self.panel().locator("textarea")

    def notice(self) -> str:
        return self.panel().locator(".rc-notice").inner_text()

    def wait_notice(self, pattern: str) -> None:
        self.page.wait_for_function(
            """(p) => { const n = document.querySelector('.rc-panel .rc-notice');
                 return n && new RegExp(p, 'i').test(n.textContent); }""",
            arg=pattern,
            timeout=TIMEOUT,
        )

    def wait_idle(self) -> None:
        """Nothing streams or sends: the Send button is enabled again."""
        self.panel().locator(".rc-send:not([disabled])").wait_for(timeout=TIMEOUT)

    def wait_reply_count(self, n: int) -> None:
        """``n`` replies are shown and none streams."""
        self.page.wait_for_function(
            """(n) => document.querySelectorAll('.rc-panel .rc-assistant').length === n
                 && !document.querySelector('.rc-panel .rc-status-streaming')""",
            arg=n,
            timeout=TIMEOUT,
        )

    def api_messages(self) -> list[dict[str, Any]]:
        """The newest conversation's messages, as the server holds them."""
        with httpx.Client(headers=self.server.headers, timeout=30) as client:
            newest = client.get(self.server.url("conversations")).json()["conversations"][0]
            return list(
                client.get(self.server.url(f"conversations/{newest['id']}/messages")).json()["messages"]
            )

    def wait_api(self, predicate: Callable[[list[dict[str, Any]]], bool]) -> None:
        """Until the server's messages satisfy ``predicate`` (polled, not slept); none yet (a
        send the server has not taken) never does, so a predicate may read the newest."""
        for _ in range(TIMEOUT // 100):
            messages = self.api_messages()
            if messages and predicate(messages):
                return
            self.page.wait_for_timeout(100)
        raise AssertionError("the server's messages never reached the expected state")

    def count(self, selector: str) -> int:
        return int(self.panel().locator(selector).count())

    def prompts(self) -> list[str]:
        """The cells' execution prompts ("[1]:"), which a run would change."""
        return [p.inner_text() for p in self.page.locator(".jp-Notebook .jp-InputPrompt").all()]

    def status_text(self) -> str:
        return self.panel().locator(".rc-status").inner_text()


def long(n: int, piece: str = "word ") -> tuple[str, str]:
    return f"/pace 0.02 /repeat {n} {piece}", (piece * n).strip()
