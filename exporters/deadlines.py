"""Deadlines for connections: a client slower than its deadline is disconnected.

Socket timeouts bound each read, not a whole handshake or request: a client sending a
byte a second would hold its thread forever. One watchdog thread closes connections
whose deadline passed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class Deadlines:
    """Connections and when they must have finished what they are doing."""

    def __init__(self, tick: float = 0.5) -> None:
        self._due: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._tick = tick
        self._thread = threading.Thread(target=self._run, name="deadlines", daemon=True)
        self._thread.start()

    def set(self, conn: socket.socket, seconds: float) -> None:
        with self._lock:
            self._due[conn] = time.monotonic() + seconds

    def clear(self, conn: socket.socket) -> None:
        with self._lock:
            self._due.pop(conn, None)

    def close(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            now = time.monotonic()
            with self._lock:
                late = [c for c, due in self._due.items() if due <= now]
                for conn in late:
                    del self._due[conn]
            for conn in late:
                # the plain socket's shutdown, also under TLS: it wakes the blocked read
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(conn, socket.SHUT_RDWR)
