"""What a person does with an agent run in a real browser: agent mode on, approve a waiting
call by mouse or by keyboard, wait for the reply to be committed, read the notebook as saved,
open a chat from the Chats panel; and what the page posts meanwhile."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.browser.notebook import TIMEOUT, Notebook
from tests.support.server_process import TOKEN

WAITING = ".rc-card.rc-call-awaiting_approval"


def agent_on(view: Notebook) -> None:
    toggle = view.panel().locator(".rc-agent-toggle")
    if toggle.get_attribute("aria-pressed") != "true":
        toggle.click()
    view.panel().locator('.rc-agent-toggle[aria-pressed="true"]').wait_for(timeout=TIMEOUT)


def approve(view: Notebook, keyboard: bool = False) -> None:
    """Approve the newest waiting card (see ``approve_card``)."""
    approve_card(view, view.panel().locator(WAITING).last, keyboard)


def approve_first(view: Notebook, keyboard: bool = False) -> None:
    """Approve the oldest waiting card (see ``approve_card``)."""
    approve_card(view, view.panel().locator(WAITING).first, keyboard)


def approve_card(view: Notebook, card: Any, keyboard: bool) -> None:
    """Approve ``card`` and wait until the server holds the decision: by mouse, or by keyboard
    (Shift+Tab from the message box until its Approve has the focus, then Enter). Pressed again
    if the call still waits after a while, as a person would: a press on a loaded machine can
    be lost, and the same decision again changes nothing (docs/protocol.md#agent-runs).  What
    counts is the server's call, not the card: a view that reloads its messages draws the card
    again, and for a moment none is there."""
    card.wait_for(timeout=TIMEOUT)
    call_id = card.get_attribute("data-call-id")
    selector = f'{WAITING}[data-call-id="{call_id}"]'
    waiting = view.panel().locator(selector)
    focused = "(s) => !!document.activeElement && document.activeElement.matches(s)"
    for _ in range(TIMEOUT // 10_000):
        if not still_waits(view, call_id, waiting):
            return
        try:  # a view that lost its stream (its server restarted) shows no buttons until it has one again
            waiting.locator(".rc-decide-approve").wait_for(timeout=TIMEOUT)
        except Exception:  # decided meanwhile, or drawn again: look again
            continue
        view.dismiss_dialogs()  # JupyterLab's own ("the kernel died…") would take the press
        if keyboard:
            view.box().focus()
            for _ in range(60):
                view.page.keyboard.press("Shift+Tab")
                if view.page.evaluate(focused, f"{selector} .rc-decide-approve") or not waiting.count():
                    break
            else:  # not reached (the card was drawn again meanwhile): from the top
                continue
            if waiting.count():
                view.page.keyboard.press("Enter")
        else:
            try:
                waiting.locator(".rc-decide-approve").click(timeout=10_000)
            except Exception:  # it went meanwhile (decided, or drawn again): look again
                continue
        for _ in range(50):  # 10 s for the decision to land, then press again
            if not still_waits(view, call_id, waiting):
                return
            view.page.wait_for_timeout(200)
    raise AssertionError(f"the call {call_id} still waits for approval after every press (or Tab)")


def still_waits(view: Notebook, call_id: str | None, card: Any) -> bool:
    """Whether the server still holds call ``call_id`` awaiting approval (a server that does not
    answer, restarting, counts as still waiting); the card's presence for a call not in the
    newest conversation."""
    try:
        messages = view.api_messages()
    except (httpx.HTTPError, LookupError, ValueError):
        return True
    for message in messages:
        for part in message.get("parts") or []:
            if part["type"] == "tool" and part["call"]["id"] == call_id:
                return bool(part["call"]["status"] == "awaiting_approval")
    return bool(card.count())


def run_here(view: Notebook, cell_id: str, index: int) -> None:
    """Ask for ``notebook_run_cell`` of ``cell_id`` (cell ``index`` of the notebook), approve it,
    and wait until this page runs it: its card says so and the cell's prompt shows [*]."""
    agent_on(view)
    view.send(f'/tool notebook_run_cell {{"cell_id": "{cell_id}"}}')
    approve(view)
    view.panel().locator(".rc-card.rc-call-running", has_text="Running here").wait_for(timeout=TIMEOUT)
    view.page.wait_for_function(
        "(i) => document.querySelectorAll('.jp-Notebook .jp-InputPrompt')[i].textContent.includes('[*]')",
        arg=index,
        timeout=TIMEOUT,
    )


def approve_each(view: Notebook, count: int) -> None:
    """Approve ``count`` calls by mouse, one after another as the run asks for them."""
    for _ in range(count):
        approve_first(view)


def wait_final(view: Notebook, status: str = "complete") -> str:
    """Until the newest reply is committed with ``status`` and drawn, its last word rendered
    (JupyterLab's markdown renderer fills a committed text part a moment after it is drawn);
    its text in the panel."""
    view.wait_api(lambda messages: messages[-1]["role"] == "assistant" and messages[-1]["status"] == status)
    words = re.findall(r"[A-Za-z0-9]{2,}", view.api_messages()[-1]["content"])
    last = words[-1] if words else ""  # its last word, as any markdown draws it
    view.page.wait_for_function(
        """(last) => { const b = [...document.querySelectorAll('.rc-panel .rc-assistant')].pop();
             return b && !b.classList.contains('rc-status-streaming')
               && b.querySelector('.rc-body').innerText.includes(last); }""",
        arg=last,
        timeout=TIMEOUT,
    )
    return view.reply_text()


def tool_posts(page: Any) -> list[str]:
    """Every claim and result this page POSTs from now on (``<call id>/<step>``)."""
    seen: list[str] = []

    def record(request: Any) -> None:
        match = re.search(r"/tools/([^/?]+)/(claim|result)$", request.url)
        if request.method == "POST" and match:
            seen.append(f"{match.group(1)}/{match.group(2)}")

    page.on("request", record)
    return seen


def saved_cells(view: Notebook, wanted: Any) -> list[dict[str, Any]]:
    """Save until the file's cells satisfy ``wanted`` (given ``[(id, source), …]``); the cells."""
    source = lambda c: "".join(c["source"]) if isinstance(c["source"], list) else c["source"]  # noqa: E731
    return view.saved_until(lambda cells: wanted([(c["id"], source(c)) for c in cells]), TIMEOUT / 1000)


def shut_down_kernel(view: Notebook) -> None:
    """Kernel ▸ Shut Down Kernel, as the person does; until the server lists no kernel."""
    view.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    view.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Shut Down Kernel")).first.click()
    view.dismiss_dialogs()
    with httpx.Client(headers=view.server.headers, timeout=30) as client:
        for _ in range(TIMEOUT // 100):
            if not client.get(view.server.base + "api/kernels").json():
                return
            view.page.wait_for_timeout(100)  # polling the condition
    raise AssertionError("the kernel was not shut down")


def show_side_panel(page: Any) -> Any:
    """JupyterLab's Chats panel, shown from its side bar tab (clicked again while the shell
    still lays out on a loaded machine, where a first click can toggle nothing)."""
    side = page.locator("#rc-conversations")
    for _ in range(5):
        page.locator('.jp-SideBar [data-id="rc-conversations"]').click()
        try:
            side.wait_for(state="visible", timeout=10_000)
            break
        except Exception:  # not shown (or toggled away): click again
            continue
    return side


def open_side_chat(page: Any, server: Any, frontend: str) -> Any:
    """The conversation opened from the Chats panel, on a page with no notebook open."""
    if frontend == "lab":
        page.goto(f"{server.base}lab?reset&token={TOKEN}", timeout=TIMEOUT)
        show_side_panel(page)
        chat = page.locator('[id^="rc-chat-"] .rc-panel')
    else:
        page.goto(f"{server.base}tree?token={TOKEN}", timeout=TIMEOUT)
        page.get_by_role("menuitem", name="View").click()
        page.get_by_role("menuitem", name="Chats Panel").click()
        chat = page.locator("#jp-right-stack #rc-sidebar-chat .rc-panel")
    page.locator("#rc-conversations .rc-open").first.click()
    chat.wait_for(timeout=TIMEOUT)
    return chat
