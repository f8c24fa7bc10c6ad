"""``regenerate`` and ``continue`` (docs/protocol.md#send), and the title a first message gives.

Neither adds a user turn; both act on the latest reply only, keep its id and
stream under a new stream id; a continued reply's stream carries its whole
text (the earlier part first), so a reader rebuilds exactly what is committed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.fixtures import rebuild

SLOW = "/pace 0.01 /repeat 400 ab "  # the whole reply: "ab " * 400
WHOLE = "ab " * 400


async def stopped_reply(api: Any, cid: str, prompt: str = SLOW) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send, read some of the reply, stop it: (the send's answer, the aborted reply)."""
    sent = await api.send(cid, prompt)
    await api.events(sent["stream_id"], stop_after=5)
    stopped = await api.request("POST", f"streams/{sent['stream_id']}/abort")
    assert stopped.status_code == 200, stopped.text
    return sent, stopped.json()


async def again(api: Any, cid: str, **body: Any) -> Any:
    return await api.request("POST", f"conversations/{cid}/messages", json=body)


async def test_regenerate_replaces_the_reply_without_a_new_user_turn(api):
    conv = await api.conversation()
    sent, aborted = await stopped_reply(api, conv["id"])
    assert aborted["status"] == "aborted" and 0 < len(aborted["content"]) < len(WHOLE)

    answer = await again(api, conv["id"], regenerate=aborted["id"])
    assert answer.status_code == 202, answer.text
    redo = answer.json()
    assert redo["user_message"]["id"] == sent["user_message"]["id"]
    assert redo["assistant_message"]["id"] == aborted["id"]
    assert redo["assistant_message"]["status"] == "streaming" and redo["assistant_message"]["content"] == ""
    assert redo["stream_id"] != sent["stream_id"]

    read = await api.events(redo["stream_id"])
    final = read.events[-1].data["message"]
    assert final["status"] == "complete" and final["content"] == WHOLE == read.text
    messages = await api.messages(conv["id"])
    assert [(m["role"], m["id"]) for m in messages] == [
        ("user", sent["user_message"]["id"]),
        ("assistant", aborted["id"]),
    ]
    assert messages[1]["content"] == WHOLE and messages[1]["error"] is None


async def test_regenerate_after_a_model_failure_clears_the_error(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/fail 3")
    failed = await api.wait_final(sent["stream_id"])
    assert failed["status"] == "error" and failed["error"]["type"] == "demo_failure"
    redo = (await again(api, conv["id"], regenerate=failed["id"])).json()
    assert redo["assistant_message"]["error"] is None
    final = await api.wait_final(redo["stream_id"])
    assert final["status"] == "error"  # the demo model fails the same way again, on the same reply
    assert len(await api.messages(conv["id"])) == 2


async def test_continue_extends_the_reply_in_place(api):
    conv = await api.conversation()
    _, aborted = await stopped_reply(api, conv["id"])
    kept = aborted["content"]

    answer = await again(api, conv["id"], **{"continue": aborted["id"]})
    assert answer.status_code == 202, answer.text
    more = answer.json()
    assert more["assistant_message"]["id"] == aborted["id"]
    assert more["assistant_message"]["content"] == kept  # the text so far stays while it streams

    read = await api.events(more["stream_id"])
    final = read.events[-1].data["message"]
    assert final["status"] == "complete"
    assert final["content"] == WHOLE, "the continued reply is the uninterrupted one"
    assert rebuild(read.events) == WHOLE
    resumed = await api.events(more["stream_id"], last_id=0)  # every event from the first
    assert rebuild(resumed.events) == WHOLE
    messages = await api.messages(conv["id"])
    assert len(messages) == 2 and messages[1]["content"] == WHOLE


async def test_continue_while_streaming_is_409_and_changes_nothing(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], SLOW)
    busy = await again(api, conv["id"], **{"continue": sent["assistant_message"]["id"]})
    assert busy.status_code == 409 and busy.json()["stream_id"] == sent["stream_id"]
    busy = await again(api, conv["id"], regenerate=sent["assistant_message"]["id"])
    assert busy.status_code == 409
    final = await api.wait_final(sent["stream_id"])
    assert final["content"] == WHOLE


async def test_only_the_latest_reply_and_only_a_reply(api):
    conv = await api.conversation()
    first = await api.send(conv["id"], "one")
    await api.wait_final(first["stream_id"])
    second = await api.send(conv["id"], "two")
    await api.wait_final(second["stream_id"])
    for body, status in [
        ({"regenerate": first["assistant_message"]["id"]}, 400),  # not the latest
        ({"continue": second["user_message"]["id"]}, 400),  # not a reply
        ({"regenerate": "no-such-message"}, 404),
        ({"regenerate": second["assistant_message"]["id"], "content": "x"}, 400),
        (
            {"regenerate": second["assistant_message"]["id"], "continue": second["assistant_message"]["id"]},
            400,
        ),
        ({"regenerate": 7}, 400),
    ]:
        answer = await again(api, conv["id"], **body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["error"]
    other = await api.conversation()
    answer = await again(api, other["id"], regenerate=second["assistant_message"]["id"])
    assert answer.status_code == 404  # a message of another conversation is unknown here
    assert [m["content"] for m in await api.messages(conv["id"])][::2] == ["one", "two"]


async def test_a_retried_regenerate_starts_one_generation(api):
    conv = await api.conversation()
    _, aborted = await stopped_reply(api, conv["id"])
    answers = await asyncio.gather(
        *[again(api, conv["id"], regenerate=aborted["id"], client_id="retry-1") for _ in range(3)]
    )
    ok = [a.json()["stream_id"] for a in answers if a.status_code == 202]
    assert ok and len(set(ok)) == 1, [a.text for a in answers]
    assert all(a.status_code in (202, 409) for a in answers)
    final = await api.wait_final(ok[0])
    repeat = await again(api, conv["id"], regenerate=aborted["id"], client_id="retry-1")
    assert repeat.status_code == 202 and repeat.json()["stream_id"] == ok[0]
    assert final["content"] == WHOLE


async def test_the_first_message_titles_the_conversation(api):
    conv = await api.conversation()
    assert conv["title"] == ""
    long = "Explain   the difference between a process and a thread in Python, with an example please"
    sent = await api.send(conv["id"], long)
    await api.wait_final(sent["stream_id"])
    title = (await api.request("GET", f"conversations/{conv['id']}")).json()["title"]
    assert title.startswith("Explain the difference between a process") and title.endswith("…")
    assert len(title) <= 61 and "  " not in title
    renamed = await api.request("PATCH", f"conversations/{conv['id']}", json={"title": "Mine"})
    assert renamed.status_code == 200
    sent = await api.send(conv["id"], "another message")
    await api.wait_final(sent["stream_id"])
    assert (await api.request("GET", f"conversations/{conv['id']}")).json()["title"] == "Mine"
    named = await api.conversation(title="Given")
    sent = await api.send(named["id"], "hello")
    await api.wait_final(sent["stream_id"])
    assert (await api.request("GET", f"conversations/{named['id']}")).json()["title"] == "Given"
