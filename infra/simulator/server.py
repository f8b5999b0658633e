"""The simulator's HTTP server: a threaded stdlib server on 127.0.0.1 in a background thread.

Speed matters (the benchmark crawls 100k records through it), so the handler does no logging,
writes status line, headers and body in one `sendall`, keeps HTTP/1.1 connections alive and leaves
everything else to `SimulatorApp`, whose answers are cached as bytes per step.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from infra.simulator.app import SimulatorApp
from infra.simulator.faults import Fault
from infra.simulator.wire import Reply
from infra.simulator.world import StepChanges, World

_REASONS = {status.value: status.phrase for status in HTTPStatus}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sunshine-simulator/1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        super().finish()

    def _serve(self, method: str, *, with_body: bool = True) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.app.handle(method, self.path, self.headers, body)
        self._write(reply, with_body=with_body)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._serve("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve("GET", with_body=False)

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def _write(self, reply: Reply, *, with_body: bool = True) -> None:
        lines = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}",
                 f"Content-Type: {reply.content_type}", f"Content-Length: {len(reply.body)}"]
        lines.extend(f"{name}: {value}" for name, value in reply.headers)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + reply.body if with_body else head)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: no per-request logging
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: SimulatorApp | None = None) -> None:
        super().__init__(address, _Handler)
        self.app: SimulatorApp = app  # type: ignore[assignment]  # set right after binding
        self.connections: set[socket.socket] = set()


class SimulatorHandle:
    """A running simulator: its URLs, its world, and how to advance and stop it."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.app = server.app
        self.port: int = server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"

    @property
    def world(self) -> World:
        return self.app.world

    @property
    def token(self) -> str:
        return self.app.token

    def api_base_url(self, platform: str) -> str:
        """What a source's `base_url` is for `platform` on this server (`…/facebook/v21.0`)."""
        return self.app.api_base_url(platform)

    def advance(self) -> StepChanges:
        """Move simulated time one step; later answers show the new state."""
        return self.app.advance()

    def add_fault(self, fault: Fault) -> None:
        self.app.faults.add(fault)

    def clear_faults(self) -> None:
        self.app.faults.clear()

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections and free the port."""
        self._server.shutdown()
        for connection in list(self._server.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def start_simulator(seed: int = 1, scale: int = 5000, port: int = 0, token: str = "sim-token",
                    rate_limit_every: int | None = None, faults: list[Fault] | None = None,
                    retry_after: int = 1, world: World | None = None,
                    platforms: tuple[str, ...] | None = None) -> SimulatorHandle:
    """Generate a world and serve it on 127.0.0.1:`port` (0 = a free port) in a background thread.

    `rate_limit_every=N` answers every Nth request per platform with that platform's throttle
    answer (`retry_after` seconds in its headers); `faults` break chosen answers (see `faults.py`).
    Pass `world` to serve an existing world instead of generating one; `platforms` restricts a
    generated world to those profiles (see `World`).
    """
    server = _Server(("127.0.0.1", port))
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    server.app = SimulatorApp(world if world is not None else World(seed, scale, platforms), base_url=base_url,
                              token=token, rate_limit_every=rate_limit_every, faults=faults,
                              retry_after=retry_after)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"simulator:{server.server_address[1]}", daemon=True)
    thread.start()
    return SimulatorHandle(server, thread)
