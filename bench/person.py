"""B12, what a person waits for (issue 22 item 4): in JupyterLab, in Chromium.

Two figures, each beside a baseline measured in the same page in the same run:

* **Send to first token**: from the Enter key in a chat's box to the first
  piece of the reply painted (the frame after it is in the DOM), the demo
  model with no delay, so what is measured is our own overhead: the view,
  the send, the page's one event-stream connection, the rendering.  Baseline:
  the same ``POST messages`` and ``GET streams/{sid}/events`` made with a
  plain ``fetch`` from the same page, to the first ``delta``.
* **Ten saved chats shown**: a notebook whose ten cells each hold a saved chat
  (the kernel-free view's output), opened; from the first chat view on the
  page to all ten showing their messages.  Baseline: the ten conversations'
  ``GET messages`` fetched at once from the same page.  JupyterLab's own time
  to show the notebook (navigation to its cells) is given beside it.
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import ARGS, CHROMIUM, start_frontend
from tests.browser.notebook import MIME, TIMEOUT, notebook_url
from tests.support.server_process import TOKEN, ServerProcess

from .common import row

__all__ = ["person"]

CHATS = 10
PROMPT = "hello"

# Armed before the Enter: its time, and the frame that paints the new reply's first text.
ARM = """() => {
  const panel = document.querySelector('.rc-panel');
  const before = panel.querySelectorAll('.rc-assistant').length;
  const box = panel.querySelector('textarea');
  const mark = window.__rc = {sent: 0, painted: 0};
  box.addEventListener('keydown', (e) => { if (e.key === 'Enter') mark.sent = performance.now(); },
                       {capture: true, once: true});
  const shown = () => {
    const replies = panel.querySelectorAll('.rc-assistant');
    const body = replies.length > before ? replies[replies.length - 1].querySelector('.rc-body') : null;
    // its text, not the blinking cursor a live reply ends with
    return !!body && body.textContent.replace('\u258d', '').trim().length > 0;
  };
  const watch = new MutationObserver(() => {
    if (!shown()) return;
    watch.disconnect();
    requestAnimationFrame(() => { mark.painted = performance.now(); });
  });
  watch.observe(panel, {subtree: true, childList: true, characterData: true});
}"""

# The baseline: the same two requests with a plain fetch, to the first delta (then to the final,
# so the next send finds the conversation free).
FETCH_FIRST = """async ({api, token, cid, prompt}) => {
  const headers = {Authorization: 'token ' + token, 'Content-Type': 'application/json'};
  const began = performance.now();
  const sent = await (await fetch(api + `conversations/${cid}/messages`,
                                  {method: 'POST', headers, body: JSON.stringify({content: prompt})})).json();
  const answer = await fetch(api + `streams/${sent.stream_id}/events?last_event_id=0`, {headers});
  const reader = answer.body.getReader();
  const text = new TextDecoder();
  let seen = '', first = 0;
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    seen += text.decode(value, {stream: true});
    if (!first && seen.includes('event: delta')) first = performance.now();
    if (seen.includes('event: final')) break;
  }
  await reader.cancel();
  return first - began;
}"""

# Every saved chat on the page shows its messages: when, and when the first view appeared.
ALL_SHOWN = """(n) => {
  const panels = [...document.querySelectorAll('.rc-panel')];
  const full = panels.filter((p) => p.querySelectorAll('.rc-assistant .rc-body').length >= 2
    && [...p.querySelectorAll('.rc-assistant .rc-body')].every((b) => b.textContent.trim()));
  if (full.length < n) return false;
  return performance.now();
}"""
FIRST_VIEW = """new MutationObserver((_, watch) => {
  if (!window.__rcFirstView && document.querySelector('.rc-panel')) {
    window.__rcFirstView = performance.now(); watch.disconnect(); }
}).observe(document, {subtree: true, childList: true});"""
CELLS_SHOWN = """new MutationObserver((_, watch) => {
  if (!window.__rcCells && document.querySelector('.jp-Notebook .jp-Cell')) {
    window.__rcCells = performance.now(); watch.disconnect(); }
}).observe(document, {subtree: true, childList: true});"""
FETCH_ALL = """async ({api, token, ids}) => {
  const headers = {Authorization: 'token ' + token};
  const began = performance.now();
  await Promise.all(ids.map(async (id) => (await fetch(api + `conversations/${id}/messages`, {headers})).json()));
  return performance.now() - began;
}"""


def _chat_output(conversation_id: str) -> dict[str, Any]:
    """A saved chat, as a ChatPanel's output leaves it in the file."""
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {MIME: {"conversation_id": conversation_id, "title": "Chat"}, "text/plain": "Chat"},
    }


def _notebook(conversations: list[str]) -> dict[str, Any]:
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"chat{i}",
            "metadata": {"trusted": True},  # the server signs it on save, as a save from JupyterLab
            "outputs": [_chat_output(cid)],
            "source": "ChatPanel()",
        }
        for i, cid in enumerate(conversations)
    ]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _save(server: ServerProcess, path: str, notebook: dict[str, Any]) -> None:
    """Saved through the server, which signs it: a trusted notebook shows its chats."""
    with httpx.Client(headers=server.headers, timeout=60) as client:
        model = {"type": "notebook", "format": "json", "content": notebook}
        client.put(server.base + f"api/contents/{path}", json=model).raise_for_status()


def _conversations(server: ServerProcess, count: int, exchanges: int) -> list[str]:
    """``count`` conversations of ``exchanges`` finished replies each."""
    ids = []
    with httpx.Client(headers=server.headers, timeout=60) as client:
        for _ in range(count):
            cid = client.post(server.url("conversations"), json={}).json()["id"]
            for turn in range(exchanges):
                sent = client.post(
                    server.url(f"conversations/{cid}/messages"), json={"content": f"/repeat 20 {turn} "}
                )
                sid = sent.json()["stream_id"]
                with client.stream("GET", server.url(f"streams/{sid}/events?last_event_id=0")) as events:
                    for line in events.iter_lines():
                        if line.startswith("event: final"):
                            break
            ids.append(cid)
    return ids


def _send_to_first_token(page: Any, server: ServerProcess, rounds: int) -> tuple[list[float], list[float]]:
    """ms from Enter to the first token painted, and the plain fetch's to the first delta, alternating."""
    ours, plain = [], []
    bare_cid = _conversations(server, 1, 0)[0]
    box = page.locator(".rc-panel textarea").first
    for _ in range(rounds):
        page.locator(".rc-panel .rc-send:not([disabled])").first.wait_for(timeout=TIMEOUT)
        box.fill(PROMPT)
        page.evaluate(ARM)
        box.press("Enter")
        page.wait_for_function("() => window.__rc.painted > 0", timeout=TIMEOUT)
        ours.append(page.evaluate("() => window.__rc.painted - window.__rc.sent"))
        page.locator(".rc-panel .rc-send:not([disabled])").first.wait_for(timeout=TIMEOUT)
        args = {"api": server.url(""), "token": TOKEN, "cid": bare_cid, "prompt": PROMPT}
        plain.append(page.evaluate(FETCH_FIRST, args))
    return ours, plain


def _ten_chats(context: Any, server: ServerProcess, path: str, ids: list[str]) -> tuple[float, float, float]:
    """One opening of the ten-chat notebook in a new tab: (ms from the first chat view to all ten
    shown, ms from navigation to the notebook's cells, ms of the ten plain fetches)."""
    page = context.new_page()
    try:
        page.add_init_script(FIRST_VIEW)
        page.add_init_script(CELLS_SHOWN)
        # a workspace of its own (reset): JupyterLab would otherwise reopen the chat of the sends too
        page.goto(notebook_url(server, "lab", path=path) + "&reset", timeout=TIMEOUT)
        done = page.wait_for_function(ALL_SHOWN, arg=len(ids), timeout=TIMEOUT).json_value()
        first, cells = page.evaluate("() => [window.__rcFirstView, window.__rcCells]")
    finally:
        page.close()
    # the baseline from a quiet page of the same origin (the notebook's page is still busy
    # connecting its kernel, which is not what the fetch is to measure)
    quiet = context.new_page()
    try:
        blank = server.base + "bench-blank"  # answered here: a blank page of the server's origin
        quiet.route(blank, lambda route: route.fulfill(body="<!doctype html>", content_type="text/html"))
        quiet.goto(blank, timeout=TIMEOUT)
        fetched = quiet.evaluate(FETCH_ALL, {"api": server.url(""), "token": TOKEN, "ids": ids})
    finally:
        quiet.close()
    return done - first, cells, fetched


def person(tmp: Path, quick: bool) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        return {"rows": [], "skipped": "Debian's chromium is not installed"}
    from playwright.sync_api import sync_playwright

    rounds, openings = (3, 2) if quick else (20, 7)
    root = tmp / "b12"
    if root.exists():
        shutil.rmtree(root)
    server = start_frontend(root, "lab", demo_delay=0)
    try:
        _save(server, "one.ipynb", _notebook(_conversations(server, 1, 0)))
        ids = _conversations(server, CHATS, 2)
        _save(server, "ten.ipynb", _notebook(ids))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(notebook_url(server, "lab", path="one.ipynb"), timeout=TIMEOUT)
            page.locator(".rc-panel textarea").first.wait_for(timeout=TIMEOUT)
            _send_to_first_token(page, server, 1)  # warm: the first send compiles and connects
            ours, plain = _send_to_first_token(page, server, rounds)
            page.close()
            _ten_chats(context, server, "ten.ipynb", ids)  # warm: caches, as a person's second opening
            opened = [_ten_chats(context, server, "ten.ipynb", ids) for _ in range(openings)]
            browser.close()
    finally:
        server.stop()
    shown, cells, fetched = ([o[i] for o in opened] for i in range(3))
    return {
        "rows": [
            row("Send to first token on screen, chat view (demo model, no delay)", ours, "ms"),
            row("Send to first delta, plain fetch of the same endpoints", plain, "ms"),
            row("chat view / plain fetch, send to first token", [_ratio(ours, plain)], "×"),
            row(f"{CHATS} saved chats: first view to all shown", shown, "ms"),
            row(f"{CHATS} conversations' messages, plain fetch at once", fetched, "ms"),
            row(f"chat views / plain fetch, {CHATS} saved chats", [_ratio(shown, fetched)], "×"),
            row("JupyterLab: navigation to the notebook's cells (for scale)", cells, "ms"),
        ]
    }


def _ratio(ours: list[float], base: list[float]) -> float:
    return statistics.median(ours) / max(statistics.median(base), 1e-9)
