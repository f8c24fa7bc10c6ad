"""Decoding events and rebuilding a reply, with strings only."""

import pytest

from jupyter_resumechat.client import Reply, decode_event
from jupyter_resumechat.models import EventKind

MESSAGE = (
    '{"message":{"id":"m","conversation_id":"c","role":"assistant","content":"héllo",'
    '"status":"complete","model":"demo","error":null,"created_at":"2026-01-01T00:00:00Z",'
    '"updated_at":"2026-01-01T00:00:01Z"}}'
)


def test_decode_and_rebuild() -> None:
    reply = Reply()
    reply.apply(
        decode_event(
            "snapshot", '{"message_id":"m","content":"hé","reasoning":"r","status":"streaming"}', "2"
        )
    )
    reply.apply(decode_event("delta", '{"text":"l"}', "3"))
    reply.apply(decode_event("delta", '{"reasoning":"+"}', "4"))
    reply.apply(decode_event("delta", '{"text":"lo"}', "5"))
    assert (reply.content, reply.reasoning, reply.last_id) == ("héllo", "r+", 5)
    final = decode_event("final", MESSAGE, "6")
    assert final.kind is EventKind.FINAL and final.message.content == "héllo"
    reply.apply(final)
    assert reply.message is final.message and reply.content == "héllo"


@pytest.mark.parametrize(
    ("event", "data", "id_"),
    [
        ("delta", "{bad", "1"),
        ("nope", "{}", "1"),
        ("delta", '{"text":"x"}', "x"),
        ("final", "{}", "2"),
    ],
)
def test_malformed_events_raise(event, data, id_) -> None:
    with pytest.raises((ValueError, KeyError)):
        decode_event(event, data, id_)
