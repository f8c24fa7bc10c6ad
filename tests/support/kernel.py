"""Run code in a real kernel of the test server, over its websocket, as a frontend does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import httpx
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


def execute_request(msg_id: str, code: str, *, store_history: bool = False) -> str:
    """An ``execute_request`` on the shell channel, as a kernel websocket takes it."""
    return json.dumps(
        {
            "header": {
                "msg_id": msg_id,
                "username": "test",
                "session": uuid.uuid4().hex,
                "msg_type": "execute_request",
                "version": "5.3",
                "date": "",
            },
            "parent_header": {},
            "metadata": {},
            "channel": "shell",
            "content": {
                "code": code,
                "silent": False,
                "store_history": store_history,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        }
    )


async def start_kernel(base: str, headers: dict[str, str], env_path: str | None = None) -> str:
    async with httpx.AsyncClient(headers=headers) as client:
        body: dict[str, Any] = {"name": "python3"}
        if env_path:
            body["path"] = env_path
        response = await client.post(base + "api/kernels", json=body)
        response.raise_for_status()
        return str(response.json()["id"])


async def execute(
    base: str,
    headers: dict[str, str],
    kernel_id: str,
    code: str,
    timeout: float = 60,
    *,
    store_history: bool = False,
) -> tuple[str, list[dict[str, Any]]]:
    """Run ``code``; return its stdout and any error contents.  With ``store_history``
    the cell counts, as a notebook's does (``In[n]``, the last error)."""
    ws_url = base.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels"
    conn = await websocket_connect(HTTPRequest(ws_url, headers=headers, request_timeout=timeout))
    msg_id = uuid.uuid4().hex
    conn.write_message(execute_request(msg_id, code, store_history=store_history))
    out, errors = [], []
    try:
        while True:
            raw = await conn.read_message()
            if raw is None:
                raise RuntimeError("kernel websocket closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                errors.append(msg["content"])
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out), errors
    finally:
        await closed(conn)


async def closed(conn: Any) -> None:
    """Close the websocket and wait for the close to finish: callers end their loop
    right after, and a socket still closing then is reported as unclosed."""
    conn.close()

    async def drain() -> None:
        while await conn.read_message() is not None:
            pass

    with contextlib.suppress(Exception):
        await asyncio.wait_for(drain(), 10)
    if conn.protocol is not None and conn.protocol.stream is not None:
        conn.protocol.stream.close()
