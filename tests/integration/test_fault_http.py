"""Faults over HTTP that must never cost memory, a 500, or a reply's fate.

Written to the fixed contract (docs/protocol.md#slow-readers, #named-failures, #api):

* a reader that never reads a finished reply is dropped after
  ``slow_reader_timeout``, like any other stuck reader;
* a DELETE racing a send answers 202/404/409/204, and once the DELETE said
  204 no reply of that conversation ends ``complete``;
* ``before=`` with a non-UTC offset compares as the instant it names;
* lone surrogates, U+0000, deep nesting and malformed UTF-8 are a JSON 400
  (an id that cannot exist: 400 or 404), never a 500 or a traceback;
* a too-large body is refused from its ``Content-Length`` before it is read;
* resuming at the final's id is 204 No Content.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

PIECE = "x" * 1000


@pytest.fixture
def resumechat_config(resumechat_config):
    # stream_ttl is long so that no stream expires under a test: a reader that
    # goes away must go because the server dropped it, not because it expired
    return {**resumechat_config, "slow_reader_timeout": 1.0, "stream_ttl": 300.0}


async def until(predicate: Callable[[], bool], timeout: float, what: str | Callable[[], str]) -> None:
    """Poll a condition the server reaches on its own (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            raise AssertionError(f"not reached within {timeout:g} s: {what() if callable(what) else what}")
        await asyncio.sleep(0.02)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))  # the formatter appends any traceback
        except Exception:  # a log line must never break the server
            self.lines.append(repr(record.msg))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def server_log(jp_serverapp: Any) -> Iterator[_Collect]:
    """Everything the in-process Jupyter server logs while the test runs."""
    handler = _Collect()
    loggers = {jp_serverapp.log, logging.getLogger("tornado"), logging.getLogger("jupyter_resumechat")}
    settings_log = jp_serverapp.web_app.settings.get("log") if jp_serverapp.web_app else None
    if isinstance(settings_log, logging.Logger):
        loggers.add(settings_log)
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def assert_no_traceback(log: _Collect) -> None:
    assert "Traceback" not in log.text, log.text[-4000:]


# raw sockets: a client that does exactly what we tell it and nothing more


def _address(api: Any) -> tuple[str, int, str]:
    url = urlsplit(api.url(""))
    return url.hostname or "127.0.0.1", int(url.port or 80), url.netloc


async def _connect(api: Any, rcvbuf: int | None = None) -> socket.socket:
    host, port, _ = _address(api)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: sets the window
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    return sock


async def _read_until_closed(sock: socket.socket, timeout: float, keep: int = 4096) -> tuple[bytes, bool]:
    """Read until the peer closes; return the first ``keep`` bytes and whether it closed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    head = bytearray()
    while True:
        left = deadline - loop.time()
        if left <= 0:
            return bytes(head), False
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), left)
        except asyncio.TimeoutError:
            return bytes(head), False
        except (ConnectionResetError, BrokenPipeError):
            return bytes(head), True
        if not chunk:
            return bytes(head), True
        if len(head) < keep:
            head += chunk[: keep - len(head)]


async def _read_response(sock: socket.socket, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response (status, headers, body by Content-Length), or fail on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    data = bytearray()

    async def more() -> None:
        left = deadline - loop.time()
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), max(left, 0.001))
        except asyncio.TimeoutError:
            raise AssertionError(
                f"no complete answer within {timeout:g} s; got {bytes(data)[:300]!r}"
            ) from None
        except ConnectionResetError:
            raise AssertionError(
                f"connection reset before a complete answer; got {bytes(data)[:300]!r}"
            ) from None
        if not chunk:
            raise AssertionError(f"connection closed before a complete answer; got {bytes(data)[:300]!r}")
        data.extend(chunk)

    while b"\r\n\r\n" not in data:
        await more()
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    body = bytearray(rest)
    while len(body) < length:
        before = len(data)
        await more()
        body.extend(data[before:])
    return status, headers, bytes(body[:length])


# 1. readers that never read a finished reply


async def _wait_inactive(api: Any, cid: str, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status = (await api.request("GET", f"conversations/{cid}/stream")).json()
        if not status["active"]:
            return
        assert loop.time() < deadline, f"the reply did not finish within {timeout:g} s: {status}"
        await asyncio.sleep(0.1)


async def test_readers_that_never_read_a_finished_reply_are_dropped(api, extension, jp_auth_header):
    """docs/protocol.md#slow-readers: every write to a reader is bounded by ``slow_reader_timeout``,
    including the events sent before a ``final``. Today those are flushed without
    the bound, so each such socket pins a copy of the whole reply for as long as
    it stays open."""
    conv = await api.conversation()
    sent = await api.send(conv["id"], f"/pace 0 /repeat 20000 {PIECE}")  # ~20 MB
    sid, manager = sent["stream_id"], extension.manager
    await _wait_inactive(api, conv["id"], timeout=90)
    _, _, netloc = _address(api)
    path = urlsplit(api.url(f"streams/{sid}/events")).path
    socks: list[socket.socket] = []

    def answered(sock: socket.socket) -> bool:
        """Whether the server began answering (peeked: nothing is consumed)."""
        try:
            sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return True

    try:
        loop = asyncio.get_running_loop()
        for index in range(10):
            sock = await _connect(api, rcvbuf=4096)
            socks.append(sock)
            resume = "Last-Event-ID: 0\r\n" if index % 2 == 0 else ""  # half resume from 0, half fresh
            request = (
                f"GET {path} HTTP/1.1\r\nHost: {netloc}\r\nAccept: text/event-stream\r\n{resume}"
                f"Authorization: {jp_auth_header['Authorization']}\r\n\r\n"
            )
            await loop.sock_sendall(sock, request.encode())
        await until(lambda: all(map(answered, socks)), 15, "the server began answering every reader")
        # never read: the server's writes stall; each reader must be dropped within about
        # slow_reader_timeout (1 s). The wait is generous for a loaded machine.
        await until(
            lambda: manager.subscriber_count(sid) == 0,
            20,
            lambda: (
                f"readers that never read are dropped (still {manager.subscriber_count(sid)} "
                f"of {len(socks)} subscribed, slow_reader_timeout=1 s)"
            ),
        )
        # the server closed each of those sockets (after the start of a 200 answer)
        for sock in socks:
            head, closed = await _read_until_closed(sock, timeout=20)
            assert head.startswith(b"HTTP/1.1 200"), head[:200]
            assert closed, "the server left a dropped reader's socket open"
    finally:
        for sock in socks:
            sock.close()
    # the server is fine: the conversation still answers
    status = await api.request("GET", f"conversations/{conv['id']}/stream")
    assert status.status_code == 200 and status.json()["active"] is False


# 3a. a send racing a DELETE of the same conversation


async def test_send_racing_delete_never_500_and_deleted_replies_never_complete(api, server_log):
    """50 fresh conversations, each with a send and a DELETE fired together.

    Every answer is 202/404/409 (send) or 204/404 (DELETE), never a 500. A DELETE
    "aborts its active stream first": so a reply sent (202) to a conversation
    whose DELETE answered 204 is over by then: its stream 404s or its final
    says ``aborted``; it never runs on, and never ends ``complete``. The reply
    would take ~20 s, so it cannot legitimately complete before the DELETE
    ran; a DELETE that answers only after 10 s has waited for it instead.
    """
    conversations = await asyncio.gather(*(api.conversation() for _ in range(50)))
    loop = asyncio.get_running_loop()

    async def timed(method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, float]:
        start = loop.time()
        response = await api.request(method, path, **kwargs)
        return response, loop.time() - start

    async def pair(cid: str) -> tuple[tuple[httpx.Response, float], tuple[httpx.Response, float]]:
        send = timed("POST", f"conversations/{cid}/messages", json={"content": "/pace 0.04 /repeat 500 x"})
        delete = timed("DELETE", f"conversations/{cid}")
        return tuple(await asyncio.gather(send, delete))  # type: ignore[return-value]

    timed_pairs = await asyncio.gather(*(pair(c["id"]) for c in conversations))
    answers = [(s, d) for (s, _), (d, _) in timed_pairs]
    slow_deletes = sorted(round(took, 1) for _, (_, took) in timed_pairs if took > 10)
    bad = [
        (s.status_code, s.text[:120], d.status_code, d.text[:120])
        for s, d in answers
        if s.status_code not in (202, 404, 409) or d.status_code not in (204, 404)
    ]

    async def fate(sid: str) -> str:
        try:  # the DELETE has answered: the stream must be over already
            read = await asyncio.wait_for(api.events(sid), 8)
        except asyncio.TimeoutError:
            return "still running"
        if read.status == 404:
            return "404"
        assert read.status == 200, read
        assert read.events and read.events[-1].event == "final", read.events[-3:]
        return str(read.events[-1].data["message"]["status"])

    raced = [
        (c["id"], s.json()["stream_id"])
        for c, (s, d) in zip(conversations, answers, strict=True)
        if s.status_code == 202 and d.status_code == 204
    ]
    fates = await asyncio.gather(*(fate(sid) for _, sid in raced))
    wrong = [f for f in fates if f not in ("404", "aborted")]
    back = [cid for cid, _ in raced if (await api.request("GET", f"conversations/{cid}")).status_code != 404]
    outcome = dict(Counter((s.status_code, d.status_code) for s, d in answers))
    assert not bad and not wrong and not back and not slow_deletes, (
        f"{len(bad)} of {len(answers)} pairs had an answer outside 202/404/409 + 204/404 "
        f"(first: {bad[:2]}); {len(wrong)} of {len(raced)} replies sent (202) to a conversation "
        f"then deleted (204) were {dict(Counter(wrong))} instead of aborted or 404; {len(back)} deleted "
        f"conversations are still there; {len(slow_deletes)} DELETEs answered only after "
        f"{slow_deletes[:5]} s (the reply was not aborted). (send, delete) answers: {outcome}"
    )
    assert_no_traceback(server_log)


# 3b. before= with a non-UTC offset


def _in_zone(text: str, hours: float) -> str:
    instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return instant.astimezone(timezone(timedelta(hours=hours))).isoformat()


async def test_list_before_compares_instants_whatever_the_offset(api):
    """``before`` names an instant: ``…Z``, ``…+00:00``, ``…+05:00`` and
    ``…-08:00`` forms of the same instant page identically (today SQLite
    compares the wall-clock digits, so +05:00 reads as five hours later)."""
    made = []
    for index in range(3):
        made.append(await api.conversation(title=f"c{index}"))
        await asyncio.sleep(0.01)
    listed = (await api.request("GET", "conversations")).json()["conversations"]
    assert [c["id"] for c in listed] == [c["id"] for c in reversed(made)]
    boundary = listed[1]["updated_at"]  # the middle one: strictly before it is only the oldest
    expected = [made[0]["id"]]
    forms = {
        "utc": boundary,
        "+00:00": _in_zone(boundary, 0),
        "+05:00": _in_zone(boundary, 5),
        "-08:00": _in_zone(boundary, -8),
        "+05:30": _in_zone(boundary, 5.5),
    }
    results = {}
    for name, value in forms.items():
        response = await api.request("GET", "conversations", params={"before": value})
        assert response.status_code == 200, (name, value, response.text)
        results[name] = [c["id"] for c in response.json()["conversations"]]
    names = {c["id"]: c["title"] for c in made}
    shown = {name: [names[i] for i in ids] for name, ids in results.items()}
    assert all(ids == expected for ids in results.values()), (
        f"before={boundary} in several offsets; expected only c0 each time: {shown}"
    )


# 3c. lone surrogates, NUL, deep nesting, malformed UTF-8: 400, never 500
#
# Each test tries several variants against one server and reports every one
# that is answered wrongly (one server per route keeps the suite quick).


def _is_json_error(response: httpx.Response, statuses: tuple[int, ...]) -> bool:
    if response.status_code not in statuses:
        return False
    if not response.headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return (
        isinstance(body, dict)
        and isinstance(body.get("error"), str)
        and isinstance(body.get("detail"), str)
        and bool(body["detail"])
    )


async def _post_raw(api: Any, method: str, path: str, body: bytes) -> httpx.Response:
    return await api.request(method, path, content=body, headers={"Content-Type": "application/json"})


BAD_TEXT = {
    "lone high surrogate": rb"\ud800",
    "lone low surrogate": rb"a\udc00b",
    "reversed pair": rb"\ude00\ud83d",
    "NUL": rb"a\u0000b",
}

FIELDS = {  # route and body template; FIELD is where the bad text goes
    "create title": ("POST", "conversations", b'{"title": "FIELD"}'),
    "create key": ("POST", "conversations", b'{"key": "FIELD"}'),
    "rename title": ("PATCH", "conversations/{cid}", b'{"title": "FIELD"}'),
    "send content": ("POST", "conversations/{cid}/messages", b'{"content": "FIELD"}'),
    "send client_id": ("POST", "conversations/{cid}/messages", b'{"content": "hi", "client_id": "FIELD"}'),
    "send model": ("POST", "conversations/{cid}/messages", b'{"content": "hi", "model": "FIELD"}'),
}


@pytest.mark.parametrize("field", list(FIELDS), ids=str)
async def test_unstorable_text_in_a_field_is_400(api, server_log, field):
    """Lone surrogates (sent as JSON escapes) and U+0000 in any string field:
    a JSON 400, nothing stored, never a 500 (on either database)."""
    method, path, template = FIELDS[field]
    wrong = []
    for name, text in BAD_TEXT.items():
        conv = await api.conversation(title="before")
        response = await _post_raw(api, method, path.format(cid=conv["id"]), template.replace(b"FIELD", text))
        messages = await api.messages(conv["id"])
        title = (await api.request("GET", f"conversations/{conv['id']}")).json()["title"]
        if not _is_json_error(response, (400,)) or messages or title != "before":
            wrong.append(
                f"{name}: {response.status_code} {response.text[:100]!r}, "
                f"{len(messages)} message(s) stored, title {title!r}"
            )
    assert not wrong, f"{field}: " + "; ".join(wrong)
    assert_no_traceback(server_log)


async def test_a_valid_surrogate_pair_is_accepted(api):
    """Control: a correct UTF-16 escape pair is ordinary text (😀)."""
    conv = await api.conversation()
    response = await _post_raw(
        api, "POST", f"conversations/{conv['id']}/messages", rb'{"content": "ok \ud83d\ude00"}'
    )
    assert response.status_code == 202, response.text
    assert response.json()["user_message"]["content"] == "ok 😀"


DEEP = 5000
NESTED = {
    "list in content": b'{"content": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    "objects in title": b'{"title": ' + b'{"a": ' * DEEP + b"1" + b"}" * DEEP + b"}",
    "top-level list": b"[" * DEEP + b"]" * DEEP,
}


@pytest.mark.parametrize("path", ["conversations", "conversations/{cid}/messages", "conversations/{cid}"])
async def test_deeply_nested_json_is_400(api, server_log, path):
    method = "PATCH" if path == "conversations/{cid}" else "POST"
    wrong = []
    for name, body in NESTED.items():
        conv = await api.conversation()
        response = await _post_raw(api, method, path.format(cid=conv["id"]), body)
        if not _is_json_error(response, (400,)):
            wrong.append(f"{name}: {response.status_code} {response.text[:100]!r}")
    assert not wrong, f"JSON {DEEP} deep to {method} {path}: " + "; ".join(wrong)
    assert_no_traceback(server_log)


MALFORMED = {
    "surrogate encoded as UTF-8 (CESU-8)": b'"\xed\xa0\x80"',
    "byte ff": b'"a\xffb"',
    "overlong": b'"\xc0\xaf"',
    "truncated sequence": b'"\xe2\x82"',
}


@pytest.mark.parametrize("route", ["create title", "send content"])
async def test_malformed_utf8_inside_a_string_is_400(api, server_log, route):
    method, path, template = FIELDS[route]
    wrong = []
    for name, text in MALFORMED.items():
        conv = await api.conversation()
        body = template.replace(b'"FIELD"', text)
        response = await _post_raw(api, method, path.format(cid=conv["id"]), body)
        stored = await api.messages(conv["id"])
        if not _is_json_error(response, (400,)) or stored:
            wrong.append(f"{name}: {response.status_code} {response.text[:100]!r}, {len(stored)} stored")
    assert not wrong, f"{route}: " + "; ".join(wrong)
    assert_no_traceback(server_log)


ID_ROUTES = {
    "get conversation": ("GET", "conversations/{bad}"),
    "rename": ("PATCH", "conversations/{bad}"),
    "delete": ("DELETE", "conversations/{bad}"),
    "list messages": ("GET", "conversations/{bad}/messages"),
    "send": ("POST", "conversations/{bad}/messages"),
    "events": ("GET", "streams/{bad}/events"),
    "abort": ("POST", "streams/{bad}/abort"),
}


@pytest.mark.parametrize("route", list(ID_ROUTES), ids=str)
async def test_nul_in_an_id_is_400_or_404(api, server_log, route):
    """An id with U+0000 cannot exist: a JSON 400 or 404, never a 500
    (PostgreSQL refuses NUL in text: today an uncaught database error)."""
    method, path = ID_ROUTES[route]
    conv = await api.conversation()
    body = {"content": "x", "title": "t"} if method in {"POST", "PATCH"} else None
    wrong = []
    for bad in ("%00", "a%00b", f"{conv['id']}%00"):
        response = await api.request(method, path.format(bad=bad), json=body)
        if not _is_json_error(response, (400, 404)):
            wrong.append(f"{bad}: {response.status_code} {response.text[:100]!r}")
    assert not wrong, f"{method} {path}: " + "; ".join(wrong)
    assert await api.messages(conv["id"]) == []
    assert (await api.request("GET", f"conversations/{conv['id']}")).status_code == 200
    assert_no_traceback(server_log)


# 3d. 413 decided from Content-Length, before the body is read


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "conversations/{cid}/messages"),
        ("POST", "conversations"),
        ("PATCH", "conversations/{cid}"),
    ],
)
async def test_a_50mb_body_is_refused_from_its_content_length(api, jp_auth_header, method, path):
    conv = await api.conversation()
    target = urlsplit(api.url(path.format(cid=conv["id"]))).path
    _, _, netloc = _address(api)
    size = 50 * 1024 * 1024
    part = b'{"content": "' + b"a" * 1000  # a small part of the 50 MB; the rest is never sent
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\nAuthorization: {jp_auth_header['Authorization']}\r\n\r\n"
    )
    sock = await _connect(api)
    try:
        await asyncio.get_running_loop().sock_sendall(sock, head.encode() + part)
        status, headers, body = await _read_response(sock, timeout=8)
    finally:
        sock.close()
    assert status == 413, (status, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), headers
    data = json.loads(body)
    assert data["error"] == "too_large" and isinstance(data["detail"], str) and data["detail"]
    assert await api.messages(conv["id"]) == []


async def test_a_chunked_body_over_the_limit_is_413_without_a_traceback(api, jp_auth_header, server_log):
    """No Content-Length: the body is read (and dropped past the limit), then 413."""
    conv = await api.conversation()
    target = urlsplit(api.url(f"conversations/{conv['id']}/messages")).path
    _, _, netloc = _address(api)
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {netloc}\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\nAuthorization: {jp_auth_header['Authorization']}\r\n\r\n"
    )
    piece = b'{"content": "' + b"a" * 65_536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(40)) + b"0\r\n\r\n"
    sock = await _connect(api)
    try:
        await asyncio.get_running_loop().sock_sendall(sock, head.encode() + chunks)
        status, _, body = await _read_response(sock, timeout=15)
    finally:
        sock.close()
    assert status == 413 and json.loads(body)["error"] == "too_large", (status, body[:300])
    assert await api.messages(conv["id"]) == []
    assert_no_traceback(server_log)


# 3e. resuming at the final's id


@pytest.mark.parametrize("how", ["header", "query"])
async def test_resume_at_the_final_id_is_204(api, how):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "hello there")
    read = await api.events(sent["stream_id"], last_id=0)
    final = read.events[-1]
    assert final.event == "final"
    if how == "header":
        response = await api.request(
            "GET", f"streams/{sent['stream_id']}/events", headers={"Last-Event-ID": str(final.id)}
        )
    else:
        response = await api.request(
            "GET", f"streams/{sent['stream_id']}/events", params={"last_event_id": str(final.id)}
        )
    assert response.status_code == 204, (response.status_code, response.headers, response.content[:200])
    assert response.content == b""
    # one before the final still gives the final
    before = await api.events(sent["stream_id"], last_id=final.id - 1)
    assert before.status == 200 and [e.event for e in before.events] == ["final"]
