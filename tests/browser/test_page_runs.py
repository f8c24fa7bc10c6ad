"""Page calls when the notebook changes under a run, in a real browser with a real kernel
(issue 21): a kernel that restarts while a page call's cell runs ends that call with an
error the model is told of, and the run goes on; each write call is one undo step in the
notebook, and a reply's "Revert this run's edits" takes its edits back, newest first, after a
reload too, but never a cell the person changed since; two tabs approving together run a call
once; a denied call tells the model and changes nothing."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.browser.agent import (
    WAITING,
    agent_on,
    approve_each,
    approve_first,
    run_here,
    saved_cells,
    tool_posts,
    wait_final,
)
from tests.browser.conftest import NOTEBOOK
from tests.browser.notebook import TIMEOUT, Notebook

SLEEPY = {
    "cell_type": "code",
    "execution_count": None,
    "id": "sleepy",
    "metadata": {},
    "outputs": [],
    "source": "import time\ntime.sleep(600)",
}


@pytest.fixture
def notebook_content() -> dict[str, Any]:
    """The chat's cell, then a cell that sleeps ten minutes (addressed by its id)."""
    return {**NOTEBOOK, "cells": [*NOTEBOOK["cells"], SLEEPY]}


def restart_kernel(view: Notebook) -> None:
    """Kernel ▸ Restart Kernel…, its dialog accepted: as the user restarts it."""
    view.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    view.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Restart Kernel…?$")).first.click()
    view.page.locator(".jp-Dialog .jp-mod-accept").click()


def restart_kernel_by_rest(view: Notebook) -> None:
    """``POST api/kernels/{id}/restart`` from outside the page (another client, a script)."""
    with httpx.Client(headers=view.server.headers, timeout=60) as client:
        sessions = client.get(view.server.base + "api/sessions").json()
        kernel = next(s["kernel"]["id"] for s in sessions if s["path"] == view.path)  # not another test's
        client.post(view.server.base + f"api/kernels/{kernel}/restart").raise_for_status()


@pytest.mark.parametrize("restart", [restart_kernel, restart_kernel_by_rest], ids=["menu", "rest"])
def test_a_kernel_restart_while_a_page_call_runs_its_cell_ends_the_call_and_the_run_goes_on(
    tab, server, restart
):
    run_here(tab, "sleepy", 1)
    restart(tab)
    text = wait_final(tab)  # not aborted: the model is told, and answers
    assert "notebook_run_cell failed: error (page): the kernel restarted while the cell ran" in text, text
    card = tab.panel().locator(".rc-card.rc-call-error")
    assert "the kernel restarted while the cell ran" in card.inner_text()
    calls = [p["call"] for p in tab.api_messages()[-1]["parts"] if p["type"] == "tool"]
    assert [c["status"] for c in calls] == ["error"]


def test_a_kernel_restart_while_a_call_awaits_approval_leaves_it_waiting_and_approve_runs_it_once(
    tab, server
):
    """Nothing ran yet, so nothing was cut: the card waits on through the restart, and the
    approved call runs in the new kernel."""
    posts = tool_posts(tab.page)
    agent_on(tab)
    tab.send(
        '/tool notebook_edit_cell {"cell_id": "sleepy", "source": "print(6 * 7)"}\n/then\n'
        '/tool notebook_run_cell {"cell_id": "sleepy"}'
    )
    approve_first(tab)  # the edit
    card = tab.panel().locator(WAITING, has_text="notebook_run_cell")
    card.wait_for(timeout=TIMEOUT)
    # the page's kernel statuses from now on: the restart is over for the page once it has seen
    # the kernel go (restarting, starting) and come back idle, not when the REST call returns
    tab.page.evaluate(
        """() => { const seen = window.__statuses = [];
             setInterval(() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status;
               if (s && s !== seen.at(-1)) seen.push(s); }, 25); }"""
    )
    restart_kernel(tab)
    tab.page.wait_for_function(
        """() => window.__statuses.some((s) => s !== 'idle') && window.__statuses.at(-1) === 'idle'""",
        timeout=TIMEOUT,
    )
    assert card.count() == 1, "the waiting card went with the kernel"
    approve_first(tab, keyboard=True)
    text = wait_final(tab)
    assert "notebook_run_cell answered: 42" in text, text
    run = [p["call"] for p in tab.api_messages()[-1]["parts"] if p["type"] == "tool"][-1]
    assert run["status"] == "done" and posts.count(f"{run['id']}/result") == 1, posts


def test_revert_takes_back_a_runs_insert_edit_and_delete_newest_first(tab, server):
    agent_on(tab)
    tab.send(
        '/tool notebook_insert_cell {"after": "chat", "source": "a = 1"}\n/then\n'
        '/tool notebook_edit_cell {"cell_id": "sleepy", "source": "b = 2"}\n/then\n'
        '/tool notebook_delete_cell {"cell_id": "sleepy"}'
    )
    approve_each(tab, 3)
    text = wait_final(tab)
    new_id = re.search(r"inserted cell (\S+) \(code\)", text).group(1)  # type: ignore[union-attr]
    saved_cells(tab, lambda cells: [s for _, s in cells][1:] == ["a = 1"])
    revert = tab.panel().get_by_role("button", name="Revert this run's edits")
    revert.click()
    # the deleted cell is back with its id, then its old source; the inserted one is gone
    cells = saved_cells(tab, lambda cells: cells[1:] == [("sleepy", SLEEPY["source"])])
    assert new_id not in [c["id"] for c in cells]
    assert cells[1]["cell_type"] == "code"
    revert.wait_for(state="detached", timeout=TIMEOUT)  # nothing is left to take back


def test_revert_after_a_reload_takes_back_the_runs_edit_and_keeps_a_cell_the_person_changed(tab, server):
    """The undo records outlive the page (this browser's storage): after a reload the finished
    reply still offers Revert; a cell the run wrote and the person changed since is kept."""
    agent_on(tab)
    tab.send(
        '/tool notebook_insert_cell {"after": "chat", "source": "a = 1"}\n/then\n'
        '/tool notebook_edit_cell {"cell_id": "sleepy", "source": "b = 2"}'
    )
    approve_each(tab, 2)
    wait_final(tab)
    saved_cells(tab, lambda cells: [s for _, s in cells][1:] == ["a = 1", "b = 2"])
    tab.page.locator(".jp-Notebook .jp-Cell .cm-content").nth(1).click()  # the run's new cell
    tab.page.keyboard.press("Control+a")
    tab.page.keyboard.type("a = 10")
    saved_cells(tab, lambda cells: [s for _, s in cells][1:] == ["a = 10", "b = 2"])
    tab.page.reload()
    tab.panel().wait_for(timeout=TIMEOUT)
    revert = tab.panel().get_by_role("button", name="Revert this run's edits")
    revert.click()
    tab.wait_notice(r"cell \S+ was changed after the run: kept as it is")
    saved_cells(tab, lambda cells: [s for _, s in cells][1:] == ["a = 10", SLEEPY["source"]])
    revert.wait_for(state="detached", timeout=TIMEOUT)  # both tried: nothing is offered again


def test_each_write_call_is_one_undo_step_in_the_notebook(tab, server):
    agent_on(tab)
    tab.send(
        '/tool notebook_insert_cell {"after": "chat", "source": "first = 1"}\n/then\n'
        '/tool notebook_insert_cell {"after": "chat", "source": "second = 2"}'
    )
    approve_each(tab, 2)
    wait_final(tab)
    saved_cells(tab, lambda cells: [s for _, s in cells][1:3] == ["second = 2", "first = 1"])
    # command mode on the notebook, then undo once: only the second call's cell goes
    tab.page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").last.click()
    tab.page.keyboard.press("Escape")
    tab.page.keyboard.press("z")
    cells = saved_cells(tab, lambda cells: "second = 2" not in [s for _, s in cells])
    assert ["".join(c["source"]) for c in cells][1:] == ["first = 1", SLEEPY["source"]]


def test_two_tabs_approving_together_run_the_call_once(tab, server, frontend, chat_path):
    other = Notebook(tab.page.context.new_page(), server, frontend, path=chat_path).open()
    other.panel().wait_for(timeout=TIMEOUT)
    mine, theirs = tool_posts(tab.page), tool_posts(other.page)
    decided: list[int] = []
    for view in (tab, other):
        view.page.on("response", lambda r: decided.append(r.status) if r.url.endswith("/decision") else None)
    agent_on(tab)
    tab.send('/tool notebook_insert_cell {"after": "chat", "source": "once = 1"}')
    cards = [view.panel().locator(".rc-card.rc-call-awaiting_approval") for view in (tab, other)]
    for card in cards:
        card.wait_for(timeout=TIMEOUT)
    buttons = [card.get_by_role("button", name="Approve", exact=True) for card in cards]
    at = tab.page.evaluate("Date.now()") + 500  # both at the same moment (the pages share a clock)
    for button in buttons:
        button.evaluate("(b, at) => { setTimeout(() => b.click(), at - Date.now()); }", at)
    text = wait_final(tab)
    assert text.count("answered: inserted cell") == 1, text
    call_id = next(p["call"] for p in tab.api_messages()[-1]["parts"] if p["type"] == "tool")["id"]
    assert decided == [200, 200]  # both approved (the same decision twice is no conflict)
    assert (mine + theirs).count(f"{call_id}/result") == 1, (mine, theirs)
    # one page inserted it, in its notebook; the other's notebook is as it was
    count = "() => document.querySelectorAll('.jp-Notebook .jp-Cell').length"
    assert sorted([tab.page.evaluate(count), other.page.evaluate(count)]) == [2, 3]


def test_deny_tells_the_model_and_leaves_the_notebook_as_it_was(tab, server):
    posts = tool_posts(tab.page)
    agent_on(tab)
    tab.send('/tool notebook_edit_cell {"cell_id": "sleepy", "source": "gone = True"}')
    tab.panel().get_by_role("button", name="Deny", exact=True).click()
    text = wait_final(tab)
    assert "notebook_edit_cell failed: The user denied this call." in text, text
    assert posts == []  # never claimed, never run
    cells = saved_cells(tab, lambda cells: len(cells) == 2)
    assert "".join(cells[1]["source"]) == SLEEPY["source"]
