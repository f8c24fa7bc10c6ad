"""The chat knows the notebook (docs/protocol.md#context Context, #show-trust), on JupyterLab 4 and
Notebook 7: ``@`` attaches a variable (rendered by the kernel), a cell and its
error; what was attached is stored and shown on the message; a busy kernel is
said, not waited for; a reply's code goes into a new cell below, unrun; the
context meter follows the conversation."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from tests.browser.conftest import NOTEBOOK, start_frontend
from tests.browser.notebook import TIMEOUT, Notebook
from tests.support.kernel import execute

CELLS = [
    "import pandas as pd\nsales = pd.DataFrame({'region': ['north', 'south', 'east'], 'revenue': [120.5, 98.0, 143.25]})",
    "sales['profit']",
]


def code_cell(source: str, index: int) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": f"c{index}",
        "metadata": {},
        "outputs": [],
        "source": source,
    }


@pytest.fixture
def notebook_content() -> dict:
    """The chat cell, then a cell that makes ``sales`` and one that fails on it."""
    return {**NOTEBOOK, "cells": NOTEBOOK["cells"] + [code_cell(s, i) for i, s in enumerate(CELLS)]}


def run(tab: Notebook, index: int, wait: bool = True) -> None:
    """Run one cell in place (Ctrl+Enter) and, unless told, wait for its prompt number."""
    cell = tab.page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".cm-content").click()
    tab.page.keyboard.press("Control+Enter")
    if wait:
        tab.page.wait_for_function(
            """(i) => { const p = document.querySelectorAll('.jp-Notebook .jp-Cell')[i].querySelector('.jp-InputPrompt');
                 return p && /\\[\\d+\\]/.test(p.textContent); }""",
            arg=index,
            timeout=TIMEOUT,
        )


def mention(tab: Notebook, query: str, label: str) -> None:
    """Type ``@query`` and choose the entry whose label is ``label``."""
    box = tab.box()
    box.press("End")
    box.type(f" @{query}")
    entry = tab.panel().locator(".rc-mentions li", has_text=label).first
    entry.wait_for(timeout=TIMEOUT)
    entry.click()
    tab.panel().locator(".rc-chip", has_text=label).wait_for(timeout=TIMEOUT)


@pytest.fixture
def tab(browser, server, frontend, chat_path):
    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    try:
        notebook = Notebook(context.new_page(), server, frontend, path=chat_path).open()
        notebook.run_cell()
        run(notebook, 1)
        run(notebook, 2)
        yield notebook
    finally:
        context.close()


def test_at_attaches_a_variable_a_cell_and_an_error_and_the_meter_follows(tab):
    meter = tab.panel().locator(".rc-meter")
    meter.wait_for(timeout=TIMEOUT)
    before = meter.inner_text()
    assert before.startswith("Context ~0 / 16k tokens"), before
    tab.box().click()
    mention(tab, "sal", "sales")
    mention(tab, "import", "In [2]")
    mention(tab, "KeyError", "error in In [3]")
    box = tab.box()
    box.type(" Which region earns most?")
    assert "@" not in box.input_value()  # the mentions became chips
    box.press("Enter")
    tab.wait_reply_count(1)
    assert tab.count(".rc-chip") == 0  # cleared once accepted
    user = tab.panel().locator(".rc-user").last
    assert user.locator(".rc-context summary").inner_text() == "Attached: sales, In [2], KeyError: 'profit'"
    stored = tab.api_messages()[0]
    assert stored["content"].strip() == "Which region earns most?"
    kinds = [(c["kind"], c["name"]) for c in stored["context"]]
    assert kinds == [("variable", "sales"), ("cell", "In [2]"), ("error", "KeyError: 'profit'")]
    frame, cell, error = (c["content"] for c in stored["context"])
    assert frame.startswith("pandas.DataFrame: 3 rows × 2 columns") and "143.25" in frame
    assert cell.startswith("In [2]:\nimport pandas as pd")
    assert "KeyError" in error and "sales['profit']" in error
    tab.page.wait_for_function(
        "(b) => { const m = document.querySelector('.rc-panel .rc-meter'); return m && m.textContent !== b; }",
        arg=before,
        timeout=TIMEOUT,
    )
    assert meter.inner_text().startswith("Context ") and " / 16k tokens" in meter.inner_text()


def test_a_kernel_gone_is_said_and_the_message_goes_without_its_variables(tab):
    tab.box().click()
    mention(tab, "sal", "sales")
    with httpx.Client(headers=tab.server.headers, timeout=30) as client:
        for kernel in client.get(f"{tab.server.base}api/kernels").json():
            client.delete(f"{tab.server.base}api/kernels/{kernel['id']}").raise_for_status()
    box = tab.box()
    box.click()
    box.type(" what is it?")
    box.press("Enter")
    tab.wait_notice("sent without some context: sales .(no kernel is running|the kernel did not answer)")
    tab.wait_reply_count(1)
    stored = tab.api_messages()[0]
    assert stored["context"] == [] and stored["content"].strip() == "what is it?"


def test_a_busy_kernel_still_renders_a_variable_over_a_subshell(tab):
    """JupyterLab 4.6 sends widget messages over a kernel subshell (ipykernel 7), so
    the panel's kernel side answers while ``time.sleep`` holds the main thread: the
    variable is read at send time all the same.  (A kernel that cannot answer is the
    gone-kernel case above: said, and sent without.)"""
    tab.box().click()
    mention(tab, "sal", "sales")
    base, headers = tab.server.base, tab.server.headers
    with httpx.Client(headers=headers, timeout=30) as client:
        kernel = client.get(f"{base}api/kernels").json()[0]["id"]
        code = "import time; sales = sales.assign(checked=True); time.sleep(600)"
        busy = threading.Thread(
            target=asyncio.run, args=(execute(base, headers, kernel, code, 900),), daemon=True
        )
        busy.start()
        for _ in range(TIMEOUT // 100):
            if client.get(f"{base}api/kernels/{kernel}").json()["execution_state"] == "busy":
                break
            tab.page.wait_for_timeout(100)  # polling the kernel's state, not a fixed wait
        try:
            box = tab.box()
            box.click()
            box.type(" what is it?")
            box.press("Enter")
            tab.wait_reply_count(1)
            stored = tab.api_messages()[0]
            assert [c["name"] for c in stored["context"]] == ["sales"]
            # read while the cell ran: the frame as that cell left it
            assert "3 rows × 3 columns" in stored["context"][0]["content"]
        finally:
            client.post(f"{base}api/kernels/{kernel}/interrupt").raise_for_status()
            busy.join(60)


def test_insert_below_puts_a_replys_code_in_a_new_cell_that_does_not_run(tab):
    cells = tab.page.locator(".jp-Notebook .jp-Cell")
    count = cells.count()
    tab.send("show me code")
    tab.wait_reply_count(1)
    button = tab.panel().locator(".rc-assistant .rc-insert").first
    button.click()
    tab.page.wait_for_function(
        "(n) => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n + 1",
        arg=count,
        timeout=TIMEOUT,
    )
    new = cells.nth(1)  # right below the panel's cell
    assert new.locator(".cm-content").inner_text() == "from jupyter_resumechat import ChatPanel\nChatPanel()"
    assert new.locator(".jp-InputPrompt").inner_text().strip() in {"[ ]:", ""}  # not run


def test_a_failed_cells_menu_asks_the_notebooks_chat_to_explain_the_error(tab):
    error_cell = tab.page.locator(".jp-Notebook .jp-Cell").nth(2)
    error_cell.locator(".jp-InputPrompt").click(button="right")
    item = tab.page.locator(".lm-Menu-item", has_text="Explain this error in the chat")
    item.wait_for(timeout=TIMEOUT)
    item.click()
    tab.wait_reply_count(1)
    stored = tab.api_messages()[0]
    assert stored["content"] == "Explain this error and how to fix it."
    assert [(c["kind"], c["name"]) for c in stored["context"]] == [("error", "KeyError: 'profit'")]
    assert "sales['profit']" in stored["context"][0]["content"]
    # a cell without an error does not offer it
    tab.page.keyboard.press("Escape")
    tab.page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-InputPrompt").click(button="right")
    tab.page.locator(".lm-Menu-item >> visible=true").first.wait_for(timeout=TIMEOUT)
    offered = tab.page.locator(".lm-Menu-item >> visible=true", has_text="Explain this error")
    assert offered.count() == 0


@pytest.fixture
def small_window(tmp_path, frontend, browser):
    """A server whose demo model reads 120 tokens: a second question leaves the first out.
    A server of its own: the module's servers keep the 16k window the other tests read."""
    server = start_frontend(tmp_path / "small", frontend, context_tokens="demo=120")
    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    notebook = Notebook(context.new_page(), server, frontend).open()
    try:
        notebook.run_cell()
        yield notebook
    finally:
        context.close()
        server.stop()


def test_a_reply_made_without_earlier_turns_says_so_and_the_meter_shows_it(small_window):
    tab = small_window
    tab.send("first question")
    tab.wait_reply_count(1)
    assert tab.panel().locator(".rc-window:visible").count() == 0
    tab.send("second question")
    tab.wait_reply_count(2)
    note = tab.panel().locator(".rc-assistant").last.locator(".rc-window")
    assert note.inner_text() == "2 earlier messages were left out to fit the model's context."
    meter = tab.panel().locator(".rc-meter")
    assert meter.inner_text().endswith(" / 120 tokens · 2 earlier messages left out")
    assert tab.api_messages()[3]["window"]["omitted"] == 2
