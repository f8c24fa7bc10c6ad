"""A running server that a newer server's upgrade left behind refuses, naming both versions."""

from __future__ import annotations

import sqlite3
import time

import httpx

from jupyter_resumechat.store.schema import SCHEMA_VERSION
from tests.support.server_process import ServerProcess


def test_every_endpoint_refuses_once_the_database_moved_past_this_server(tmp_path) -> None:
    path = tmp_path / "chat.db"
    with ServerProcess(tmp_path / "server", db_url=f"sqlite:///{path}", owner_lease=1.0) as server:
        with httpx.Client(headers=server.headers, timeout=30) as client:
            assert client.post(server.url("conversations"), json={}).status_code == 201
            with sqlite3.connect(path) as db:  # a newer server's upgrade that this one may not use
                db.execute(
                    "UPDATE resumechat_schema SET version = ?, readable_by = ?",
                    (SCHEMA_VERSION + 1, SCHEMA_VERSION + 1),
                )
            deadline = time.monotonic() + 30  # the next heartbeat (a third of the lease) notices
            while (answer := client.get(server.url("conversations"))).status_code == 200:
                assert time.monotonic() < deadline, "the server never noticed"
            assert answer.status_code == 503, answer.text
            detail = answer.json()["detail"]
            assert f"schema version {SCHEMA_VERSION + 1}" in detail and "upgrade jupyter-resumechat" in detail
            assert client.post(server.url("conversations"), json={}).status_code == 503
