"""What one client connection may take: uvicorn's httptools protocol, with limits it lacks.

uvicorn reads a request head of any size, waits for a client's next byte for ever and accepts
connections until the process runs out of file descriptors: a few slow or hostile clients could
fill memory or hold every descriptor. Here a connection is refused beyond `max_connections`;
a request must arrive whole within `client_timeout_s` of its first byte (or of connecting), and a
client may not leave what it is sent unread for longer; a request head, or a chunked body's
trailers, may not pass MAX_HEAD_BYTES. Time the server itself holds up reading (a pipelined request waiting
for the response before it) doesn't count, and a refusal never goes out ahead of a response still
owed on the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..settings import Settings
from . import metrics

MAX_HEAD_BYTES = 64 * 1024
"""Request line and headers; nginx's default allows 32 KB, and a question fits in 4 KB."""
LINGER_S = 1.0
"""How long a refused connection is read and discarded after its answer: closing with the
client's request unread would reset the connection, and the client would never see the answer."""
MAX_LINGERING = 64
"""Refused connections lingering at once; beyond, they are closed at once (a burst of refusals
must not use up file descriptors)."""
RESERVED_FILES = 64
"""File descriptors kept for the index, logs and reloads beyond the connections."""

log = logging.getLogger("qa.serve")

Refusal = tuple[int, str, str]
"""Status, detail, metric reason."""


def fit_to_file_limit(settings: Settings) -> Settings:
    """Settings whose connection cap fits the process's open-file limit, raised to its hard limit
    first: at the usual soft limit of 1024, descriptors would run out before 1,000 connections."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    except (ImportError, ValueError, OSError):  # not on this platform, or not allowed: keep the limit
        return settings
    room = soft - RESERVED_FILES - MAX_LINGERING
    if settings.max_connections and settings.max_connections > room:
        log.warning("QA_MAX_CONNECTIONS=%d lowered to %d: the process may open only %d files",
                    settings.max_connections, max(1, room), soft)
        return replace(settings, max_connections=max(1, room))
    return settings


def guarded_protocol(settings: Settings) -> type[asyncio.Protocol]:
    """The protocol class uvicorn runs with (`http=`), holding settings' connection limits."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,),
                {"max_connections": settings.max_connections, "client_timeout_s": settings.client_timeout_s})


class GuardedHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a connection cap, deadlines to receive each request and to read each
    response, and a limit on request heads and trailers."""

    max_connections = 0  # no limit
    client_timeout_s = 0.0  # no deadline
    lingering = 0  # refused connections lingering now, in this process

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._running: Any = None  # the request cycle whose app runs now
        self._in_head = False  # a request has begun and its head isn't complete
        self._in_body = False  # its head is complete and its body isn't
        self._head_size = 0  # exact, from the parser's callbacks
        self._head_received = 0  # bytes of later reads while the head stayed incomplete
        self._no_body_bytes = 0  # bytes read in the body phase since the last body bytes
        self._lingers = False
        self._deferred = False  # the deadline passed while the server held up reading
        self._refused: Refusal | None = None  # waiting for the responses owed before it
        self._closing = False  # answered and lingering: what arrives is discarded
        self._raw_non_ascii = False  # bytes outside ASCII arrived outside a body: a URL not percent-encoded?

    # ------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.max_connections and len(self.connections) > self.max_connections:
            self._refuse((503, "too many open connections; try again shortly", "too_many_connections"))
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._stop_write_timer()
        if self._lingers:
            GuardedHttpProtocol.lingering -= 1
            self._lingers = False
        self._mark_disconnected()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._closing or self._refused:
            return
        if self._in_head:  # the read that begins a head is counted by the callbacks
            self._head_received += len(data)
        elif self._in_body:
            self._no_body_bytes += len(data)
        elif self._timer is None:
            self._arm()  # bytes between requests ("\r\n", which the parser skips) keep no connection open
        if not self._in_body and not data.isascii():
            self._raw_non_ascii = True
        super().data_received(data)
        if self._closing or self._refused or self.transport.is_closing():  # answered 400: malformed
            return
        if self._in_head and max(self._head_size, self._head_received) > MAX_HEAD_BYTES:
            self._refuse(_head_too_large())
        elif self._in_body and self._no_body_bytes > MAX_HEAD_BYTES:
            # a chunked body's trailers or chunk extensions, which no body limit counts
            metrics.CONNECTIONS_CLOSED.labels("head_too_large").inc()
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers a request its parser rejects in plain text; every other error here is
        # JSON. A likely cause is a URL pasted with a raw "’" or "é" in it.
        self._refuse(_malformed(self._raw_non_ascii))

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.client_timeout_s > 0 and self._write_timer is None:
            self._write_timer = self.loop.call_later(self.client_timeout_s, self._not_reading)

    def resume_writing(self) -> None:
        self._stop_write_timer()
        super().resume_writing()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        self._running = cycle
        super()._start_asgi_task(cycle, app)

    # ------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        if self._refused is not None:  # the rest of a read that held a refused request
            return
        super().on_message_begin()
        self._in_head, self._in_body = True, False
        self._head_size = self._head_received = self._no_body_bytes = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        if self._refused is None:
            self._head_size += len(url)
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused is not None or self.transport.is_closing():
            return
        if not self._in_head:  # a chunked body's trailer: the app reads none (data_received counts it)
            return
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused is not None:
            return
        self._in_head = False
        if self._head_size > MAX_HEAD_BYTES:  # completed within the read that took it past the limit
            self._refuse(_head_too_large())
            return
        self._in_body = True
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._refused is None:
            self._no_body_bytes = 0
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused is not None:
            return
        self._in_body = self._deferred = False
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts a pipelined request waiting for this response
        if self.transport.is_closing() or self._owes_earlier_response():
            return
        if self._refused is not None:
            self._refuse(self._refused)
        elif self._deferred:
            self._deferred = False
            self._arm()

    # ------------------------------------------------------------ deadline

    def _arm(self) -> None:
        self._disarm()
        if self.client_timeout_s > 0:
            self._timer = self.loop.call_later(self.client_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        """The request hasn't arrived whole in time: 408 while its head is partly read; else hang
        up, as a connection that has sent nothing expects (a browser's spare one), or while the
        app reads the body (it sees the client leave)."""
        self._timer = None
        if self.transport.is_closing() or self._closing:
            return
        if self._owes_earlier_response():  # reading is held up for it: the client isn't slow
            self._deferred = True
            return
        if self._in_head:
            self._refuse((408, f"request not received within {self.client_timeout_s:g} s", "slow_client"))
            return
        metrics.CONNECTIONS_CLOSED.labels("slow_client").inc()
        self.transport.close()

    def _not_reading(self) -> None:
        """The client has read nothing of what it is sent for the whole client timeout."""
        self._write_timer = None
        metrics.CONNECTIONS_CLOSED.labels("slow_client").inc()
        self._mark_disconnected()
        self.transport.abort()

    def _stop_write_timer(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _mark_disconnected(self) -> None:
        """Tell every request of the connection still answering that the client has gone (uvicorn
        tells only the last one read, and a pipelined one before it would write to a closed socket)."""
        for cycle in (self._running, *(queued for queued, _ in self.pipeline)):
            if cycle is not None and not cycle.response_complete and not cycle.disconnected:
                cycle.disconnected = True
                cycle.message_event.set()

    def _owes_earlier_response(self) -> bool:
        """Whether a request before the one being read still awaits its response."""
        if self._in_body:  # this request's own cycle is self.cycle: is it queued behind another?
            return any(cycle is self.cycle for cycle, _ in self.pipeline)
        return self.cycle is not None and not self.cycle.response_complete

    # ------------------------------------------------------------ refusing

    def _refuse(self, refusal: Refusal) -> None:
        """Answer with a JSON detail, as every other error, and close: once the responses owed
        before it have gone, so that the client reads each answer as the one to its request."""
        self._disarm()
        self._refused = refusal
        if self._owes_earlier_response():
            self.flow.pause_reading()
            return
        status, detail, reason = refusal
        metrics.CONNECTIONS_CLOSED.labels(reason).inc()
        body = json.dumps({"detail": detail}).encode()
        head = [f"HTTP/1.1 {status} {REASONS[status]}", "content-type: application/json",
                f"content-length: {len(body)}", "connection: close"]
        if status == 503:
            head.append("retry-after: 1")
        self._closing = True
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        if self.transport.can_write_eof() and GuardedHttpProtocol.lingering < MAX_LINGERING:
            self.transport.write_eof()
            self.flow.resume_reading()
            GuardedHttpProtocol.lingering += 1
            self._lingers = True
            self.connections.discard(self)  # it no longer counts toward the cap
            self._timer = self.loop.call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()


def _head_too_large() -> Refusal:
    return 431, f"request line and headers larger than {MAX_HEAD_BYTES} bytes", "head_too_large"


def _malformed(non_ascii: bool = False) -> Refusal:
    hint = (" (characters outside ASCII in a URL must be percent-encoded, as curl --get --data-urlencode 'q=...'"
            " does)") if non_ascii else ""
    return (400, "malformed HTTP request: its request line, a header or the framing of its body can't be parsed"
            + hint, "malformed")


REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large", 503: "Service Unavailable"}
