"""The application's shortcuts typed in the chat box reach the application, the
notebook's keys stay in the panel (docs/protocol.md#keys), on JupyterLab 4 and Notebook 7.

One test per front end walks through every shortcut on one server and one tab
(each front end is a server of its own): what passes is read from the page's
own key binding registry, then each named shortcut is pressed in the box and
its effect looked for, as a person would.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser.notebook import TIMEOUT, Notebook

LISTS = """() => { const s = window.jupyterResumechatShortcuts1, p = document.querySelector('.rc-panel');
  const f = (bs) => bs.map((b) => b.keys.join(', ') + ' ' + b.command);
  return {passing: f(s.passing(p)), held: f(s.held(p))}; }"""


def saved_source(tab: Notebook) -> str:
    """The first cell's source on disk, or "" while a save is writing the file: the server
    writes it in place (after a backup copy), so a read mid-save answers "Unreadable Notebook"."""
    with httpx.Client(headers=tab.server.headers, timeout=10) as client:
        answer = client.get(f"{tab.server.base}api/contents/{tab.path}")
    cells = ((answer.json() if answer.status_code == 200 else {}).get("content") or {}).get("cells") or []
    return "".join(cells[0]["source"]) if cells else ""


def wait_saved(tab: Notebook, text: str) -> None:
    """Until the file on disk holds ``text`` (polled; well before the 120 s autosave)."""
    for _ in range(200):
        if text in saved_source(tab):
            return
        tab.page.wait_for_timeout(100)  # polling the file, not a fixed wait
    raise AssertionError("Ctrl+S in the chat box did not save the notebook")


def type_in_box(tab: Notebook, text: str) -> Any:
    box = tab.box()
    box.click()
    box.type(text)
    return box


def test_application_shortcuts_pass_and_notebook_keys_stay(tab, frontend):
    page = tab.page
    lists = page.evaluate(LISTS)
    passing, held = set(lists["passing"]), set(lists["held"])
    expected = {"Ctrl S docmanager:save", "Ctrl Shift C apputils:activate-command-palette"}
    expected |= (
        {"Ctrl B application:toggle-left-area", "Alt W application:close"}
        if frontend == "lab"
        else {"Ctrl B scratchpad-console:open"}
    )
    assert expected <= passing, passing
    assert {"Shift Enter runmenu:run", "Ctrl Enter notebook:run-cell", "B notebook:insert-cell-below"} <= held

    prompts, cells = tab.prompts(), page.locator(".jp-Notebook .jp-Cell").count()
    box = type_in_box(tab, "one")
    box.press("Shift+Enter")  # a new line, never "run the cell"
    box.type("two")
    assert box.input_value() == "one\ntwo"
    assert tab.prompts() == prompts and page.locator(".jp-Notebook .jp-Cell").count() == cells

    # Ctrl+S: an edit made in the cell is saved by the key typed in the chat box.
    page.locator(".jp-Cell .cm-content").first.click()
    page.keyboard.press("End")
    page.keyboard.type("  # edited")
    type_in_box(tab, " three").press("Control+s")
    wait_saved(tab, "# edited")
    assert tab.prompts() == prompts

    palette = page.locator(".lm-CommandPalette").first
    type_in_box(tab, "").press("Control+Shift+c")
    palette.wait_for(state="visible", timeout=TIMEOUT)
    page.keyboard.press("Escape")
    palette.wait_for(state="hidden", timeout=TIMEOUT)

    if frontend == "lab":
        left = page.locator("#jp-left-stack")
        was_open = left.is_visible()
        type_in_box(tab, "").press("Control+b")
        left.wait_for(state="hidden" if was_open else "visible", timeout=TIMEOUT)
        type_in_box(tab, "").press("Alt+w")  # closes the notebook's tab (it is saved: no dialog)
        page.locator(".jp-NotebookPanel").wait_for(state="detached", timeout=TIMEOUT)
    else:
        consoles = page.locator(".jp-CodeConsole").count()
        type_in_box(tab, "").press("Control+b")
        page.wait_for_function(
            "(n) => document.querySelectorAll('.jp-CodeConsole').length > n", arg=consoles, timeout=TIMEOUT
        )
    assert tab.prompts() == prompts or frontend == "lab"  # the closed tab shows no prompts
