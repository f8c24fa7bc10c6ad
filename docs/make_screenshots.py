"""Screenshots of the panel for the docs: light and dark, streaming and finished,
and a reasoning reply followed by a failed one (with its Retry); and the chat
outliving its kernel: JupyterLab's Chats side panel, and a notebook reopened
whose kernel was shut down.

python docs/make_screenshots.py             # all of them
python docs/make_screenshots.py kernel-free # docs/side-panel.png, docs/reopened-no-kernel.png
python docs/make_screenshots.py context     # docs/notebook-context.png: @, Insert below, the meter
python docs/make_screenshots.py agent       # docs/agent-{light,dark}-{approval,done}.png: an agent run
"""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx
from shots import DOCS, lab, open_notebook

from tests.browser.conftest import NOTEBOOK
from tests.browser.notebook import Notebook, notebook_url

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
    name = "dark" if dark else "light"
    with lab("resumechat-shots-", dark=dark, demo_delay=0.08) as (_, server, browser):
        notebook = open_notebook(browser, server, 1000, 820)
        page = notebook.page
        notebook.run_cell()
        notebook.send(PROMPT)
        notebook.wait_streaming(120)
        notebook.panel().screenshot(path=str(DOCS / f"panel-{name}-streaming.png"))
        page.wait_for_function(
            "() => !document.querySelector('.rc-panel .rc-status-streaming')", timeout=120_000
        )
        notebook.panel().screenshot(path=str(DOCS / f"panel-{name}-finished.png"))
        notebook.panel().get_by_role("button", name="New conversation").click()
        page.wait_for_function("() => !document.querySelector('.rc-panel .rc-assistant')", timeout=120_000)
        notebook.send(THINK)
        notebook.wait_reply(THOUGHT_REPLY)
        notebook.send("/fail 14 Explain the error")
        notebook.panel().locator(".rc-assistant.rc-status-error").wait_for(timeout=120_000)
        notebook.wait_idle()
        notebook.panel().screenshot(path=str(DOCS / f"panel-{name}-reasoning.png"))


EMPTY = "() => !document.querySelector('.rc-panel .rc-assistant')"
FINISHED = "() => document.querySelector('.rc-assistant') && !document.querySelector('.rc-status-streaming')"
TOPICS = [
    "Which stream backend for several servers?",
    "Summarise the resume rules of the panel",
    "Show me how ChatPanel resumes a stream",
]


def side_panel(page: Any, notebook: Notebook) -> None:
    """Three conversations, the Chats panel open and one of them opened from it in a tab."""
    for i, topic in enumerate(TOPICS):
        if i:
            notebook.panel().get_by_role("button", name="New conversation").click()
            page.wait_for_function(EMPTY, timeout=120_000)
        notebook.send(topic)
        page.wait_for_function(FINISHED, timeout=120_000)
    page.locator('.jp-SideBar [data-id="rc-conversations"]').click()
    page.locator("#rc-conversations .rc-conversation").nth(len(TOPICS) - 1).wait_for(timeout=120_000)
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first.bounding_box()
    page.mouse.move(handle["x"] + 1, handle["y"] + 200)  # a wider sidebar, for the titles
    page.mouse.down()
    page.mouse.move(handle["x"] + 120, handle["y"] + 200, steps=5)
    page.mouse.up()
    page.locator("#rc-conversations .rc-open", has_text=TOPICS[0]).click()
    page.locator('[id^="rc-chat-"] .rc-assistant').first.wait_for(timeout=120_000)
    page.screenshot(path=str(DOCS / "side-panel.png"), clip={"x": 0, "y": 0, "width": 1100, "height": 560})


def reopened(page: Any, notebook: Notebook, server: Any) -> None:
    """The notebook saved, its kernel shut down, the tab opened again: the chat shows and streams."""
    notebook.save()
    with httpx.Client(headers=server.headers, timeout=60) as client:
        for kernel in client.get(server.base + "api/kernels").json():
            client.delete(server.base + f"api/kernels/{kernel['id']}")
    page.goto(notebook_url(server, "lab") + "&reset", timeout=120_000)  # a fresh layout: no sidebar open
    page.locator(".rc-mime .rc-assistant").first.wait_for(timeout=120_000)
    left = page.locator("#jp-left-stack")
    if left.is_visible():
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()  # folds it away
        left.wait_for(state="hidden", timeout=120_000)
    page.get_by_role("menuitem", name="Kernel").click()
    # the fresh kernel Lab started for the notebook: then none is left
    page.get_by_role("menuitem", name="Shut Down Kernel").click()
    page.locator(".jp-Toolbar-kernelName", has_text="No Kernel").wait_for(timeout=120_000)
    notebook.send("Does this work with no kernel?")
    notebook.wait_streaming(160)
    page.locator(".jp-NotebookPanel").first.screenshot(path=str(DOCS / "reopened-no-kernel.png"))


def shoot_kernel_free() -> None:
    with lab("resumechat-shots-", demo_delay=0.05) as (_, server, browser):
        notebook = open_notebook(browser, server, 1100, 760)
        page = notebook.page
        notebook.run_cell()
        side_panel(page, notebook)
        page.get_by_role("tab", name="chat.ipynb").click()
        reopened(page, notebook, server)


SALES = (
    "import pandas as pd\n"
    "sales = pd.DataFrame({'region': ['north', 'south', 'east', 'west'], 'revenue': [120.5, 98.0, 143.25, 87.0]})\n"
    "sales"
)


def shoot_context() -> None:
    """A DataFrame cell, the chat with it attached by @, a reply whose code went into
    a new cell below (unrun), the context meter, and the @ list open again."""
    data = {
        "cell_type": "code",
        "execution_count": None,
        "id": "sales",
        "metadata": {},
        "outputs": [],
        "source": SALES,
    }
    with lab("resumechat-shots-", demo_delay=0.01, context_tokens="demo=4096") as (root, server, browser):
        folder = root / "analysis"  # the notebook's folder: its files are what @ lists
        folder.mkdir()
        (folder / "chat.ipynb").write_text(json.dumps({**NOTEBOOK, "cells": [*NOTEBOOK["cells"], data]}))
        (folder / "regions.csv").write_text("region,manager\nnorth,Ana\nsouth,Bo\neast,Chen\nwest,Dee\n")
        (folder / "notes.md").write_text("# Q3\nRevenue by region, before returns.\n")
        notebook = open_notebook(browser, server, 1100, 1150, path="analysis/chat.ipynb")
        page = notebook.page
        notebook.run_cell()
        cells = page.locator(".jp-Notebook .jp-Cell")
        cells.nth(1).locator(".cm-content").click()
        page.keyboard.press("Control+Enter")
        cells.nth(1).locator(".jp-OutputArea-output table").wait_for(timeout=120_000)
        box = notebook.box()
        box.click()
        box.type("@sal")
        notebook.panel().locator(".rc-mentions li", has_text="sales").first.click()
        box.type("Which region earns the most?")
        box.press("Enter")
        page.wait_for_function(FINISHED, timeout=120_000)
        notebook.panel().locator(".rc-assistant .rc-insert").first.click()
        page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length === 3")
        box.click()
        box.type("@")
        notebook.panel().locator(".rc-mentions li").first.wait_for(timeout=120_000)
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()  # fold the file browser
        page.locator(".jp-NotebookPanel").first.screenshot(path=str(DOCS / "notebook-context.png"))


AGENT = '/tool notebook_insert_cell {"source": "print(6 * 7)"}'


def shoot_agent(dark: bool) -> None:
    """Agent mode on, a call to insert a cell awaiting its approval (the card's Approve /
    Deny / Always), then the run done: the new cell in the notebook, the card's result."""
    name = "dark" if dark else "light"
    with lab("resumechat-shots-", dark=dark, demo_delay=0.02) as (_, server, browser):
        notebook = open_notebook(browser, server, 1000, 900)
        page = notebook.page
        notebook.run_cell()
        toggle = notebook.panel().locator(".rc-agent-toggle")
        toggle.click()
        notebook.panel().locator('.rc-agent-toggle[aria-pressed="true"]').wait_for(timeout=120_000)
        notebook.send(AGENT)
        card = notebook.panel().locator(".rc-card.rc-call-awaiting_approval")
        card.wait_for(timeout=120_000)
        notebook.panel().screenshot(path=str(DOCS / f"agent-{name}-approval.png"))
        card.get_by_role("button", name="Approve", exact=True).click()
        page.wait_for_function(FINISHED, timeout=120_000)
        page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length === 2")
        page.locator(".jp-NotebookPanel").first.screenshot(path=str(DOCS / f"agent-{name}-done.png"))


if __name__ == "__main__":
    if sys.argv[1:] == ["context"]:
        shoot_context()
        sys.exit(0)
    if sys.argv[1:] == ["agent"]:
        for dark in (False, True):
            shoot_agent(dark)
        sys.exit(0)
    if sys.argv[1:] != ["kernel-free"]:
        for dark in (False, True):
            shoot(dark)
    shoot_kernel_free()
    shoot_context()
    for dark in (False, True):
        shoot_agent(dark)
