"""A TCP proxy in front of the real MinIO that damages traffic the way a bad link or a broken server
would: flips a byte of every PUT body in flight, rewrites a response header, or cuts responses short.

Why a proxy and not a hook in the client: the damage must happen after our code computed and sent
its checksum, whichever HTTP path (boto3 or our own signed requests) carried the request.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit


@contextlib.contextmanager
def s3_proxy(endpoint: str, *, flip_put_body: bool = False, cut_response_after: int | None = None,
             response_replace: tuple[bytes, bytes] | None = None) -> Iterator[str]:
    """Yields the proxy's endpoint URL; `response_replace` swaps equal-length byte strings."""
    if response_replace is not None and len(response_replace[0]) != len(response_replace[1]):
        raise ValueError("response_replace must keep the length (Content-Length is not rewritten)")
    target = urlsplit(endpoint)
    listener = socket.create_server(("127.0.0.1", 0))

    def requests(source: socket.socket, sink: socket.socket) -> None:
        with _closing_both(source, sink):
            pending = b""
            while block := source.recv(65536):
                pending += block
                pending = _forward_requests(pending, sink, flip_put_body)

    def responses(source: socket.socket, sink: socket.socket) -> None:
        sent = 0
        with _closing_both(source, sink):
            while (cut_response_after is None or sent < cut_response_after) and (block := source.recv(65536)):
                if response_replace is not None:
                    block = block.replace(*response_replace)
                if cut_response_after is not None:
                    block = block[:cut_response_after - sent]
                sink.sendall(block)
                sent += len(block)

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection((target.hostname, target.port))
            threading.Thread(target=requests, args=(client, server), daemon=True).start()
            threading.Thread(target=responses, args=(server, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def _forward_requests(pending: bytes, sink: socket.socket, flip_put_body: bool) -> bytes:
    """Send every whole request in `pending` on (first body byte of a PUT flipped); keep the rest."""
    while (end := pending.find(b"\r\n\r\n")) >= 0:
        head = pending[:end + 4]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if len(pending) < len(head) + length:
            return pending
        body = bytearray(pending[len(head):len(head) + length])
        if flip_put_body and head.startswith(b"PUT ") and body:
            body[0] ^= 0xFF
        sink.sendall(head + bytes(body))
        pending = pending[len(head) + length:]
    return pending


@contextlib.contextmanager
def _closing_both(*ends: socket.socket) -> Iterator[None]:
    try:
        with contextlib.suppress(OSError):
            yield
    finally:
        for end in ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
