"""Page calls when the notebook changes under a run, in a real browser with a real kernel
(issue 21): a kernel that restarts while a page call's cell runs ends that call with an
error the model is told of, and the run goes on."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import NOTEBOOK
from tests.browser.notebook import TIMEOUT, Notebook
from tests.browser.test_page_tools import agent_on, approve, wait_final

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
