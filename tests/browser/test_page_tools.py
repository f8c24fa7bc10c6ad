"""Page tools run by the panel in its own notebook, in a real browser with a real kernel
(docs/protocol.md#agent-runs, 4; issue 21): agent mode sends a run with tools; an approved
page call is claimed by the view that approved it, which runs it in the notebook (the
cell appears, runs with a prompt number) and posts its result once; another tab shows it
running elsewhere and never claims it; with no kernel the call fails saying so; Stop
interrupts the kernel while a cell of the run executes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.browser.agent import (
    agent_on,
    approve,
    approve_each,
    open_side_chat,
    shut_down_kernel,
    tool_posts,
    wait_final,
)
from tests.browser.conftest import NOTEBOOK
from tests.browser.notebook import TIMEOUT, Notebook

SPIN = {
    "cell_type": "code",
    "execution_count": None,
    "id": "spin",
    "metadata": {},
    "outputs": [],
    "source": "while True:\n    pass",
}


@pytest.fixture(scope="module")
def frontend_traits() -> dict[str, Any]:
    """A page's claim lasts 3 × owner_lease: 12 s here (30 s by default), so a claim left
    by a page that went away lapses within the test."""
    return {"owner_lease": 4}


@pytest.fixture
def notebook_content() -> dict[str, Any]:
    """The chat's cell, then a cell that never ends until interrupted (addressed by its id)."""
    return {**NOTEBOOK, "cells": [*NOTEBOOK["cells"], SPIN]}


def test_insert_then_run_a_cell_in_the_page_once_while_another_tab_shows_it_elsewhere(
    tab, server, frontend, chat_path
):
    other = Notebook(tab.page.context.new_page(), server, frontend, path=chat_path).open()
    other.panel().wait_for(timeout=TIMEOUT)
    mine, theirs = tool_posts(tab.page), tool_posts(other.page)
    agent_on(tab)
    tab.send(
        '/tool notebook_insert_cell {"after": "chat", "source": "import time\\ntime.sleep(3)\\nprint(6 * 7)"}'
    )
    approve(tab)
    text = wait_final(tab)
    found = re.search(r"answered: inserted cell (\S+) \(code\)", text)
    assert found, text
    new_id = found.group(1)
    tab.page.wait_for_function(  # right after the chat's cell, in the notebook the chat is in
        """() => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[1];
             return !!c && c.textContent.includes('print(6 * 7)'); }""",
        timeout=TIMEOUT,
    )

    tab.send(f'/tool notebook_run_cell {{"cell_id": "{new_id}"}}')
    approve(tab)
    # the other tab hears of the claim on its own stream, and says where it runs
    elsewhere = other.panel().locator(".rc-card.rc-call-running")
    elsewhere.wait_for(timeout=TIMEOUT)
    assert "Running elsewhere" in elsewhere.inner_text()
    text = wait_final(tab)
    assert "notebook_run_cell answered: 42" in text, text
    # it ran as the user's run would: a prompt number and its output in the notebook
    tab.page.wait_for_function(
        """() => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[1];
             return /\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt').textContent)
               && c.querySelector('.jp-OutputArea').textContent.includes('42'); }""",
        timeout=TIMEOUT,
    )
    calls = [p["call"] for p in tab.api_messages()[-1]["parts"] if p["type"] == "tool"]
    assert [c["status"] for c in calls] == ["done"]
    assert theirs == []  # the other tab never claimed nor answered
    assert mine.count(f"{calls[0]['id']}/result") == 1
    assert mine.count(f"{calls[0]['id']}/claim") >= 1
    assert other.panel().locator(".rc-card.rc-call-done").count() >= 1


def test_agent_mode_is_kept_per_conversation_and_a_call_with_no_kernel_fails_saying_so(tab, server):
    tools = tab.panel().locator(".rc-agent-tools")
    tools.locator("summary").click()
    tools.locator(".rc-agent-tool", has_text="notebook_run_cell").wait_for(timeout=TIMEOUT)
    assert "asks you first" in tools.locator(".rc-agent-tool", has_text="notebook_run_cell").inner_text()
    assert "runs without asking" in tools.locator(".rc-agent-tool", has_text="kernel_variables").inner_text()
    assert tab.panel().locator(".rc-agent-toggle").get_attribute("aria-pressed") == "false"
    agent_on(tab)
    tab.page.reload()
    tab.panel().wait_for(timeout=TIMEOUT)
    tab.panel().locator('.rc-agent-toggle[aria-pressed="true"]').wait_for(timeout=TIMEOUT)

    shut_down_kernel(tab)
    tab.send("/tool kernel_variables {}")
    text = wait_final(tab)
    assert "kernel_variables failed: error (page): no kernel is running" in text, text
    card = tab.panel().locator(".rc-card.rc-call-error")
    assert "no kernel is running" in card.inner_text()
    sent = [m for m in tab.api_messages() if m["role"] == "user"][-1]
    assert sent["content"] == "/tool kernel_variables {}"


def test_a_claim_renewed_past_its_lease_holds_and_stop_interrupts_the_cell_of_the_run(tab, server):
    posts = tool_posts(tab.page)
    agent_on(tab)
    tab.send('/tool notebook_run_cell {"cell_id": "spin"}')
    approve(tab)
    running = tab.panel().locator(".rc-card.rc-call-running", has_text="Running here")
    running.wait_for(timeout=TIMEOUT)
    tab.page.wait_for_function(
        """() => document.querySelectorAll('.jp-Notebook .jp-InputPrompt')[1].textContent.includes('[*]')""",
        timeout=TIMEOUT,
    )
    # the claim, then a renewal every third of the 12 s lease: after four the lease has been
    # outlived, and the call is still this page's
    call_id = running.get_attribute("data-call-id")
    for _ in range(TIMEOUT // 100):
        if posts.count(f"{call_id}/claim") >= 5:
            break
        tab.page.wait_for_timeout(100)  # polling the condition
    assert posts.count(f"{call_id}/claim") >= 5, posts
    assert running.is_visible()
    tab.panel().locator(".rc-stop").click()
    wait_final(tab, "aborted")
    tab.page.wait_for_function(
        """() => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[1];
             return c.querySelector('.jp-OutputArea').textContent.includes('KeyboardInterrupt')
               && /\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt').textContent); }""",
        timeout=TIMEOUT,
    )
    calls = [p["call"] for p in tab.api_messages()[-1]["parts"] if p["type"] == "tool"]
    assert [c["status"] for c in calls] == ["cancelled"], json.dumps(calls)


def test_a_call_whose_page_went_away_ends_unknown_and_run_again_asks_for_it_again(tab, server):
    agent_on(tab)
    tab.send('/tool notebook_run_cell {"cell_id": "spin"}')
    approve(tab)
    tab.panel().locator(".rc-card.rc-call-running", has_text="Running here").wait_for(timeout=TIMEOUT)
    tab.page.reload()  # the page that runs it goes away: nobody renews its claim
    tab.panel().wait_for(timeout=TIMEOUT)
    wait_final(tab)  # the lapsed claim ends unknown, and the run goes on with the model told so
    card = tab.panel().locator(".rc-card.rc-call-unknown")
    assert "notebook_run_cell" in card.inner_text()
    assert tab.count(".rc-card-run-again") == 1
    card.get_by_role("button", name="Run again").click()
    # a new user message naming the same call, offering only that tool; it asks again
    tab.panel().locator(".rc-card.rc-call-awaiting_approval").wait_for(timeout=TIMEOUT)
    user = [m for m in tab.api_messages() if m["role"] == "user"][-1]
    assert user["content"].endswith('/tool notebook_run_cell {"cell_id":"spin"}'), user["content"]
    tab.panel().get_by_role("button", name="Deny", exact=True).click()
    wait_final(tab)


def test_a_chat_opened_with_no_notebook_answers_a_page_call_that_it_has_none(tab, server, frontend, browser):
    tab.page.close()  # no view of the notebook is left to run it
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        page = context.new_page()
        chat = open_side_chat(page, server, frontend)
        chat.locator(".rc-agent-toggle").click()
        chat.locator('.rc-agent-toggle[aria-pressed="true"]').wait_for(timeout=TIMEOUT)
        box = chat.locator("textarea")
        box.fill("/tool notebook_read {}")
        box.press("Enter")
        done = chat.locator(".rc-assistant:not(.rc-status-streaming)", has_text="The demo agent called")
        done.wait_for(timeout=TIMEOUT)
        assert "notebook_read failed: error (page): this chat is not in a notebook" in done.inner_text()
    finally:
        context.close()


def test_edit_run_read_variables_and_delete_by_cell_id(tab, server):
    agent_on(tab)
    tab.send(
        '/tool notebook_edit_cell {"cell_id": "spin", "source": "x = 41 + 1"}\n/then\n'
        '/tool notebook_run_cell {"cell_id": "spin"}\n/then\n'
        '/tool kernel_variables {"names": ["x"]}\n/then\n'
        '/tool notebook_read {"cell_ids": ["spin", "nope"]}\n/then\n'
        '/tool notebook_delete_cell {"cell_id": "spin"}'
    )
    approve_each(tab, 3)  # the edit, the run and the delete ask; the two reads do not
    text = wait_final(tab)
    for line in (
        "notebook_edit_cell answered: edited cell spin",
        "notebook_run_cell answered: (no output)",
        "kernel_variables answered: x: int = 42",
        "notebook_delete_cell answered: deleted cell spin",
    ):
        assert line in text, text
    read = tab.panel().locator(".rc-card", has_text="notebook_read").locator(".rc-card-output")
    answer = json.loads(read.text_content())  # folded: it is long
    assert answer["cells"][0]["id"] == "spin" and answer["cells"][0]["source"] == "x = 41 + 1"
    assert answer["missing"] == ["nope"]
    tab.page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell').length === 1", timeout=TIMEOUT
    )
