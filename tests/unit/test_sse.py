"""The SSE wire format, byte for byte."""

import random

import pytest

from jupyter_resumechat.errors import InvalidRequest
from jupyter_resumechat.eventstream import (
    MAX_STREAMS,
    decode_block,
    encode_comment,
    encode_event,
    encode_gone,
    encode_retry,
    parse_last_id,
    parse_positions,
    pieces,
    split_tagged_id,
    tag_events,
    tagged_pieces,
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


@pytest.mark.parametrize(
    ("events", "stream_id"),
    [
        ([Event(1, EventKind.DELTA, {"text": "hi"})], "s1"),
        (
            [Event(1, EventKind.DELTA, {"text": "a\n\nid: 7"}), Event(2, EventKind.DELTA, {"text": "b"})],
            "abc_-9",
        ),
        (
            [Event(4, EventKind.SNAPSHOT, {"content": "x\r\n"}), Event(5, EventKind.FINAL, {"message": {}})],
            "z",
        ),
        ([], "s"),
    ],
)
def test_tagging_shared_bytes_is_encoding_with_the_stream(events: list[Event], stream_id: str) -> None:
    body = b"".join(map(encode_event, events))
    assert tag_events(body, stream_id) == b"".join(encode_event(e, stream_id) for e in events)


def test_tagged_ids_and_gone() -> None:
    assert (
        encode_event(Event(3, EventKind.DELTA, {"text": "x"}), "s9")
        == b'id: s9:3\nevent: delta\ndata: {"text":"x"}\n\n'
    )
    assert split_tagged_id("s9:3") == ("s9", 3)
    for bad in ("3", ":3", "a b:3", "s9:x"):
        with pytest.raises(ValueError):
            split_tagged_id(bad)
    assert encode_gone("s9", "ended") == b'event: gone\ndata: {"stream_id":"s9","reason":"ended"}\n\n'


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["a"], {"a": None}),
        (["a:", "b:0"], {"a": None, "b": 0}),
        (["a:3,b_-C:9007199254740991"], {"a": 3, "b_-C": 2**53 - 1}),
        ([" a:1 , b"], {"a": 1, "b": None}),
        ([",".join(f"s{i}" for i in range(MAX_STREAMS))], {f"s{i}": None for i in range(MAX_STREAMS)}),
    ],
)
def test_parse_positions(values: list[str], expected: dict[str, int | None]) -> None:
    assert parse_positions(values) == expected


@pytest.mark.parametrize(
    "values",
    [
        [],
        [""],
        ["a,"],
        ["a b"],
        ["a/b"],
        ["a:x"],
        ["a:-1"],
        ["a:9007199254740992"],
        ["a", "a:1"],
        ["x" * 65],
        [",".join(f"s{i}" for i in range(MAX_STREAMS + 1))],
    ],
)
def test_parse_positions_refuses(values: list[str]) -> None:
    with pytest.raises(InvalidRequest):
        parse_positions(values)


def _body(rng: random.Random) -> tuple[list[Event], bytes]:
    sizes = [0, 1, 3, 10, 50, 200, 1000, 5000]
    events = [
        Event(i + 1, EventKind.DELTA, {"text": "x" * rng.choice(sizes)}) for i in range(rng.randint(1, 12))
    ]
    return events, b"".join(map(encode_event, events))


@pytest.mark.parametrize("size", [8, 16, 33, 64, 100, 500, 4096])
def test_a_large_body_goes_out_in_bounded_pieces_that_add_up_to_it(size: int) -> None:
    """What a reader that stops reading can pin of its own is a piece or two, not
    a copy of the body; the pieces are the bytes (re-tagged) and nothing else."""
    rng = random.Random(size)
    for _ in range(300):
        events, body = _body(rng)
        cut = list(pieces(body, size))
        assert b"".join(cut) == body and all(len(p) <= size for p in cut)
        tagged = list(tagged_pieces(body, "s_-9", size))
        assert b"".join(tagged) == b"".join(encode_event(e, "s_-9") for e in events)
        assert all(len(p) <= 2 * size + len("s_-9:") for p in tagged), [len(p) for p in tagged]


def test_a_small_body_is_one_piece_and_not_copied() -> None:
    body = encode_event(Event(1, EventKind.DELTA, {"text": "hi"}))
    assert list(pieces(body, 1024)) == [body] and next(pieces(body, 1024)) is body
    assert list(pieces(b"", 1024)) == [] and list(tagged_pieces(b"", "s", 1024)) == []
