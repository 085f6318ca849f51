"""What one client connection may take: uvicorn's httptools protocol, with limits it lacks.

uvicorn reads a request head of any size, waits for a client's next byte for ever and accepts
connections until the process runs out of file descriptors: a few slow or hostile clients could
fill memory or hold every descriptor. Here a connection is refused beyond `max_connections`,
a request must arrive whole within `client_timeout_s` of its first byte (or of connecting), and
a request head may not pass MAX_HEAD_BYTES.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..settings import Settings
from . import metrics

MAX_HEAD_BYTES = 64 * 1024
"""Request line and headers; nginx's default allows 32 KB, and a question fits in 4 KB."""


def guarded_protocol(settings: Settings) -> type[asyncio.Protocol]:
    """The protocol class uvicorn runs with (`http=`), holding settings' connection limits."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,),
                {"max_connections": settings.max_connections, "client_timeout_s": settings.client_timeout_s})


class GuardedHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a connection cap, a deadline to receive each request, a head limit."""

    max_connections = 0  # no limit
    client_timeout_s = 0.0  # no deadline

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._head_bytes: int | None = 0  # None once the head is read
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.max_connections and len(self.connections) > self.max_connections:
            self._refused = True
            self._refuse(503, "too many open connections; try again shortly", "too_many_connections",
                         retry_after=True)
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        reading_head = self._head_bytes is not None
        if reading_head:
            self._head_bytes = (self._head_bytes or 0) + len(data)
        super().data_received(data)
        # Checked after parsing, so that the body bytes of the chunk that ends the head don't count.
        if reading_head and self._head_bytes is not None and self._head_bytes > MAX_HEAD_BYTES \
                and not self.transport.is_closing():
            self._refuse(431, f"request line and headers larger than {MAX_HEAD_BYTES} bytes", "head_too_large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm()

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self) -> None:
        self._disarm()
        if self.client_timeout_s > 0:
            self._deadline = self.loop.call_later(self.client_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        """The request hasn't arrived whole in time: 408 while its head is unread, else hang up
        (the app is already reading the body, and sees the client leave)."""
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._head_bytes is not None:
            self._refuse(408, f"request not received within {self.client_timeout_s:g} s", "slow_client")
        else:
            metrics.CONNECTIONS_CLOSED.labels("slow_client").inc()
            self.transport.close()

    def _refuse(self, status: int, detail: str, reason: str, retry_after: bool = False) -> None:
        """Answer status with a JSON detail, as every other error, and close the connection."""
        metrics.CONNECTIONS_CLOSED.labels(reason).inc()
        body = json.dumps({"detail": detail}).encode()
        head = [f"HTTP/1.1 {status} {REASONS[status]}", "content-type: application/json",
                f"content-length: {len(body)}", "connection: close"]
        if retry_after:
            head.append("retry-after: 1")
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        self.transport.close()


REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large", 503: "Service Unavailable"}
