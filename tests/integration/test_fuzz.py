"""Schemathesis fuzzes the API from its shipped OpenAPI document: no 5xx, ever."""

from __future__ import annotations

import shutil
import subprocess
import sys

import httpx

from tests.support.server_process import TOKEN, ServerProcess
from tests.support.services import unavailable


def test_no_server_errors_under_fuzzing(tmp_path):
    if (
        shutil.which("schemathesis") is None
        and subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "--help"], capture_output=True
        ).returncode
        != 0
    ):
        unavailable("schemathesis is not installed")
    server = ServerProcess(
        tmp_path,
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
        demo_delay=0.001,
        heartbeat_interval=0.2,
        stream_ttl=2,
    ).start()
    try:
        schema = tmp_path / "openapi.json"
        schema.write_text(httpx.get(server.url("openapi.json"), headers=server.headers).text)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                str(schema),
                "--url",
                server.url("").rstrip("/"),
                "-H",
                f"Authorization: token {TOKEN}",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "40",
                "--request-timeout",
                "20",
                "--seed",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-5000:]
        assert "Traceback" not in server.read_log()
        print(output[-1500:])  # the summary: operations and cases tried
    finally:
        server.stop()
