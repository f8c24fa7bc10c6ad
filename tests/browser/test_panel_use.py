"""The panel as a person uses it (docs/protocol.md#client-rules), on JupyterLab 4 and Notebook 7.

Keys stay in the panel; no answer to a send leaves it stuck or loses the
draft; Retry and Continue act on their own reply; reasoning, failures, the
model and the title show; the live reply alone is re-rendered and the scroll
is the reader's; a dead server behind a proxy that never closes is noticed.
"""

from __future__ import annotations

import json
import signal
import socket
from typing import Any

import httpx
import pytest

from tests.browser.conftest import start_frontend
from tests.browser.notebook import TIMEOUT, Notebook, long
from tests.support.server_process import TOKEN
from tests.support.tcp_proxy import TcpProxy

LIMIT = 400  # max_message_chars of these servers: a 413 is one paste away


@pytest.fixture(scope="module")
def frontend_traits() -> dict[str, Any]:
    """The module's servers: a 413 one paste away, and reachable at this machine's
    LAN address too (for the plain-http origin test; the others use 127.0.0.1)."""
    return {
        "max_message_chars": LIMIT,
        "extra": ["--ServerApp.ip=0.0.0.0", "--ServerApp.allow_remote_access=True"],
    }


def test_keys_typed_in_the_panel_stay_in_the_panel(tab):
    prompts, cells = tab.prompts(), tab.page.locator(".jp-Notebook .jp-Cell").count()
    box = tab.box()
    box.click()
    box.type("first line")
    box.press("Shift+Enter")  # a new line, not "run the cell"
    box.type("second")
    box.press("Escape")  # not command mode
    box.type("b")  # in command mode: insert a cell below
    box.press("Control+Enter")  # would run the cell in place; here it sends
    tab.wait_reply_count(1)
    assert tab.page.locator(".jp-Notebook .jp-Cell").count() == cells
    assert tab.prompts() == prompts, "a key reached the notebook and ran the cell"
    assert tab.panel().locator(".rc-user .rc-body").last.inner_text() == "first line\nsecondb"
    assert tab.page.evaluate(
        "document.activeElement && document.activeElement.classList.contains('rc-textarea')"
    )


def test_no_answer_to_a_send_sticks_the_panel_or_loses_the_draft(tab):
    page, box = tab.page, tab.box()
    prompt, expected = long(150)
    tab.send(prompt)
    tab.wait_streaming(10)
    box.fill("my next question")
    box.press("Enter")  # a reply streams: refused here, kept in the box
    tab.wait_notice("streaming")
    assert box.input_value() == "my next question"
    tab.wait_reply(expected)

    box.fill("x" * (LIMIT + 1))  # 413
    box.press("Enter")
    tab.wait_notice("too long")
    assert box.input_value() == "x" * (LIMIT + 1)
    tab.wait_idle()

    url = "**/resumechat/api/conversations/*/messages"
    page.route(
        url,
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps({"error": "unavailable", "detail": "the database is down"}),
        ),
    )
    box.fill("while it is down")
    box.press("Enter")
    tab.wait_notice("the database is down")
    page.unroute(url)
    assert box.input_value() == "while it is down"

    def lose_the_answer(route):
        route.fetch()  # the server accepts the message; the answer never arrives
        route.abort("connectionreset")

    page.route(url, lose_the_answer)
    box.press("Enter")
    tab.wait_notice("could not reach the server")
    page.unroute(url)
    assert box.input_value() == "while it is down"
    box.press("Enter")  # the same draft, the same client_id: no second turn
    tab.wait_reply_count(2)
    tab.wait_idle()
    assert box.input_value() == ""
    contents = [m["content"] for m in tab.api_messages()]
    assert contents.count("while it is down") == 1, contents


def test_retry_and_continue_act_on_their_own_reply(tab):
    tab.send("/fail 3")
    failed = tab.panel().locator(".rc-assistant.rc-status-error").last
    failed.wait_for(timeout=TIMEOUT)
    assert "demo model failed" in failed.locator(".rc-note").inner_text()  # on the reply itself
    before = tab.api_messages()[-1]["updated_at"]
    failed.get_by_role("button", name="Retry").click()
    tab.wait_api(lambda m: m[-1]["updated_at"] != before and m[-1]["status"] == "error")
    tab.page.wait_for_function(
        "() => document.querySelectorAll('.rc-panel .rc-assistant.rc-status-error').length === 1"
        " && !document.querySelector('.rc-panel .rc-status-streaming')",
        timeout=TIMEOUT,
    )
    tab.wait_idle()
    assert (tab.count(".rc-user"), tab.count(".rc-assistant")) == (1, 1), "Retry added a turn"

    prompt, expected = long(400)
    tab.send(prompt)
    tab.wait_streaming(60)
    tab.panel().get_by_role("button", name="Stop").click()
    stopped = tab.panel().locator(".rc-assistant.rc-status-aborted").last
    stopped.wait_for(timeout=TIMEOUT)
    stopped.get_by_role("button", name="Continue").click()  # Continue after Stop
    tab.wait_reply(expected)  # the uninterrupted reply, in place
    assert (tab.count(".rc-user"), tab.count(".rc-assistant")) == (2, 2)
    assert [m["content"] for m in tab.api_messages()].count(prompt) == 1


def test_reasoning_model_time_and_title_show(tab):
    tab.send("/think weighing the options one by one\n/pace 0.03 /repeat 80 ok ")
    tab.page.wait_for_function(
        "() => { const r = document.querySelector('.rc-panel .rc-status-streaming .rc-reasoning');"
        " return r && !r.hidden && r.open && r.innerText.includes('weighing the options'); }",
        timeout=TIMEOUT,
    )
    tab.wait_reply(("ok " * 80).strip())
    reply = tab.panel().locator(".rc-assistant").last
    assert "weighing the options one by one" in reply.locator(".rc-reasoning-body").inner_text()
    reply.locator(".rc-reasoning summary").click()  # collapsible
    assert reply.locator(".rc-meta").inner_text().startswith("demo · ")
    tab.page.wait_for_function(
        "() => document.querySelector('.rc-panel .rc-title').textContent.startsWith('/think weighing')",
        timeout=TIMEOUT,
    )


def test_only_the_live_reply_redraws_and_the_scroll_is_the_readers(tab):
    tab.send("/repeat 3 first reply ")
    tab.wait_reply("first reply first reply first reply")
    tab.page.evaluate("document.querySelector('.rc-panel .rc-user').__kept = 1")
    tab.send("/pace 0.02 /repeat 400 para\n\n")
    tab.wait_streaming(200)
    scrolled = tab.page.evaluate(
        "() => { const l = document.querySelector('.rc-panel .rc-messages'); l.scrollTop = 0; return l.scrollHeight > l.clientHeight; }"
    )
    assert scrolled
    tab.wait_streaming(1200)
    assert tab.page.evaluate("document.querySelector('.rc-panel .rc-messages').scrollTop") == 0, "yanked down"
    assert tab.page.evaluate("document.querySelector('.rc-panel .rc-user').__kept") == 1, (
        "an old message was rebuilt"
    )


def test_keyboard_only_and_one_announcement_per_reply(tab):
    tab.page.evaluate(
        """() => { window.__said = [];
             const sr = document.querySelector('.rc-panel .rc-sr-only');
             new MutationObserver(() => window.__said.push(sr.textContent)).observe(sr, {childList: true, characterData: true, subtree: true}); }"""
    )
    box = tab.box()
    box.focus()
    tab.page.keyboard.type("/pace 0.01 /repeat 50 tok ")
    tab.page.keyboard.press("Tab")
    assert tab.page.evaluate("document.activeElement.textContent") == "Send"
    tab.page.keyboard.press("Enter")
    tab.wait_reply(("tok " * 50).strip())
    said = tab.page.evaluate("window.__said")
    assert len(said) == 1 and said[0].startswith("Reply finished: tok tok"), said
    assert tab.panel().locator(".rc-messages").get_attribute("aria-live") is None  # not every token
    assert tab.panel().locator(".rc-assistant").last.get_attribute("aria-busy") is None


def test_an_event_source_left_open_at_the_final_stops_reconnecting(tab, server):
    with httpx.Client(headers=server.headers, timeout=30) as http:
        cid = http.post(server.url("conversations"), json={}).json()["id"]
        sid = http.post(server.url(f"conversations/{cid}/messages"), json={"content": "hi"}).json()[
            "stream_id"
        ]
        with http.stream("GET", server.url(f"streams/{sid}/events")) as events:
            last = [line for line in events.iter_lines() if line.startswith("id:")][-1]
    final_id = int(last.split(":")[1])
    url = server.url(f"streams/{sid}/events?last_event_id={final_id}&token={TOKEN}")
    closed = tab.page.evaluate(
        """(url) => new Promise((resolve) => { const es = new EventSource(url); let opened = 0;
             es.onopen = () => { opened += 1; };
             es.onerror = () => { if (es.readyState === EventSource.CLOSED) resolve({opened}); }; })""",
        url,
    )
    assert closed == {"opened": 0}  # 204: no stream opened, and no reconnect


def outside_address() -> str | None:
    """This machine's address that is not loopback (a LAN origin is not a secure context)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_sending_from_a_plain_http_origin_that_is_not_localhost(browser, server, frontend, chat_path):
    address = outside_address()
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        if address is None:  # no LAN address: take the secure-context API away instead
            page.add_init_script("delete Crypto.prototype.randomUUID")
        base = f"http://{address or '127.0.0.1'}:{server.port}/"
        tab = Notebook(page, server, frontend, base=base, path=chat_path).open()
        if address is not None:
            assert page.evaluate("window.isSecureContext") is False
        assert page.evaluate("typeof crypto.randomUUID") == "undefined"
        tab.run_cell()
        tab.send("/repeat 5 lan ")
        tab.wait_reply("lan lan lan lan lan")
    finally:
        context.close()


def test_a_dead_server_behind_a_proxy_that_never_closes_is_noticed(browser, tmp_path, frontend):
    """A server of its own: this one is killed and started again, with a quick heartbeat."""
    server = start_frontend(tmp_path, frontend, heartbeat_interval=0.5, checkpoint_interval=0.1)
    proxy = TcpProxy(("127.0.0.1", server.port), never_close=True)
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        tab = Notebook(context.new_page(), server, frontend, base=f"http://{proxy.address}/").open()
        tab.run_cell()
        prompt, _ = long(3000)
        tab.send(prompt)
        tab.wait_streaming(100)
        server.kill(signal.SIGKILL)  # the proxy keeps the page's connection open and silent
        server.start()
        interrupted = tab.panel().locator(".rc-assistant.rc-status-interrupted")
        interrupted.wait_for(timeout=TIMEOUT)
        assert interrupted.locator(".rc-body").inner_text().startswith("word word")
        tab.wait_idle()
    finally:
        context.close()
        proxy.stop()
        server.stop()


def test_a_misconfigured_chat_says_what_to_fix(browser, tmp_path, frontend):
    """Not a blank panel or "not found": the 503's detail names the trait (docs/protocol.md#named-failures).
    A server of its own: its chat cannot start."""
    server = start_frontend(tmp_path, frontend, stream_backend="kafka://broker:9092", ready=(503,))
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        tab = Notebook(context.new_page(), server, frontend).open()
        tab.run_cell()
        tab.page.wait_for_function(
            "() => /Could not load the chat: ResumeChat.stream_backend: 'kafka:\\/\\/broker:9092' is not a backend/"
            ".test(document.querySelector('.rc-panel .rc-status-text').textContent)",
            timeout=TIMEOUT,
        )
        assert "not found" not in tab.panel().inner_text().lower()
        # the failure is in the error colour (the phase is `failed`)
        assert (
            tab.panel()
            .locator(".rc-status-text")
            .evaluate(
                """(el) => { const probe = document.createElement('span');
                 probe.style.color = 'var(--jp-error-color1)'; el.append(probe);
                 const same = getComputedStyle(el).color === getComputedStyle(probe).color;
                 probe.remove(); return same; }"""
            )
        ), "the failure is not shown in the error colour"
    finally:
        context.close()
        server.stop()
