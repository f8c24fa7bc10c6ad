"""A server SIGKILLed in the middle of an agent run, in a real browser with a real kernel
(issue 21, docs/protocol.md#agent-runs 3-4): killed while a call waits for approval, the
server comes back with the card still waiting and Approve continues the run; killed while
the page runs a call's cell, the run goes on and the call is never run twice.

Each test starts a server of its own: it is the one killed and started again (same port,
same database), which a shared server must never be. Each may take longer than the suite's
120 s: a server start, up to the dead server's lease, then the run."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.agent import (
    WAITING,
    agent_on,
    approve_first,
    run_here,
    saved_cells,
    tool_posts,
    wait_final,
)
from tests.browser.conftest import NOTEBOOK, own_notebook, start_frontend
from tests.browser.notebook import TIMEOUT, Notebook
from tests.support.server_process import ServerProcess

SLOW = {
    "cell_type": "code",
    "execution_count": None,
    "id": "slow",
    "metadata": {},
    "outputs": [],
    "source": "import time\ntime.sleep(8)\nprint('slept')",
}
CONTENT = {**NOTEBOOK, "cells": [*NOTEBOOK["cells"], SLOW]}
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def killable(tmp_path, frontend) -> Iterator[ServerProcess]:
    server = start_frontend(tmp_path, frontend)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def view(browser, killable, frontend) -> Iterator[Notebook]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        path = own_notebook(killable, "killed", CONTENT)
        notebook = Notebook(context.new_page(), killable, frontend, path=path).open()
        notebook.run_cell()
        yield notebook
    finally:
        context.close()


def calls_of(view: Notebook) -> list[dict[str, Any]]:
    return [p["call"] for p in view.api_messages()[-1]["parts"] if p["type"] == "tool"]


def test_killed_while_a_call_awaits_approval_the_card_waits_on_and_approve_continues(view, killable):
    agent_on(view)
    view.send('/tool notebook_edit_cell {"cell_id": "slow", "source": "print(6 * 7)"}')
    view.panel().locator(WAITING).wait_for(timeout=TIMEOUT)
    killable.kill(signal.SIGKILL)
    killable.start()
    # what the person finds: the same card, its Approve back once the view has a stream again
    # (the restarted server reopens the parked run's stream when the dead one's lease lapses,
    # and the view looks again until then: js/session.js recheck); Approve continues the run
    approve_first(view, keyboard=True)
    view.wait_api(lambda messages: messages[-1]["status"] == "complete")
    assert "`notebook_edit_cell` answered: edited cell slow" in view.api_messages()[-1]["content"]
    assert [(c["name"], c["status"]) for c in calls_of(view)] == [("notebook_edit_cell", "done")]
    view.panel().locator(".rc-assistant.rc-status-complete .rc-card.rc-call-done").wait_for(timeout=TIMEOUT)
    saved_cells(view, lambda cells: [s for _, s in cells][1:] == ["print(6 * 7)"])
    assert "edited cell slow" in wait_final(view)  # the committed text drawn whole


def test_killed_while_the_page_runs_a_calls_cell_the_run_goes_on_and_nothing_runs_twice(view, killable):
    posts = tool_posts(view.page)
    run_here(view, "slow", 1)
    killable.kill(signal.SIGKILL)
    killable.start()
    # the kernel went with the server that started it: the page's cell run is cut, the call ends
    # with that error, the model is told, and the run goes on on the restarted server
    view.wait_api(lambda messages: messages[-1]["status"] == "complete")
    text = view.api_messages()[-1]["content"]
    assert "`notebook_run_cell` failed: error (page): the kernel restarted while the cell ran" in text, text
    card = view.panel().locator(".rc-assistant.rc-status-complete .rc-card.rc-call-error")
    card.wait_for(timeout=TIMEOUT)
    assert "the kernel restarted while the cell ran" in card.inner_text()
    calls = calls_of(view)
    assert [(c["name"], c["status"]) for c in calls] == [("notebook_run_cell", "error")], calls
    assert posts.count(f"{calls[0]['id']}/result") == 1, posts
