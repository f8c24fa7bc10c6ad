"""The database fails across the end of a reply: persist before announce
(docs/protocol.md#persist-before-announce).

Real server processes with the demo model. The message store becomes
unreachable after a reply has started and stays so while the reply ends:

* PostgreSQL behind a TCP proxy whose link is cut (every connection reset);
* SQLite on a small tmpfs filled by a filler file (commits fail: SQLITE_FULL);
* SQLite whose writes fail with EROFS, as on a file system gone read-only.

Until the store is back the job keeps the text and retries its commit: readers
get keepalives and no ``final``, the conversation's stream stays active and the
stream does not expire, even well past ``stream_ttl``. Once the store is back
the ``final`` arrives and the database holds exactly the text the reader got,
with the announced status. A server stopped (SIGTERM) while the store is down
leaves, once started again with the store back, an ``interrupted`` reply with
all the text its readers had seen (invariant 9).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.fixtures import through_proxy
from tests.support.server_process import ServerProcess
from tests.support.services import run_aside, unavailable
from tests.support.tcp_proxy import TcpProxy

STREAM_TTL = 1.0
HEARTBEAT = 0.2
CHECKPOINT = 0.1
#: How long the store stays down after the generation ended, read as keepalives:
#: longer than ``stream_ttl`` plus the old code's whole retry budget (0.2+0.4+0.8 s).
OUTAGE = 3.0
#: A generous bound for the final once the store is back (retries back off).
RECOVERY = 30.0
STOP_TIMEOUT = 20.0
PIECE, COUNT, PACE = "ab", 150, 0.02  # a reply of about 3 s
PROMPT = f"/pace {PACE} /repeat {COUNT} {PIECE}"
EXPECTED = PIECE * COUNT


# --- reading an event stream in the test's own thread --------------------------------


@dataclass
class Event:
    id: int
    event: str
    data: dict[str, Any]


@dataclass
class Reader:
    """One raw ``GET streams/{sid}/events`` response, read line by line.

    Keepalive comments come every ``heartbeat_interval``, so reading returns
    control to the test several times a second: waits are driven by the
    stream itself, never by sleeping.
    """

    response: httpx.Response
    _close: Callable[[], None]
    events: list[Event] = field(default_factory=list)
    keepalives: int = 0
    eof: bool = False

    def __post_init__(self) -> None:
        self._lines = self.response.iter_lines()

    @property
    def text(self) -> str:
        text = ""
        for event in self.events:
            if event.event == "snapshot":
                text = event.data["content"]
            elif event.event == "delta":
                text += event.data.get("text", "")
        return text

    @property
    def final(self) -> Event | None:
        return next((e for e in self.events if e.event == "final"), None)

    def step(self) -> str | None:
        """Read up to the next event or comment: "event", "keepalive", or None at the end."""
        fields: dict[str, str] = {}
        for line in self._lines:
            if line.startswith(":"):
                self.keepalives += 1
                return "keepalive"
            if line == "":
                if "data" in fields:
                    self.events.append(
                        Event(int(fields["id"]), fields.get("event", "message"), json.loads(fields["data"]))
                    )
                    return "event"
                fields = {}
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            fields[name] = fields[name] + "\n" + value if name == "data" and name in fields else value
        self.eof = True
        return None

    def until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.eof:
                raise AssertionError(f"the event stream ended before {what}; got {self.summary()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout:g} s; got {self.summary()}")
            self.step()

    def read_for(self, seconds: float) -> list[Event]:
        """Everything that arrives in the next ``seconds`` (the stream's heartbeat paces this)."""
        start, deadline = len(self.events), time.monotonic() + seconds
        while time.monotonic() < deadline and not self.eof:
            self.step()
        return self.events[start:]

    def drain(self) -> None:
        """Read what is left after the server went away (a broken end is fine)."""
        try:
            while self.step() is not None:
                pass
        except httpx.HTTPError:
            self.eof = True

    def close(self) -> None:
        self._close()

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for event in self.events:
            kinds[event.event] = kinds.get(event.event, 0) + 1
        final = self.final.data["message"]["status"] if self.final else None
        return (
            f"events {kinds}, {len(self.text)} chars of text, {self.keepalives} keepalives, "
            f"final status {final!r}, eof {self.eof}"
        )


def open_reader(
    client: httpx.Client, server: ServerProcess, stream_id: str, last_id: int | None = 0
) -> Reader:
    headers = {} if last_id is None else {"Last-Event-ID": str(last_id)}
    context = client.stream(
        "GET", server.url(f"streams/{stream_id}/events"), headers=headers, timeout=httpx.Timeout(10, read=15)
    )
    response = context.__enter__()
    assert response.status_code == 200, (response.status_code, response.read())

    def close() -> None:
        context.__exit__(None, None, None)

    return Reader(response, close)


# --- the faults -----------------------------------------------------------------------


class Fault:
    """Makes the message store fail (``cut``) and work again (``restore``)."""

    name = "fault"

    def cut(self) -> None:
        raise NotImplementedError

    def restore(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Undo whatever is left, on any outcome."""

    def held(self) -> str | None:
        """After ``restore``: None if the fault really made the store fail, else why not."""
        return None

    def stored_reply(self, message_id: str) -> tuple[str, str] | None:
        """(status, content) of the reply in the database itself, bypassing the
        server: to tell a fault that did not hold from a server that announced
        too early. None when it cannot be read."""
        return None


class ProxyCut(Fault):
    name = "PostgreSQL connection cut"

    def __init__(self, proxy: TcpProxy, dsn: str) -> None:
        self.proxy, self.dsn = proxy, dsn

    def cut(self) -> None:
        self.proxy.cut()

    def restore(self) -> None:
        self.proxy.restore()

    def close(self) -> None:
        self.proxy.restore()  # the proxy fixture stops it, after the server is gone

    def held(self) -> str | None:
        if self.proxy.refused == 0:
            return "the server never tried to reconnect through the cut proxy"
        return None

    def stored_reply(self, message_id: str) -> tuple[str, str] | None:
        async def query() -> Any:
            import asyncpg

            conn = await asyncpg.connect(self.dsn, timeout=5)
            try:
                return await conn.fetchrow(
                    "select status, content from resumechat_messages where id = $1", message_id
                )
            finally:
                await conn.close()

        try:
            row = run_aside(query())
        except Exception:
            return None
        return None if row is None else (row["status"], row["content"])


def _sqlite_reply(path: Path, message_id: str) -> tuple[str, str] | None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute(
                "select status, content from resumechat_messages where id = ?", (message_id,)
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return None if row is None else (row[0], row[1])


class DiskFull(Fault):
    name = "SQLite disk full"

    def __init__(self, mount: Path, db: Path) -> None:
        self.mount, self.db = mount, db
        self.filler = mount / "filler"
        self.filled = 0

    def cut(self) -> None:
        """Fill the file system to the last byte: the next write gets ENOSPC."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        block = b"\0" * (1 << 20)
        try:
            while True:
                try:
                    written = os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    if len(block) == 1:
                        break
                    block = block[: len(block) // 2]  # the last partial page too
                    continue
                self.filled += written
        finally:
            os.close(fd)
        assert shutil.disk_usage(self.mount).free == 0, "the tmpfs is not full"

    def restore(self) -> None:
        self.filler.unlink(missing_ok=True)

    def close(self) -> None:
        self.restore()

    def held(self) -> str | None:
        return None if self.filled > 0 else "nothing was written to fill the tmpfs"

    def stored_reply(self, message_id: str) -> tuple[str, str] | None:
        return _sqlite_reply(self.db, message_id)


class ReadOnly(Fault):
    """Every write to the database's files fails with EROFS, as on a file system
    that went read-only under the server.

    ``mount -o remount,ro`` cannot do this: Linux refuses it with EBUSY while
    any file on the mount is open for writing, and the server holds the
    database open read-write. (Only an emergency read-only, as ext4 does on an
    error, gets past that, and it cannot be undone without unmounting.) So
    strace attaches to the server and answers its write calls on those files
    with the error a read-only file system gives; detaching restores them.
    """

    name = "SQLite read-only"
    CALLS = "write,pwrite64,pwritev,pwritev2,ftruncate,fallocate,fsync,fdatasync"

    def __init__(self, server: ServerProcess, db: Path, workdir: Path) -> None:
        self.server, self.db = server, db
        self.trace = workdir / "strace.trace"
        self.errors = workdir / "strace.err"
        self.proc: subprocess.Popen[bytes] | None = None

    def _tracers(self) -> set[int]:
        assert self.server.proc is not None
        found = set()
        for task in Path(f"/proc/{self.server.proc.pid}/task").iterdir():
            try:
                status = (task / "status").read_text()
            except OSError:
                continue  # the thread just ended
            found.add(int(status.split("TracerPid:")[1].split()[0]))
        return found

    def cut(self) -> None:
        assert self.server.proc is not None
        paths = [str(self.db) + suffix for suffix in ("", "-wal", "-shm", "-journal")]
        args = [
            "strace",
            "-f",
            "-qq",
            "-p",
            str(self.server.proc.pid),
            "-o",
            str(self.trace),
            "-e",
            f"trace={self.CALLS}",
            "-e",
            f"inject={self.CALLS}:error=EROFS",
        ]
        for path in paths:
            args += ["-P", path]
        with open(self.errors, "wb") as errors:
            self.proc = tracer = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=errors)
        until(
            lambda: self._tracers() == {tracer.pid} or tracer.poll() is not None,
            15,
            "strace to attach to every thread of the server",
        )
        assert tracer.poll() is None, f"strace failed: {self.errors.read_text()}"

    def restore(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # strace detaches and lets the server run on
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if self.server.proc is not None and self.server.proc.poll() is None:
            until(lambda: self._tracers() == {0}, 15, "strace to detach from the server")

    def close(self) -> None:
        self.restore()

    def injected(self) -> int:
        """How many writes to the database files were refused (complete once strace exited)."""
        try:
            return self.trace.read_text(errors="replace").count("(INJECTED)")
        except OSError:
            return 0

    def held(self) -> str | None:
        return None if self.injected() > 0 else "no write to the database files was refused"

    def stored_reply(self, message_id: str) -> tuple[str, str] | None:
        return _sqlite_reply(self.db, message_id)


# --- fixtures -------------------------------------------------------------------------


def until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


TRAITS: dict[str, Any] = {
    "provider": "demo",
    "demo_delay": 0.01,
    "checkpoint_interval": CHECKPOINT,
    "heartbeat_interval": HEARTBEAT,
    "stream_ttl": STREAM_TTL,
}


@pytest.fixture
def pg_server(tmp_path: Path, postgres_url: str, proxy: TcpProxy) -> Iterator[ServerProcess]:
    """A server whose PostgreSQL is reached only through ``proxy``."""
    server = ServerProcess(tmp_path, db_url=through_proxy(postgres_url, proxy), **TRAITS)
    yield server
    server.stop()


@pytest.fixture
def pg_cut(pg_server: ServerProcess, postgres_url: str, proxy: TcpProxy) -> Iterator[ProxyCut]:
    fault = ProxyCut(proxy, postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    yield fault
    fault.close()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs of this test's own; unmounted on any outcome (after the server
    that uses it has been killed: the server fixtures depend on this one)."""
    mount = tmp_path / "dbfs"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "resumechat-test", str(mount)],
        check=False,
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        unavailable(f"cannot mount a tmpfs (needs root): {made.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)


@pytest.fixture
def sqlite_server(tmp_path: Path, tmpfs: Path) -> Iterator[ServerProcess]:
    """A server whose SQLite database (only it) lives on ``tmpfs``; its Jupyter
    data directory stays on the ordinary disk."""
    server = ServerProcess(tmp_path, db_url=f"sqlite+aiosqlite:///{tmpfs / 'chat.db'}", **TRAITS)
    yield server
    server.stop()


@pytest.fixture
def disk_full(sqlite_server: ServerProcess, tmpfs: Path) -> Iterator[DiskFull]:
    fault = DiskFull(tmpfs, tmpfs / "chat.db")
    yield fault
    fault.close()


@pytest.fixture
def read_only(sqlite_server: ServerProcess, tmpfs: Path, tmp_path: Path) -> Iterator[ReadOnly]:
    if shutil.which("strace") is None:
        unavailable("strace is not installed (apt-get install strace)")
    fault = ReadOnly(sqlite_server, tmpfs / "chat.db", tmp_path)
    yield fault
    fault.close()  # strace first, then the server fixture kills the server


# --- the scenario ---------------------------------------------------------------------


def start_reply(client: httpx.Client, server: ServerProcess) -> tuple[str, dict[str, Any]]:
    conv = client.post(server.url("conversations"), json={})
    assert conv.status_code == 201, conv.text
    cid = conv.json()["id"]
    sent = client.post(server.url(f"conversations/{cid}/messages"), json={"content": PROMPT})
    assert sent.status_code == 202, sent.text
    return cid, sent.json()


def reply_of(client: httpx.Client, server: ServerProcess, cid: str, message_id: str) -> dict[str, Any]:
    response = client.get(server.url(f"conversations/{cid}/messages"))
    assert response.status_code == 200, response.text
    return next(m for m in response.json()["messages"] if m["id"] == message_id)


def generate_while_down(
    client: httpx.Client, server: ServerProcess, fault: Fault
) -> tuple[str, dict[str, Any], Reader]:
    """Start a reply, cut the store once it streams, and read until the
    generation has ended (the reader has the whole known reply)."""
    cid, sent = start_reply(client, server)
    reader = open_reader(client, server, sent["stream_id"])
    reader.until(lambda: any(e.event == "delta" for e in reader.events), 20, "first delta")
    assert reader.final is None
    fault.cut()
    reader.until(lambda: reader.text == EXPECTED or reader.final is not None, 30, "the whole reply")
    assert reader.text == EXPECTED, f"the reader got {reader.text!r}"
    return cid, sent, reader


def diagnose(fault: Fault, message_id: str) -> str:
    stored = fault.stored_reply(message_id)
    if stored is None:
        return "(could not read the database directly)"
    status, content = stored
    note = f"the database itself holds status {status!r} with {len(content)} of {len(EXPECTED)} chars"
    if status != "streaming" and content == EXPECTED:
        note += ": the final commit SUCCEEDED, so the fault did not hold (a test machinery problem)"
    return note


def persist_before_announce(client: httpx.Client, server: ServerProcess, fault: Fault) -> None:
    server.start()
    cid, sent, reader = generate_while_down(client, server, fault)
    stream_id, message_id = sent["stream_id"], sent["assistant_message"]["id"]
    try:
        # The store is down and the generation is over: only keepalives, for
        # longer than stream_ttl plus any short retry budget.
        keepalives = reader.keepalives
        early = reader.read_for(OUTAGE)
        assert not early, (
            f"{fault.name}: the server announced {[e.event for e in early]} "
            f"({early[-1].data.get('message', {}).get('status')!r}) while the database was "
            f"unavailable; {diagnose(fault, message_id)}"
        )
        assert not reader.eof, "the event stream closed without a final while the database was down"
        assert reader.keepalives - keepalives >= 3, "the event stream went silent: no keepalives"
        status = client.get(server.url(f"conversations/{cid}/stream"))
        assert status.status_code == 200, status.text
        assert status.json()["active"] is True and status.json()["stream_id"] == stream_id, (
            f"the stream is not active while its reply is uncommitted: {status.json()}"
        )
        # A second reader resuming now is served (headers only: the stream is live).
        with client.stream(
            "GET",
            server.url(f"streams/{stream_id}/events"),
            headers={"Last-Event-ID": str(reader.events[-1].id)},
        ) as late:
            assert late.status_code == 200, (
                f"the uncommitted stream expired ({late.status_code}) {OUTAGE:g} s past its end, "
                f"with stream_ttl {STREAM_TTL:g} s"
            )
        stored = fault.stored_reply(message_id)
        if stored is not None:
            assert stored != ("complete", EXPECTED), diagnose(fault, message_id)
    finally:
        fault.restore()
    assert fault.held() is None, f"{fault.name}: test machinery: {fault.held()}"

    # The store is back: the commit succeeds, then the final is announced.
    reader.until(lambda: reader.final is not None, RECOVERY, "final after the database came back")
    final = reader.final
    assert final is not None and reader.events[-1] is final
    assert [e.id for e in reader.events] == list(range(1, len(reader.events) + 1))
    announced = final.data["message"]
    assert announced["status"] == "complete", announced
    assert announced["content"] == reader.text == EXPECTED
    stored_reply = reply_of(client, server, cid, message_id)
    assert stored_reply["status"] == announced["status"]
    assert stored_reply["content"] == reader.text, (
        f"the database holds {len(stored_reply['content'])} of the {len(reader.text)} chars the reader got"
    )
    reader.close()


def test_postgres_cut_across_the_end_of_a_reply(pg_server: ServerProcess, pg_cut: ProxyCut) -> None:
    with httpx.Client(headers=pg_server.headers, timeout=10) as client:
        persist_before_announce(client, pg_server, pg_cut)
    assert pg_cut.proxy.accepted > 0 and pg_cut.proxy.refused > 0  # the link was used, and cut


def test_sqlite_disk_full_across_the_end_of_a_reply(
    sqlite_server: ServerProcess, disk_full: DiskFull
) -> None:
    with httpx.Client(headers=sqlite_server.headers, timeout=10) as client:
        persist_before_announce(client, sqlite_server, disk_full)
    assert disk_full.filled > 0


def test_sqlite_read_only_across_the_end_of_a_reply(
    sqlite_server: ServerProcess, read_only: ReadOnly
) -> None:
    with httpx.Client(headers=sqlite_server.headers, timeout=10) as client:
        persist_before_announce(client, sqlite_server, read_only)


def test_stop_while_postgres_is_down_keeps_all_the_text(pg_server: ServerProcess, pg_cut: ProxyCut) -> None:
    server = pg_server
    with httpx.Client(headers=server.headers, timeout=10) as client:
        server.start()
        cid, sent, reader = generate_while_down(client, server, pg_cut)
        seen = reader.text
        ticks = reader.keepalives
        reader.until(
            lambda: reader.keepalives >= ticks + 2 or reader.final is not None,
            10,
            "keepalives after the end of the generation",
        )
        try:
            code = server.kill(signal.SIGTERM, timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"SIGTERM with the database down: the server did not exit within {STOP_TIMEOUT:g} s"
            ) from None
        assert code == 0, f"SIGTERM with the database down: exit code {code}"
        reader.drain()
        reader.close()
        pg_cut.restore()
        server.start()

        # The old run's reply is settled at start, or once its lease lapses: wait for that.
        def settled() -> dict[str, Any] | None:
            reply = reply_of(client, server, cid, sent["assistant_message"]["id"])
            return None if reply["status"] == "streaming" else reply

        reply = until(settled, RECOVERY, "the old reply to be settled")
        assert (reply["status"], len(reply["content"])) == ("interrupted", len(seen)), (
            f"after a stop with the database down, the reply is {reply['status']!r} with "
            f"{len(reply['content'])} of the {len(seen)} chars its reader had seen "
            f"(the reader got a final {reader.final.data['message']['status'] if reader.final else None!r})"
        )
        assert reply["content"] == seen
        if reader.final is not None:  # what was announced is what the database says
            announced = reader.final.data["message"]
            assert (announced["status"], announced["content"]) == ("interrupted", seen), (
                f"announced {announced['status']!r} with {len(announced['content'])} chars"
            )


# --- the machinery itself ---------------------------------------------------------------


def test_tcp_proxy_forwards_cuts_and_restores(postgres_url: str, proxy: TcpProxy) -> None:
    """What the PostgreSQL tests rely on: queries pass while linked; a cut resets the
    open connection and refuses new ones at once; restore links again."""
    import asyncpg

    through = (
        urlsplit(postgres_url.replace("+asyncpg", ""))._replace(netloc=f"postgres@{proxy.address}").geturl()
    )

    async def scenario() -> None:
        conn = await asyncpg.connect(through, timeout=5)
        assert await conn.fetchval("select 41 + 1") == 42
        proxy.cut()
        with pytest.raises((OSError, asyncpg.PostgresError, asyncpg.InterfaceError)):
            await conn.fetchval("select 1", timeout=5)
        started = time.monotonic()
        with pytest.raises((OSError, asyncpg.PostgresError, asyncpg.InterfaceError)):
            await asyncpg.connect(through, timeout=5)
        assert time.monotonic() - started < 3  # refused at once, not a hang
        conn.terminate()
        proxy.restore()
        again = await asyncpg.connect(through, timeout=5)
        assert await again.fetchval("select 1") == 1
        await again.close()

    run_aside(scenario())
    assert proxy.accepted == 2 and proxy.refused >= 1


def test_a_full_tmpfs_fails_sqlite_commits_until_the_filler_goes(tmpfs: Path) -> None:
    """What the disk-full test relies on: once the filler takes the last byte, a
    commit in WAL mode (the server's settings) fails with SQLITE_FULL; it works
    again once the filler is removed."""
    db = tmpfs / "probe.db"
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("create table t(x text)")
        for _ in range(20):  # a WAL with some frames in it, as mid-stream
            conn.execute("insert into t values (?)", ("x" * 5000,))
            conn.commit()
        fault = DiskFull(tmpfs, db)
        fault.cut()
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
            conn.execute("update t set x = ? where rowid = 1", ("y" * 5000,))
            conn.commit()
        conn.rollback()
        fault.restore()
        conn.execute("update t set x = ? where rowid = 1", ("y" * 5000,))
        conn.commit()
        assert conn.execute("select substr(x, 1, 1) from t where rowid = 1").fetchone() == ("y",)
    finally:
        conn.close()
