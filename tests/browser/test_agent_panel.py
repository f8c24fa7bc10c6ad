"""An agent run in the panel, in a real browser (docs/protocol.md#agent-runs, client rule 14):
a call that waits for approval is a card with Approve / Deny, it is still there after
a tab reload (the wait lives in the database), and Approve in the page runs it once."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser.notebook import TIMEOUT


def start_run(server: Any, content: str) -> tuple[str, str]:
    """A run with tools in the panel's own conversation (the newest: the test's notebook)."""
    with httpx.Client(headers=server.headers, timeout=30) as client:
        conv = client.get(server.url("conversations")).json()["conversations"][0]
        answer = client.post(
            server.url(f"conversations/{conv['id']}/messages"), json={"content": content, "tools": "all"}
        )
        assert answer.status_code == 202, answer.text
        return conv["id"], answer.json()["stream_id"]


def awaiting(server: Any, cid: str) -> str | None:
    with httpx.Client(headers=server.headers, timeout=30) as client:
        return client.get(server.url(f"conversations/{cid}/stream")).json()["awaiting"]


def wait_awaiting(tab: Any, server: Any, cid: str) -> None:
    """Until the run waits for a decision (polled, not slept)."""
    for _ in range(TIMEOUT // 100):
        if awaiting(server, cid) == "approval":
            return
        tab.page.wait_for_timeout(100)
    raise AssertionError("the run never waited for a decision")


def test_a_pending_approval_survives_a_reload_and_approve_in_the_page_runs_it_once(tab, server):
    name = f"agent-{tab.page.url.rsplit('/', 1)[-1].split('.')[0][-12:]}.txt"
    cid, _ = start_run(server, f'/tool file_write {{"path": "{name}", "content": "once"}}')
    wait_awaiting(tab, server, cid)
    tab.page.reload()  # the view learns of the run as any returning view does
    tab.panel().wait_for(timeout=TIMEOUT)
    card = tab.panel().locator(".rc-card.rc-call-awaiting_approval")
    card.wait_for(timeout=TIMEOUT)
    assert "file_write" in card.inner_text()
    assert not (server.root / name).exists()
    card.get_by_role("button", name="Approve", exact=True).click()
    tab.panel().locator(".rc-card.rc-call-done").wait_for(timeout=TIMEOUT)
    tab.wait_api(lambda messages: messages[-1]["status"] == "complete")
    assert "answered: wrote 4 bytes" in tab.reply_text()
    assert (server.root / name).read_text() == "once"
    assert tab.panel().get_by_role("button", name="Approve", exact=True).count() == 0


def test_the_first_decision_wins_in_every_open_view(tab, server, frontend, chat_path):
    from tests.browser.notebook import Notebook

    name = f"agent-two-{frontend}.txt"
    cid, _ = start_run(server, f'/tool file_write {{"path": "{name}", "content": "x"}}')
    wait_awaiting(tab, server, cid)
    tab.page.reload()
    tab.panel().wait_for(timeout=TIMEOUT)
    other = Notebook(tab.page.context.new_page(), server, frontend, path=chat_path).open()
    other.panel().wait_for(timeout=TIMEOUT)
    for view in (tab, other):
        view.panel().locator(".rc-card.rc-call-awaiting_approval").wait_for(timeout=TIMEOUT)
    other.panel().get_by_role("button", name="Deny", exact=True).click()
    # the view that did not decide shows the decision at once, from its own stream
    tab.panel().locator(".rc-card.rc-call-denied").wait_for(timeout=TIMEOUT)
    assert tab.panel().get_by_role("button", name="Approve", exact=True).count() == 0
    tab.wait_api(lambda messages: messages[-1]["status"] == "complete")
    assert not (server.root / name).exists()
