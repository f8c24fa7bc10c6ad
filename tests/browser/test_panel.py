"""The ChatPanel in a real browser, on JupyterLab 4 and Notebook 7 (docs/protocol.md#client-rules)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.browser.notebook import TIMEOUT, Notebook, long

DOCS = Path(__file__).resolve().parents[2] / "docs"
ERRORS = re.compile(r"error|expired|not found|failed", re.I)


def test_finished_reply_survives_a_reload_with_no_error(tab):
    tab.send("/pace 0.01 /repeat 30 hello ")
    tab.wait_reply(("hello " * 30).strip())
    tab.page.reload()
    tab.panel().wait_for(timeout=TIMEOUT)
    tab.wait_reply(("hello " * 30).strip())
    assert not ERRORS.search(tab.panel().inner_text())


def test_reload_mid_stream_continues_to_the_full_text(tab):
    prompt, expected = long(250)
    tab.send(prompt)
    tab.wait_streaming(50)
    tab.page.reload()
    tab.panel().wait_for(timeout=TIMEOUT)
    tab.wait_reply(expected)
    assert not ERRORS.search(tab.status_text())


def test_send_after_an_inactive_check_attaches_at_once(tab):
    """The first render found no active stream; sending must still attach, and a reload right after too."""
    prompt, expected = long(120)
    tab.send(prompt)
    tab.page.reload()
    tab.panel().wait_for(timeout=TIMEOUT)
    tab.wait_reply(expected)


def test_kernel_restart_mid_stream_then_rerun(tab, server):
    prompt, expected = long(300)
    tab.send(prompt)
    tab.wait_streaming(40)
    with httpx.Client(headers=server.headers) as client:
        kernel = client.get(server.base + "api/kernels").json()[0]["id"]
        assert client.post(server.base + f"api/kernels/{kernel}/restart").status_code == 200
    tab.run_cell()  # the same notebook path: the same conversation
    tab.wait_reply(expected)


def test_two_tabs_end_with_the_same_text(tab, server, frontend):
    other = Notebook(tab.page.context.new_page(), server, frontend, path=tab.path).open()
    other.panel().wait_for(timeout=TIMEOUT)
    prompt, expected = long(150, "ça ")
    tab.send(prompt)
    tab.wait_reply(expected)
    other.wait_reply(expected)
    assert tab.reply_text() == other.reply_text()


def test_model_output_never_executes(tab):
    payload = (
        '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> '
        '[click me](javascript:window.__pwned=3) <a href="javascript:window.__pwned=4">raw</a>'
    )
    tab.send(f"/repeat 1 {payload}")
    tab.page.wait_for_function(
        "() => [...document.querySelectorAll('.rc-panel .rc-assistant')].some(b => !b.classList.contains('rc-status-streaming'))",
        timeout=TIMEOUT,
    )
    body = tab.panel().locator(".rc-assistant .rc-body").last
    body.locator(".jp-RenderedMarkdown").wait_for(timeout=TIMEOUT)  # JupyterLab's renderer is asynchronous
    assert body.locator("img, script").count() == 0
    for link in body.locator("a").all():
        assert not (link.get_attribute("href") or "").lower().startswith("javascript")
        link.click(modifiers=["Control"]) if link.get_attribute("href") else None
    if body.locator("a").count() == 0:
        body.get_by_text("click me").click()
    tab.page.wait_for_timeout(300)
    assert tab.page.evaluate("window.__pwned") is None
    # rendered as JupyterLab renders an untrusted markdown cell: the script is dropped, not shown or run
    assert body.locator(".jp-RenderedMarkdown").count() == 1


def test_stop_keeps_the_partial_reply_after_a_reload(tab):
    prompt, _ = long(1000)
    tab.send(prompt)
    tab.wait_streaming(100)
    tab.panel().get_by_role("button", name="Stop").click()
    tab.page.wait_for_function(
        "() => document.querySelector('.rc-panel .rc-assistant.rc-status-aborted')", timeout=TIMEOUT
    )
    kept = tab.reply_text()
    assert len(kept) >= 100 and kept.startswith("word word")
    tab.page.reload()
    tab.panel().wait_for(timeout=TIMEOUT)
    tab.page.wait_for_function(
        "() => document.querySelector('.rc-panel .rc-assistant.rc-status-aborted')", timeout=TIMEOUT
    )
    assert tab.reply_text() == kept
