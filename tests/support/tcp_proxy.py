"""A TCP forwarder whose link can be cut and restored, for database outage tests.

``TcpProxy(("127.0.0.1", 5432))`` listens on a free 127.0.0.1 port and pipes
each connection to the target. ``cut()`` resets every open connection (both
sides see ECONNRESET at once, as when a database host or its network dies)
and resets every new one as soon as it is accepted, so a client that tries
to reconnect fails fast instead of hanging; ``restore()`` forwards again.
It runs on threads of its own, so it works whatever event loop the test
uses; ``stop()`` (or leaving the ``with`` block) closes everything.

``TcpProxy(target, never_close=True)`` behaves like a proxy that keeps its
client's connection open when the upstream dies (JupyterHub's
configurable-http-proxy with a dead single-user server): the client sees
silence, never an end, until ``stop()``.
"""

from __future__ import annotations

import select
import socket
import struct
import threading

__all__ = ["TcpProxy"]

_CHUNK = 65536


def _reset(sock: socket.socket) -> None:
    """Close with RST, not FIN: the peer sees a connection reset, not an orderly end."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class TcpProxy:
    """Forward 127.0.0.1:``port`` to ``target``; ``cut()`` and ``restore()`` the link."""

    def __init__(self, target: tuple[str, int], *, never_close: bool = False) -> None:
        self.target = target
        self.never_close = never_close
        self._held: list[socket.socket] = []  # clients kept open after their upstream ended
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._threads: list[threading.Thread] = []
        self._cut = False
        self._stopped = False
        self.accepted = 0  # connections forwarded (for the tests' own checks)
        self.refused = 0  # connections reset while cut
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"tcp-proxy-{self.port}", daemon=True
        )
        self._acceptor.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def is_cut(self) -> bool:
        return self._cut

    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def cut(self) -> None:
        """Reset every open connection; reset new ones until ``restore()``."""
        with self._lock:
            self._cut = True
            pairs = list(self._pairs)
            self._pairs.clear()
        for client, upstream in pairs:
            _reset(client)
            _reset(upstream)

    def restore(self) -> None:
        """Forward new connections again."""
        with self._lock:
            self._cut = False

    def stop(self) -> None:
        """Close the listener and every connection; join the threads."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            pairs = list(self._pairs)
            self._pairs.clear()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for client, upstream in pairs:
            _reset(client)
            _reset(upstream)
        for client in self._held:
            _reset(client)
        self._acceptor.join(5)
        for thread in list(self._threads):
            thread.join(5)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # threads

    def _accept_loop(self) -> None:
        while not self._stopped:
            try:
                ready, _, _ = select.select([self._listener], [], [], 0.2)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                client, _ = self._listener.accept()
            except OSError:
                if self._stopped:
                    return
                continue
            if self._cut or self._stopped:
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, upstream)
            with self._lock:
                if self._cut or self._stopped:  # cut while we were connecting
                    self.refused += 1
                    _reset(client)
                    _reset(upstream)
                    continue
                self._pairs.add(pair)
                self.accepted += 1
            thread = threading.Thread(
                target=self._pump, args=(pair,), daemon=True, name=f"tcp-proxy-{self.port}-pipe"
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _hold(self, pair: tuple[socket.socket, socket.socket]) -> None:
        """The upstream ended: close it, keep the client's side open and silent."""
        with self._lock:
            self._pairs.discard(pair)
            self._held.append(pair[0])
        pair[1].close()

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        """Copy bytes both ways until either side closes or the link is cut."""
        client, upstream = pair
        peer = {client: upstream, upstream: client}
        try:
            while True:
                with self._lock:
                    if pair not in self._pairs:
                        return  # cut or stopped: the sockets are already reset
                ready, _, _ = select.select([client, upstream], [], [], 0.2)
                for sock in ready:
                    try:
                        data = sock.recv(_CHUNK)
                    except OSError:
                        if sock is not upstream or not self.never_close:
                            raise
                        data = b""  # a reset upstream: held like an ended one
                    if not data and sock is upstream and self.never_close:
                        self._hold(pair)
                        return
                    if not data:
                        raise ConnectionError("closed")
                    with self._lock:
                        if pair not in self._pairs:
                            return  # cut between the read and the write: drop it
                    peer[sock].sendall(data)
        except (OSError, ValueError, ConnectionError):
            pass
        finally:
            with self._lock:
                live = pair in self._pairs
                self._pairs.discard(pair)
            if live:  # an orderly end from one side: end the other the same way
                for sock in pair:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    sock.close()
