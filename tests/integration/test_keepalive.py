"""Refusals decided before the body (413 from Content-Length, 403 from the XSRF
check) keep a keep-alive connection: the client's next request on it is answered."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import httpx
import pytest

from .test_fault_http import _address, _connect, _read_response


@pytest.fixture
def resumechat_config(resumechat_config):
    return {**resumechat_config, "max_message_chars": 1000}  # a body limit of 71,536 bytes


async def _two_requests(api, first: bytes, second: bytes) -> list[tuple[int, dict, bytes]]:
    """``first`` then ``second`` on one connection; both answers, or fail naming which."""
    sock = await _connect(api)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_sendall(sock, first)
        answers = [await _read_response(sock, timeout=30)]
        await loop.sock_sendall(sock, second)
        answers.append(await _read_response(sock, timeout=30))
    finally:
        sock.close()
    return answers


def _request(api, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    _, _, netloc = _address(api)
    target = urlsplit(api.url(path)).path
    lines = [f"{method} {target} HTTP/1.1", f"Host: {netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_a_413_keeps_the_connection(api, jp_auth_header):
    auth = {"Authorization": jp_auth_header["Authorization"], "Content-Type": "application/json"}
    big = b'{"title": "' + b"a" * 80_000 + b'"}'
    answers = await _two_requests(
        api, _request(api, "POST", "conversations", auth, big), _request(api, "GET", "conversations", auth)
    )
    assert [status for status, _, _ in answers] == [413, 200]
    assert json.loads(answers[0][2])["error"] == "too_large"


async def test_a_403_from_the_xsrf_check_keeps_the_connection(api, jp_serverapp):
    token = jp_serverapp.identity_provider.token
    async with httpx.AsyncClient() as browser:  # a browser's session: cookies, no token
        await browser.get(api.base + f"api/status?token={token}")
        await browser.get(api.base)
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    headers = {"Cookie": cookie, "Content-Type": "application/json"}
    answers = await _two_requests(
        api,
        _request(api, "POST", "conversations", headers, b'{"title": "x"}'),  # no X-XSRFToken
        _request(api, "GET", "conversations", headers),
    )
    assert [status for status, _, _ in answers] == [403, 200]
    assert json.loads(answers[0][2])["error"]
