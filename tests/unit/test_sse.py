"""The SSE wire format, byte for byte."""

import pytest

from jupyter_resumechat.errors import InvalidRequest
from jupyter_resumechat.eventstream import (
    decode_block,
    encode_comment,
    encode_event,
    encode_retry,
    parse_last_id,
)
from jupyter_resumechat.models import Event, EventKind


@pytest.mark.parametrize(
    ("event", "wire"),
    [
        (Event(1, EventKind.DELTA, {"text": "hi"}), b'id: 1\nevent: delta\ndata: {"text":"hi"}\n\n'),
        (Event(2, EventKind.DELTA, {"text": "a\nb"}), b'id: 2\nevent: delta\ndata: {"text":"a\\nb"}\n\n'),
        (
            Event(3, EventKind.DELTA, {"text": "é😀"}),
            'id: 3\nevent: delta\ndata: {"text":"é😀"}\n\n'.encode(),
        ),
        (
            Event(4, EventKind.DELTA, {"reasoning": "hmm"}),
            b'id: 4\nevent: delta\ndata: {"reasoning":"hmm"}\n\n',
        ),
        (Event(0, EventKind.SNAPSHOT, {"content": ""}), b'id: 0\nevent: snapshot\ndata: {"content":""}\n\n'),
        (
            Event(9, EventKind.FINAL, {"message": {"a": None}}),
            b'id: 9\nevent: final\ndata: {"message":{"a":null}}\n\n',
        ),
        (
            Event(5, EventKind.DELTA, {"text": "\r\n\u2028"}),
            'id: 5\nevent: delta\ndata: {"text":"\\r\\n\u2028"}\n\n'.encode(),
        ),
    ],
)
def test_encode_event(event: Event, wire: bytes) -> None:
    assert encode_event(event) == wire


def test_retry_and_comments() -> None:
    assert encode_retry(2000) == b"retry: 2000\n\n"
    assert encode_comment("keepalive") == b": keepalive\n\n"
    assert encode_comment("a\nb") == b": a\n: b\n\n"
    assert encode_comment("") == b": \n\n"


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [
        (None, None, None),
        ("", None, None),
        ("7", None, 7),
        (None, "8", 8),
        ("7", "8", 7),
        ("", "3", 3),
        (" 12 ", None, 12),
        ("0", None, 0),
    ],
)
def test_parse_last_id(header, query, expected) -> None:
    assert parse_last_id(header, query) == expected


@pytest.mark.parametrize("bad", ["-1", "abc", "1.5", "1e3", "99999999999999999999", "٣"])
def test_parse_last_id_rejects(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_last_id(bad, None)


@pytest.mark.parametrize(
    ("block", "kind", "id_", "text", "content"),
    [
        (b'id: 3\nevent: delta\ndata: {"text":"hi"}', EventKind.DELTA, 3, "hi", ""),
        ('id: 4\nevent: delta\ndata: {"text":"é😀"}'.encode(), EventKind.DELTA, 4, "é😀", ""),
        (b'id:5\nevent:delta\ndata:{"text":"no space"}', EventKind.DELTA, 5, "no space", ""),
        (
            b'id: 0\nevent: snapshot\ndata: {"message_id":"m","content":"ab","reasoning":"","status":"streaming"}',
            EventKind.SNAPSHOT,
            0,
            "",
            "ab",
        ),
    ],
)
def test_decode_block(block: bytes, kind: EventKind, id_: int, text: str, content: str) -> None:
    event = decode_block(block)
    assert event is not None and (event.kind, event.id, event.text, event.content) == (
        kind,
        id_,
        text,
        content,
    )


@pytest.mark.parametrize("block", [b": keepalive", b"retry: 2000", b""])
def test_blocks_without_data_are_not_events(block: bytes) -> None:
    assert decode_block(block) is None


def test_every_encoded_event_decodes_to_itself() -> None:
    for event in (
        Event(7, EventKind.DELTA, {"text": "a\nb\r\u2028"}),
        Event(8, EventKind.DELTA, {"reasoning": "r"}),
    ):
        decoded = decode_block(encode_event(event).rstrip(b"\n"))
        assert decoded is not None and (decoded.id, decoded.text, decoded.reasoning) == (
            event.id,
            event.data.get("text", ""),
            event.data.get("reasoning", ""),
        )
