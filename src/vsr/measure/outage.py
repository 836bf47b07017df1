"""An endpoint that goes away on cue: a loopback TCP relay in front of a real server.

The fault suite and `make bench-faults` point AWS_ENDPOINT_URL at `OutageRelay.url`. The relay
passes bytes through unchanged until an outage: then it drops every open connection and resets
each new one at once (what clients see when a server or its network is gone) until the outage
ends. An outage starts on request (`down_for`) or when a client sends a request whose head
contains a given byte string (`down_when`: "the moment the final's upload starts").
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Trigger:
    needle: bytes
    seconds: float
    fired_at: float | None = None


@dataclass
class OutageRelay:
    target_host: str
    target_port: int
    host: str = "127.0.0.1"
    refused: int = 0  # connections reset during outages, new and open ones
    outages: list[tuple[float, float]] = field(default_factory=list)  # (start, end) monotonic
    _until: float = 0.0
    _triggers: list[Trigger] = field(default_factory=list)
    _open: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._server = socket.create_server((self.host, 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def down(self) -> bool:
        return time.monotonic() < self._until

    def down_for(self, seconds: float) -> None:
        """Start an outage now: open connections drop, new ones are reset for `seconds`."""
        with self._lock:
            start = time.monotonic()
            self._until = max(self._until, start + seconds)
            self.outages.append((start, self._until))
            self.refused += len(self._open) // 2  # each relayed connection is a pair
            for conn in list(self._open):
                _reset(conn)
            self._open.clear()

    def up(self) -> None:
        """End the outage now."""
        with self._lock:
            self._until = 0.0
            if self.outages:
                self.outages[-1] = (self.outages[-1][0], time.monotonic())

    def down_when(self, needle: bytes, seconds: float) -> Trigger:
        """Start a `seconds` outage the first time a client sends bytes containing `needle`."""
        trigger = Trigger(needle, seconds)
        self._triggers.append(trigger)
        return trigger

    def close(self) -> None:
        self._stop.set()
        _close(self._server)
        with self._lock:
            for conn in list(self._open):
                _close(conn)

    def __enter__(self) -> OutageRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.down():
                self.refused += 1
                _reset(client)
                continue
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection((self.target_host, self.target_port), timeout=10)
        except OSError:
            _reset(client)
            return
        with self._lock:
            self._open.update((client, upstream))
        pairs = {client: upstream, upstream: client}
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select(list(pairs), [], [], 0.5)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client and self._fires(data):
                        return  # this request is the first casualty
                    pairs[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._open.discard(client)
                self._open.discard(upstream)
            _reset(client)
            _close(upstream)

    def _fires(self, data: bytes) -> bool:
        for trigger in self._triggers:
            if trigger.fired_at is None and trigger.needle in data:
                trigger.fired_at = time.monotonic()
                self.down_for(trigger.seconds)
                return True
        return self.down()


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN: the peer sees "connection reset", as from a dead host."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
