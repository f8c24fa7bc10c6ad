"""A page full of chats holds one event-stream connection (issue 14, DESIGN §4.7).

HTTP/1.1 allows six connections per origin across all tabs, and JupyterLab
needs them too: with a connection per streaming panel, eight panels in one
tab and four in another would leave a save queued until replies end.  Here
all twelve stream at once; each page holds one connection, every reply is
exactly the server's, and a save goes through at once.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx

from tests.browser.conftest import NOTEBOOK
from tests.browser.notebook import TIMEOUT, Notebook

PACE, REPEAT = 0.04, 300  # twelve seconds a reply: with a connection each, a save would wait for them
SINGLE_STREAM = re.compile(r"/resumechat/api/streams/[^/?]+/events")
MULTIPLEXED = re.compile(r"/resumechat/api/streams/events\?")


def write_notebook(server: Any, path: str, names: list[str]) -> None:
    """A notebook of one ChatPanel cell per name, each its own conversation."""
    cells = [
        {
            **NOTEBOOK["cells"][0],
            "id": name,
            "source": f"from jupyter_resumechat import ChatPanel\nChatPanel({name!r})",
        }
        for name in names
    ]
    (server.root / path).write_text(json.dumps({**NOTEBOOK, "cells": cells}))


class Connections:
    """The page's event-stream requests, and how many were open at once.

    A reconnect aborts the old request before it starts the new one, but the
    browser may report the abort a moment after the new request: two requests
    count as open together only when both stay open ``OVERLAP`` seconds.
    """

    OVERLAP = 0.05

    def __init__(self, page: Any) -> None:
        self.spans: dict[Any, list[float]] = {}  # request → [start, end]
        self.single: list[str] = []
        page.on("request", self.started)
        page.on("requestfinished", self.ended)
        page.on("requestfailed", self.ended)

    def started(self, request: Any) -> None:
        if SINGLE_STREAM.search(request.url):
            self.single.append(request.url)
        if MULTIPLEXED.search(request.url):
            self.spans[request] = [time.monotonic(), float("inf")]

    def ended(self, request: Any) -> None:
        if request in self.spans:
            self.spans[request][1] = time.monotonic()

    @property
    def multiplexed(self) -> int:
        return len(self.spans)

    @property
    def most(self) -> int:
        """The most requests open together (each counted from its start for OVERLAP s)."""
        spans = list(self.spans.values())
        return max(
            (sum(1 for s, e in spans if s <= start and e > start + self.OVERLAP) for start, _ in spans),
            default=0,
        )


def open_panels(tab: Notebook, count: int) -> None:
    """Run every cell, each until its panel shows."""
    tab.page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=TIMEOUT)
    for index in range(count):
        for _ in range(6):
            tab.dismiss_dialogs()
            tab.page.locator(".jp-Cell .cm-content").nth(index).click()
            tab.page.keyboard.press("Control+Enter")
            try:
                tab.page.locator(".jp-Cell").nth(index).locator(".rc-panel").wait_for(timeout=15_000)
                break
            except Exception:  # the kernel may still be connecting
                continue
    tab.page.wait_for_function(
        "(n) => document.querySelectorAll('.rc-panel').length === n", arg=count, timeout=TIMEOUT
    )


def send_all(tab: Notebook, prompts: list[str]) -> None:
    for index, prompt in enumerate(prompts):
        box = tab.page.locator(".jp-Cell").nth(index).locator(".rc-panel textarea")
        box.fill(prompt)
        box.press("Enter")


def wait_done(tab: Notebook, count: int) -> None:
    tab.page.wait_for_function(
        """(n) => document.querySelectorAll('.rc-panel .rc-assistant').length === n
             && !document.querySelector('.rc-panel .rc-status-streaming')""",
        arg=count,
        timeout=TIMEOUT * 2,
    )


def replies_on_screen(tab: Notebook, count: int) -> list[str]:
    """Each panel's reply as drawn (scrolled to: the notebook may not lay out cells off screen)."""
    shown = []
    for index in range(count):
        body = tab.page.locator(".jp-Cell").nth(index).locator(".rc-panel .rc-assistant .rc-body")
        body.scroll_into_view_if_needed()
        shown.append(body.inner_text())
    return shown


def replies_on_server(server: Any, prompts: list[str]) -> list[dict[str, Any]]:
    """Each prompt's reply as the server committed it."""
    found: dict[str, dict[str, Any]] = {}
    with httpx.Client(headers=server.headers, timeout=30) as http:
        for conversation in http.get(server.url("conversations")).json()["conversations"]:
            messages = http.get(server.url(f"conversations/{conversation['id']}/messages")).json()["messages"]
            if len(messages) == 2:
                found[messages[0]["content"]] = messages[1]
    return [found[prompt] for prompt in prompts]


def save_seconds(tab: Notebook) -> float:
    """Seconds from Ctrl+S to the contents API's answer to the save."""
    tab.page.locator(".jp-Notebook .jp-Cell").first.click(position={"x": 2, "y": 2})
    started = time.monotonic()
    with tab.page.expect_response(
        lambda r: r.request.method == "PUT" and "/api/contents/" in r.url, timeout=TIMEOUT
    ) as answer:
        tab.page.keyboard.press("Control+s")
    assert answer.value.ok, answer.value.status
    answer.value.finished()
    return time.monotonic() - started


def test_twelve_panels_in_two_tabs_stream_over_one_connection_per_tab(browser, server, frontend):
    first, second = [f"mux{i}" for i in range(8)], [f"other{i}" for i in range(4)]
    write_notebook(server, "many.ipynb", first)
    write_notebook(server, "more.ipynb", second)
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        one = Notebook(context.new_page(), server, frontend, path="many.ipynb").open()
        two = Notebook(context.new_page(), server, frontend, path="more.ipynb").open()
        seen = [Connections(one.page), Connections(two.page)]
        open_panels(one, 8)
        open_panels(two, 4)
        prompts = [[f"/pace {PACE} /repeat {REPEAT} {name} " for name in names] for names in (first, second)]
        send_all(one, prompts[0])
        send_all(two, prompts[1])
        one.page.wait_for_function(
            "() => document.querySelectorAll('.rc-panel .rc-status-streaming').length === 8", timeout=TIMEOUT
        )
        two.page.wait_for_function(
            "() => document.querySelectorAll('.rc-panel .rc-status-streaming').length === 4", timeout=TIMEOUT
        )

        seconds = save_seconds(one)  # twelve replies stream meanwhile
        assert seconds < 2, f"the save took {seconds:.1f} s"
        assert one.page.locator(".rc-panel .rc-status-streaming").count() > 0, (
            "the save came after the replies"
        )

        wait_done(one, 8)
        wait_done(two, 4)
        for tab, names, sent in ((one, first, prompts[0]), (two, second, prompts[1])):
            committed = replies_on_server(server, sent)
            assert [m["status"] for m in committed] == ["complete"] * len(names)
            assert [m["content"] for m in committed] == [f"{name} " * REPEAT for name in names]
            assert replies_on_screen(tab, len(names)) == [m["content"].strip() for m in committed]
        for page_seen in seen:
            assert page_seen.single == [], "a panel opened a stream of its own"
            assert page_seen.multiplexed >= 1 and page_seen.most == 1, (page_seen.multiplexed, page_seen.most)
    finally:
        context.close()
