"""Page calls when the notebook changes under a run, in a real browser with a real kernel
(issue 21): a kernel that restarts while a page call's cell runs ends that call with an
error the model is told of, and the run goes on; each write call is one undo step in the
notebook, and a reply's "Revert this run's edits" takes its edits back, newest first."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.browser.conftest import NOTEBOOK
from tests.browser.notebook import TIMEOUT, Notebook
from tests.browser.test_page_tools import agent_on, approve, approve_each, wait_final

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


def test_a_kernel_restart_while_a_page_call_runs_its_cell_ends_the_call_and_the_run_goes_on(tab, server):
    agent_on(tab)
    tab.send('/tool notebook_run_cell {"cell_id": "sleepy"}')
    approve(tab)
    tab.panel().locator(".rc-card.rc-call-running", has_text="Running here").wait_for(timeout=TIMEOUT)
    tab.page.wait_for_function(
        """() => document.querySelectorAll('.jp-Notebook .jp-InputPrompt')[1].textContent.includes('[*]')""",
        timeout=TIMEOUT,
    )
    restart_kernel(tab)
    text = wait_final(tab)  # not aborted: the model is told, and answers
    assert "notebook_run_cell failed: error (page): the kernel restarted while the cell ran" in text, text
    card = tab.panel().locator(".rc-card.rc-call-error")
    assert "the kernel restarted while the cell ran" in card.inner_text()
    calls = [p["call"] for p in tab.api_messages()[-1]["parts"] if p["type"] == "tool"]
    assert [c["status"] for c in calls] == ["error"]


def saved_cells(view: Notebook, wanted: Any) -> list[dict[str, Any]]:
    """Save (Ctrl+S, again every few seconds) until the file's cells satisfy ``wanted``
    (given ``[(id, source), …]``); the file's cells."""
    url = f"{view.server.base}api/contents/{view.path}"
    cells: list[dict[str, Any]] = []
    with httpx.Client(headers=view.server.headers, timeout=10) as client:
        for attempt in range(TIMEOUT // 100):
            view.dismiss_dialogs()
            if attempt % 30 == 0:
                view.page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first.click()
                view.page.keyboard.press("Control+s")
            answer = client.get(url)
            model = answer.json() if answer.status_code == 200 else {}
            cells = (model.get("content") or {}).get("cells") or []
            source = lambda c: "".join(c["source"]) if isinstance(c["source"], list) else c["source"]  # noqa: E731
            if cells and wanted([(c["id"], source(c)) for c in cells]):
                return cells
            view.page.wait_for_timeout(100)  # polling the condition
    raise AssertionError(f"the saved notebook never matched: {cells}")


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
