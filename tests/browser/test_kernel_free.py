"""The chat outlives its kernel (docs/protocol.md#outlives-kernel), on JupyterLab 4 and Notebook 7.

A saved notebook reopened after its kernel was shut down, or while its
kernel is busy, shows the conversation from the output's data alone (the
prebuilt extension's view, js/mime.js) and can send; a renamed notebook
shows the same conversation; the saved file carries a readable transcript.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.browser.agent import (
    agent_on,
    approve_first,
    saved_cells,
    show_side_panel,
    shut_down_kernel,
    wait_final,
)
from tests.browser.conftest import own_notebook
from tests.browser.notebook import MIME, TIMEOUT, Notebook
from tests.support.kernel import closed, execute
from tests.support.server_process import TOKEN

T = TypeVar("T")
NO_WIDGET = "Error displaying widget"


def in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run a kernel helper on its own loop: Playwright's owns this thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def kernels(server: Any) -> list[str]:
    with httpx.Client(headers=server.headers, timeout=30) as client:
        return [k["id"] for k in client.get(server.base + "api/kernels").json()]


def shut_down_kernels(server: Any) -> None:
    with httpx.Client(headers=server.headers, timeout=60) as client:
        for kernel in kernels(server):
            assert client.delete(server.base + f"api/kernels/{kernel}").status_code == 204


def saved_output(server: Any, path: str) -> dict[str, Any]:
    """The transcript on disk, or {} while a save writes the file in place (read as unreadable)."""
    with httpx.Client(headers=server.headers, timeout=30) as client:
        answer = client.get(server.base + f"api/contents/{path}")
    cells = ((answer.json() if answer.status_code == 200 else {}).get("content") or {}).get("cells") or []
    outputs = [o for c in cells for o in c.get("outputs", []) if MIME in o.get("data", {})]
    return dict(outputs[0]["data"]) if outputs else {}


def wait_saved(tab: Notebook, text: str) -> dict[str, Any]:
    """Save until the file's transcript holds ``text`` (the view rewrites it after each reply)."""
    for _ in range(TIMEOUT // 500):
        tab.save()
        data = saved_output(tab.server, tab.path)
        if text in data.get("text/markdown", ""):
            return data
        tab.page.wait_for_timeout(500)  # polling the saved file, not a fixed wait
    raise AssertionError(f"the saved transcript never held {text!r}")


async def start_running(base: str, headers: dict[str, str], kernel_id: str, code: str) -> None:
    """Have the kernel start ``code`` and return once it is busy with it (not when it ends)."""
    conn = await websocket_connect(
        HTTPRequest(base.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels", headers=headers)
    )
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex, "date": ""}
    conn.write_message(
        json.dumps(
            {
                "header": {**header, "msg_type": "execute_request", "version": "5.3"},
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "content": {"code": code, "silent": False, "store_history": False, "allow_stdin": False},
            }
        )
    )
    try:
        while True:
            msg = json.loads(await conn.read_message() or "{}")
            if (
                msg.get("parent_header", {}).get("msg_id") == msg_id
                and msg["header"]["msg_type"] == "execute_input"
            ):
                return
    finally:
        await closed(conn)


@pytest.fixture
def pages(browser: Any) -> Iterator[list[Any]]:
    """Browser contexts opened by a test, closed whatever happens."""
    contexts: list[Any] = []
    yield contexts
    for context in contexts:
        context.close()


def open_tab(browser: Any, pages: list[Any], server: Any, frontend: str, path: str) -> Notebook:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    pages.append(context)
    return Notebook(context.new_page(), server, frontend, path=path).open()


def saved_and_closed(
    browser: Any, pages: list[Any], server: Any, frontend: str, path: str, word: str
) -> None:
    """A chat with one reply (``word`` twice), saved; its tab closed and every kernel shut down."""
    tab = open_tab(browser, pages, server, frontend, path)
    tab.run_cell()
    tab.send(f"/repeat 2 {word} ")
    tab.wait_reply(f"{word} {word}")
    wait_saved(tab, f"{word} {word}")
    pages.pop().close()
    shut_down_kernels(server)


def shows_kernel_free(tab: Notebook, reply: str) -> None:
    """The kernel-free view shows ``reply`` as the last reply, and no widget error."""
    tab.page.locator(".rc-mime .rc-panel").first.wait_for(timeout=TIMEOUT)
    tab.wait_reply(reply)
    assert tab.page.get_by_text(NO_WIDGET).count() == 0


def test_reopened_after_its_kernel_was_shut_down(browser, pages, server, frontend, chat_path):
    tab = open_tab(browser, pages, server, frontend, chat_path)
    tab.run_cell()
    tab.send("/repeat 3 kept ")
    tab.wait_reply("kept kept kept")
    data = wait_saved(tab, "kept kept kept")
    assert data[MIME]["conversation_id"] and "kept kept kept" in data["text/plain"]

    exported = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "markdown", "--stdout", str(server.root / chat_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "**User:**" in exported and "/repeat 3 kept" in exported and "kept kept kept" in exported
    assert "token" not in exported.lower() and "ChatPanel object at" not in exported

    pages.pop().close()
    shut_down_kernels(server)
    tab = open_tab(browser, pages, server, frontend, chat_path)
    shows_kernel_free(tab, "kept kept kept")
    tab.send("/pace 0.02 /repeat 40 live ")
    tab.wait_streaming(5)  # it streams, not only appears
    tab.wait_reply(("live " * 40).strip())
    assert tab.page.get_by_text(NO_WIDGET).count() == 0


def test_the_kernel_free_view_approves_by_mouse_and_keyboard_and_a_run_there_has_no_kernel(
    browser, pages, server, frontend, chat_path
):
    """Issue 21: reopened with no widget, the view still acts for the notebook: a call is
    approved by keyboard and one by mouse, the insert lands, and a cell run says there is
    no kernel (the model is told), as the chat's own panel would."""
    saved_and_closed(browser, pages, server, frontend, chat_path, "before")
    tab = open_tab(browser, pages, server, frontend, chat_path)
    shows_kernel_free(tab, "before before")
    shut_down_kernel(tab)  # the reopened notebook may have started one
    agent_on(tab)
    tab.send(
        '/tool notebook_insert_cell {"after": "chat", "source": "x = 1"}\n/then\n'
        '/tool notebook_run_cell {"cell_id": "chat"}'
    )
    approve_first(tab, keyboard=True)
    approve_first(tab)
    text = wait_final(tab)
    assert "notebook_insert_cell answered: inserted cell" in text, text
    assert "notebook_run_cell failed: error (page): no kernel is running" in text, text
    saved_cells(tab, lambda cells: [s for _, s in cells][1:] == ["x = 1"])
    assert tab.page.locator(".rc-mime .rc-card.rc-call-error", has_text="no kernel is running").count() == 1


def test_reopened_while_its_kernel_is_busy(browser, pages, server, frontend, chat_path):
    tab = open_tab(browser, pages, server, frontend, chat_path)
    tab.run_cell()
    tab.send("/repeat 2 before ")
    tab.wait_reply("before before")
    wait_saved(tab, "before before")
    (kernel,) = kernels(server)
    in_thread(start_running(server.base, server.headers, kernel, "import time; time.sleep(300)"))
    try:
        tab.page.reload()
        shows_kernel_free(tab, "before before")
        tab.send("/pace 0.02 /repeat 40 busy ")
        tab.wait_streaming(5)
        tab.wait_reply(("busy " * 40).strip())
        assert tab.page.get_by_text(NO_WIDGET).count() == 0
    finally:
        with httpx.Client(headers=server.headers, timeout=30) as client:
            client.post(server.base + f"api/kernels/{kernel}/interrupt")


def test_a_renamed_notebook_keeps_its_conversation(browser, pages, server, frontend, chat_path):
    saved_and_closed(browser, pages, server, frontend, chat_path, "mine")
    renamed = chat_path.replace("chat.ipynb", "renamed.ipynb")
    with httpx.Client(headers=server.headers, timeout=30) as client:
        moved = client.patch(server.base + f"api/contents/{chat_path}", json={"path": renamed})
        assert moved.status_code == 200
        before = len(client.get(server.url("conversations")).json()["conversations"])

    tab = open_tab(browser, pages, server, frontend, renamed)
    shows_kernel_free(tab, "mine mine")
    tab.run_cell()  # ChatPanel() under the new path finds the saved conversation, not a new one
    tab.wait_reply("mine mine")
    with httpx.Client(headers=server.headers, timeout=30) as client:
        assert len(client.get(server.url("conversations")).json()["conversations"]) == before


def test_python_ask_shows_live_in_the_view(tab, server):
    """``panel.ask()`` from the kernel reaches the (kernel-free) view through the page's bridge."""
    tab.page.locator(".rc-mime .rc-panel").first.wait_for(timeout=TIMEOUT)
    (kernel,) = kernels(server)
    code = (
        "panel = [o for o in Out.values() if type(o).__name__ == 'ChatPanel'][-1]\n"
        "panel.ask('/pace 0.02 /repeat 60 spoken ')"
    )
    _out, errors = in_thread(execute(server.base, server.headers, kernel, code))
    assert not errors, errors
    tab.wait_streaming(5)
    tab.wait_reply(("spoken " * 60).strip())


def test_the_side_panel_lists_renames_opens_and_deletes(browser, pages, frontends, request):
    """JupyterLab's side panel of chats (newest first, search, rename, delete after
    confirmation, open kernel-free) and the command that opens the notebook's chat."""
    server = frontends.get("lab")
    side_panel_round(browser, pages, server, own_notebook(server, request.node.name))


def side_panel_round(browser: Any, pages: list[Any], server: Any, path: str) -> None:
    tab = open_tab(browser, pages, server, "lab", path)
    tab.run_cell()
    tab.send("/repeat 2 listed ")
    tab.wait_reply("listed listed")
    page = tab.page
    side = show_side_panel(page)
    side.locator(".rc-refresh").click()  # the list as of now
    items = page.locator("#rc-conversations .rc-conversation")
    items.first.wait_for(timeout=TIMEOUT)
    assert items.count() == 1
    top, first = side.bounding_box(), items.first.bounding_box()
    assert first["y"] - top["y"] < 150, "the list is drawn far below the search box"
    search = page.locator("#rc-conversations .rc-search")
    search.fill("no such title")
    page.wait_for_function("() => !document.querySelector('#rc-conversations .rc-conversation')")
    search.fill("REPEAT")  # the title is the first message
    items.first.wait_for(timeout=TIMEOUT)

    assert items.first.locator(".rc-rename").is_hidden()  # icons on hover, as in the file browser
    items.first.hover()
    items.first.locator(".rc-rename").click()
    page.locator(".jp-Dialog input").fill("Renamed chat")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    search.fill("renamed")
    page.locator("#rc-conversations .rc-open", has_text="Renamed chat").wait_for(timeout=TIMEOUT)

    chat = page.locator('[id^="rc-chat-"] .rc-panel').filter(has_text="listed listed")
    page.locator(".jp-NotebookPanel .jp-Cell").first.click(position={"x": 2, "y": 2})
    page.keyboard.press("Control+Shift+c")
    page.locator(".lm-CommandPalette-input").fill("Open this notebook's chat")
    page.keyboard.press("Enter")
    chat.wait_for(timeout=TIMEOUT)  # the command opened it, with no kernel involved

    page.get_by_role("tab", name="chat.ipynb").click()
    chat.wait_for(state="hidden", timeout=TIMEOUT)
    page.locator("#rc-conversations .rc-open").first.click()
    chat.wait_for(timeout=TIMEOUT)  # the list opens (here: shows again) the same chat

    items.first.click(button="right")  # the row's context menu has the same actions
    menu = page.locator(".lm-Menu").last
    for label in ("Open", "Rename…", "Delete…"):
        menu.get_by_text(label, exact=True).wait_for(timeout=TIMEOUT)
    menu.get_by_text("Delete…", exact=True).click()
    page.locator(".jp-Dialog .jp-mod-accept").click()  # the confirmation
    page.wait_for_function("() => !document.querySelector('#rc-conversations .rc-conversation')")
    # its chat tab is closed, and the notebook's output starts a new conversation: no "not found"
    page.locator('[id^="rc-chat-"]').first.wait_for(state="detached", timeout=TIMEOUT)
    page.wait_for_function(
        "() => !document.querySelector('.jp-Notebook .rc-panel .rc-assistant')", timeout=TIMEOUT
    )
    tab.wait_idle()
    assert "not found" not in tab.panel().inner_text().lower()
    tab.send("/repeat 2 again ")
    tab.wait_reply("again again")
    with httpx.Client(headers=server.headers, timeout=30) as client:
        assert len(client.get(server.url("conversations")).json()["conversations"]) == 1


def test_notebook_7s_right_sidebar_lists_and_opens_chats(browser, pages, frontends, request):
    """Notebook 7: the Chats panel is in the right sidebar (View > Chats Panel), and a
    conversation opens there kernel-free (its main area holds one document) and can send."""
    server = frontends.get("notebook")
    tab = open_tab(browser, pages, server, "notebook", own_notebook(server, request.node.name))
    tab.run_cell()
    tab.send("/repeat 2 listed ")
    tab.wait_reply("listed listed")
    pages.pop().close()
    shut_down_kernels(server)

    context = browser.new_context(viewport={"width": 1300, "height": 900})
    pages.append(context)
    page = context.new_page()
    # the file browser: no notebook open, no kernel running
    page.goto(f"{server.base}tree?token={TOKEN}", timeout=TIMEOUT)
    page.get_by_role("menuitem", name="View").click()
    page.get_by_role("menuitem", name="Chats Panel").click()
    page.locator("#jp-right-stack #rc-conversations .rc-conversation").first.wait_for(timeout=TIMEOUT)
    page.locator("#rc-conversations .rc-open").first.click()
    chat = page.locator("#jp-right-stack #rc-sidebar-chat .rc-panel")
    chat.locator(".rc-assistant", has_text="listed listed").wait_for(timeout=TIMEOUT)
    box = chat.locator("textarea")
    box.fill("/repeat 2 beside ")
    box.press("Enter")
    chat.locator(".rc-assistant:not(.rc-status-streaming)", has_text="beside beside").wait_for(
        timeout=TIMEOUT
    )
    assert kernels(server) == []
    page.get_by_role("button", name="Back to the list of chats").click()  # the way back
    page.locator("#jp-right-stack #rc-conversations .rc-conversation").first.wait_for(timeout=TIMEOUT)
    assert not chat.is_visible()
