"""The panel's conversation switcher, on JupyterLab 4 and Notebook 7: after "New
conversation" the earlier one is a choice away, in the kernel-free view and in the
widget view, and the kernel's ``panel`` follows the conversation the view shows;
its menu searches every conversation and no output area clips it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser.notebook import TIMEOUT, Notebook
from tests.browser.test_kernel_free import in_thread, kernels
from tests.support.kernel import execute

PANEL = "panel = [o for o in Out.values() if type(o).__name__ == 'ChatPanel'][-1]\n"


def kernel_follows(server: Any, tab: Notebook, conversation_id: str, text: str) -> None:
    """Until the kernel's ``panel`` names ``conversation_id`` and its messages hold ``text``."""
    (kernel,) = kernels(server)
    code = PANEL + "print(panel.conversation_id, '|'.join(m.content for m in panel.messages))"
    out = ""
    for _ in range(TIMEOUT // 250):
        out, errors = in_thread(execute(server.base, server.headers, kernel, code))
        assert not errors, errors
        if out.startswith(conversation_id) and text in out:
            return
        tab.page.wait_for_timeout(250)  # polling the kernel, not a fixed wait
    raise AssertionError(f"the kernel's panel did not follow the view: {out!r}")


def conversation_ids(server: Any) -> list[str]:
    """Newest first."""
    with httpx.Client(headers=server.headers, timeout=30) as client:
        return [c["id"] for c in client.get(server.url("conversations")).json()["conversations"]]


def two_conversations(tab: Notebook) -> None:
    """One reply, then "New conversation" and a reply there."""
    tab.send("/repeat 2 first ")
    tab.wait_reply("first first")
    tab.panel().get_by_role("button", name="New conversation").click()
    tab.page.wait_for_function("() => !document.querySelector('.rc-panel .rc-assistant')", timeout=TIMEOUT)
    tab.send("/repeat 2 second ")
    tab.wait_reply("second second")


def switch_back_by_keyboard(tab: Notebook) -> None:
    """Open the switcher, check what it offers, and choose the earlier conversation with the keys."""
    panel, page = tab.panel(), tab.page
    opener = panel.get_by_role("button", name="Conversations")
    opener.focus()
    page.keyboard.press("Enter")
    assert opener.get_attribute("aria-expanded") == "true"
    items = page.get_by_role("menu", name="Conversations").get_by_role("menuitemradio")  # a popup on <body>
    items.nth(1).wait_for(timeout=TIMEOUT)
    assert items.count() == 2
    assert "second" in items.nth(0).inner_text() and "first" in items.nth(1).inner_text()  # newest first
    assert items.nth(0).get_attribute("aria-checked") == "true"  # the one shown, focused
    assert page.evaluate("document.activeElement.dataset.id") == items.nth(0).get_attribute("data-id")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    tab.wait_reply("first first")
    assert opener.get_attribute("aria-expanded") == "false"
    # the focus is back on the button
    assert page.evaluate("document.activeElement.classList.contains('rc-history')")
    assert panel.locator(".rc-assistant").count() == 1


def test_the_switcher_goes_back_after_new_conversation(tab, server):
    """The kernel-free view (what JupyterLab and Notebook 7 show), with its kernel alive."""
    tab.page.locator(".rc-mime .rc-panel").first.wait_for(timeout=TIMEOUT)
    two_conversations(tab)
    second, first = conversation_ids(server)
    kernel_follows(server, tab, second, "second second")
    switch_back_by_keyboard(tab)
    kernel_follows(server, tab, first, "first first")

    tab.send("/repeat 2 again ")  # it is the earlier conversation that goes on
    tab.wait_reply("again again")
    kernel_follows(server, tab, first, "again again")
    tab.panel().get_by_role("button", name="Conversations").click()
    item = tab.page.locator(f'.rc-history-item[data-id="{second}"]')
    item.click()
    tab.wait_reply("second second")
    kernel_follows(server, tab, second, "second second")


def test_the_switcher_in_the_widget_view(browser, server, frontend, chat_path):
    """Where the extension is absent the widget view (index.js) draws the panel: the same switcher."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        page.route("**/extensions/jupyter-resumechat/**", lambda route: route.abort())
        tab = Notebook(page, server, frontend, path=chat_path).open()
        tab.run_cell()
        assert page.locator(".rc-mime").count() == 0  # the widget view, not the extension's
        two_conversations(tab)
        second, first = conversation_ids(server)
        kernel_follows(server, tab, second, "second second")
        switch_back_by_keyboard(tab)
        kernel_follows(server, tab, first, "first first")
    finally:
        context.close()


def test_the_switcher_searches_every_conversation_and_is_never_clipped(tab, server):
    """Forty conversations (more than the 30 newest it offered), opened from a panel with
    no messages yet, where the output area cut the menu off after four rows."""
    with httpx.Client(headers=server.headers, timeout=30) as client:
        for n in range(40):
            made = client.post(server.url("conversations"), json={"title": f"topic {n:02d}"})
            assert made.status_code == 201, made.text
    page, panel = tab.page, tab.panel()
    panel.get_by_role("button", name="Conversations").click()
    menu = page.get_by_role("menu", name="Conversations")
    items = menu.get_by_role("menuitemradio")
    items.nth(40).wait_for(timeout=TIMEOUT)  # every one, and this panel's own
    items.first.scroll_into_view_if_needed()  # the focus went to this panel's own, the oldest
    shown = page.evaluate(
        """() => [...document.querySelectorAll('.rc-history-item')].slice(0, 6).map((item) => {
             const r = item.getBoundingClientRect();
             const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
             return !!top && item.contains(top); })"""
    )
    assert shown == [True] * 6, f"rows hidden under something else: {shown}"
    menu.get_by_role("textbox").fill("topic 00")  # the oldest: beyond the 30 newest
    items.first.wait_for(timeout=TIMEOUT)
    page.wait_for_function("() => document.querySelectorAll('.rc-history-item').length === 1")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.rc-panel .rc-title').textContent === 'topic 00'", timeout=TIMEOUT
    )
    assert panel.locator(".rc-assistant").count() == 0
