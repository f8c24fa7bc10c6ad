"""``python -m jupyter_resumechat doctor``: real database, Redis and model endpoint.

The doctor runs as a process of its own, as a user runs it, reading the
configuration files of a Jupyter config directory of the test's own and the
command line; its exit status is 0 when the chat will work, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.echo_endpoint import echo_in_a_thread
from tests.support.fake_openai import ThreadedFakeOpenAI
from tests.support.redis_server import RedisServer, running_redis
from tests.support.server_process import ServerProcess
from tests.support.services import REDIS_URL

KEY = "sk-right-key"


@pytest.fixture
def fake_openai() -> Iterator[ThreadedFakeOpenAI]:
    fake = ThreadedFakeOpenAI(api_key=KEY)
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path / "redis") as server:
        yield server


def doctor(
    tmp_path: Path, *flags: str, config: dict[str, object] | None = None, cwd: Path | None = None
) -> tuple[int, str]:
    """Run the doctor with a config directory of the test's own, in ``cwd``; (exit status, output)."""
    config_dir = tmp_path / "config"
    config_dir.mkdir(exist_ok=True)
    if config is not None:
        (config_dir / "jupyter_server_config.json").write_text(json.dumps({"ResumeChat": config}))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))},
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_resumechat", "doctor", *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=cwd,
    )
    return done.returncode, done.stdout + done.stderr


def line(output: str, part: str) -> str:
    return next(x for x in output.splitlines() if x.strip().startswith(part))


def test_a_good_setup(tmp_path: Path, fake_openai: ThreadedFakeOpenAI, redis_prefix: str) -> None:
    """Configuration files and command line together, as the server reads them."""
    config = {"provider": "openai", "base_url": fake_openai.url, "api_key": KEY, "model": "gpt-ok"}
    code, out = doctor(
        tmp_path,
        f"--ResumeChat.db_url=sqlite:///{tmp_path / 'chat.db'}",
        f"--ResumeChat.stream_backend={REDIS_URL}",
        f"--ResumeChat.redis_prefix={redis_prefix}",
        config=config,
    )
    assert code == 0, out
    assert "jupyter_server_config.json" in out
    assert " ok " in line(out, "database") and "no file yet" in line(out, "database")
    assert " ok " in line(out, "streams") and "Streams and scripts work" in line(out, "streams")
    assert " ok " in line(out, "model") and "answered 'Echo'" in line(out, "model"), out
    assert fake_openai.served and fake_openai.served[0].model == "gpt-ok"
    assert "FAIL" not in out


def test_a_wrong_key_is_named(tmp_path: Path, fake_openai: ThreadedFakeOpenAI) -> None:
    code, out = doctor(
        tmp_path,
        "--ResumeChat.provider=openai",
        f"--ResumeChat.base_url={fake_openai.url}",
        "--ResumeChat.api_key=sk-wrong",
        "--ResumeChat.model=gpt-ok",
    )
    assert code == 1, out
    assert "FAIL" in line(out, "model") and "401" in line(out, "model"), out
    assert "set a valid OPENAI_API_KEY or ResumeChat.api_key" in out
    assert "sk-wrong" not in out


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_endpoint_that_echoes_the_key_does_not_get_it_printed(tmp_path: Path, provider: str) -> None:
    secret = "sk-live-operator-9f8e7d6c5b4a3210"
    with echo_in_a_thread() as echo:
        code, out = doctor(
            tmp_path,
            f"--ResumeChat.provider={provider}",
            f"--ResumeChat.base_url={echo.url(provider)}",
            f"--ResumeChat.api_key={secret}",
            "--ResumeChat.model=echo-401",
        )
    assert code == 1 and "401" in line(out, "model"), out
    assert secret not in out and "***" in out, out


def test_a_stopped_redis_is_named(tmp_path: Path, private_redis: RedisServer) -> None:
    private_redis.kill()
    code, out = doctor(tmp_path, f"--ResumeChat.stream_backend={private_redis.url}")
    assert code == 1, out
    assert "FAIL" in line(out, "streams") and private_redis.url in line(out, "streams"), out
    assert "start Redis, or fix ResumeChat.stream_backend" in out
    assert " ok " in line(out, "database") and " ok " in line(out, "model")


def test_database_schema_and_refused_traits(tmp_path: Path, postgres_url: str) -> None:
    """A fresh PostgreSQL has no schema yet; a refused trait is reported as the server would."""
    plain = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    code, out = doctor(tmp_path, f"--ResumeChat.db_url={plain}", "--ResumeChat.stream_ttl=-1")
    assert code == 1, out
    assert "reachable, no schema yet" in line(out, "database"), out
    assert "ResumeChat.stream_ttl: must be >= 0" in line(out, "configuration"), out


def test_an_unreachable_database_is_named(tmp_path: Path) -> None:
    from tests.support.server_process import free_port

    code, out = doctor(tmp_path, f"--ResumeChat.db_url=postgresql://postgres@127.0.0.1:{free_port()}/x")
    assert code == 1, out
    assert "cannot reach the database" in line(out, "database"), out
    assert "start the database, or fix ResumeChat.db_url" in out


def test_a_sqlite_folder_the_server_refuses_fails_as_the_server_does(tmp_path: Path) -> None:
    """The same relative URL given to a real server and to the doctor, both in the
    same folder: the server answers 503 and logs the file it tried; the doctor fails
    naming the same file, instead of "All good"."""
    url = f"sqlite:///no-such-folder-{tmp_path.name}/chat.db"  # relative: under this process's folder
    expected = Path.cwd() / f"no-such-folder-{tmp_path.name}" / "chat.db"
    with ServerProcess(tmp_path / "server", ready=(200, 503), db_url=url) as server:
        answer = httpx.get(server.url("conversations"), headers=server.headers, timeout=30)
        assert answer.status_code == 503, answer.text
        assert f"resumechat: messages in {expected}" in server.read_log()
    code, out = doctor(tmp_path, f"--ResumeChat.db_url={url}", cwd=Path.cwd())
    assert code == 1, out
    assert "FAIL" in line(out, "database") and f"the folder {expected.parent} does not exist" in out, out
    assert "All good" not in out


def test_three_slashes_is_a_relative_path_and_is_said(tmp_path: Path) -> None:
    """``sqlite:///tmp/x.db`` is ``tmp/x.db`` under the server's folder, not ``/tmp/x.db``."""
    code, out = doctor(tmp_path, "--ResumeChat.db_url=sqlite:///tmp/x.db", cwd=tmp_path)
    assert code == 1, out  # no tmp/ folder here: the server would refuse it
    assert f"the folder {tmp_path / 'tmp'} does not exist" in out, out
    assert "write sqlite:////tmp/x.db (four slashes)" in out, out

    (tmp_path / "tmp").mkdir()
    code, out = doctor(tmp_path, "--ResumeChat.db_url=sqlite:///tmp/x.db", cwd=tmp_path)
    assert code == 0, out  # it works, from this folder only: a warning
    assert "warn" in line(out, "database") and f"opens {tmp_path / 'tmp' / 'x.db'}" in out, out


def test_each_mcp_server_is_checked_and_a_dead_one_is_named(tmp_path: Path) -> None:
    server = str(Path(__file__).resolve().parents[1] / "support" / "mcp_server.py")
    config = {
        "mcp_servers": {
            "good": {"command": sys.executable, "args": [server], "env": {"NOTES": str(tmp_path / "n")}},
            "gone": {"command": str(tmp_path / "no-such-mcp-server")},
        }
    }
    code, out = doctor(tmp_path, config=config)
    assert code == 1, out
    assert " ok " in line(out, "mcp good") and "7 tool(s)" in line(out, "mcp good"), out
    assert "FAIL" in line(out, "mcp gone") and "ResumeChat.mcp_servers['gone']" in out, out
