"""The SSE wire format, byte for byte."""

import pytest

from jupyter_resumechat.errors import InvalidRequest
from jupyter_resumechat.eventstream import encode_comment, encode_event, encode_retry, parse_last_id
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
