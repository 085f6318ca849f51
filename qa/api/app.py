"""The FastAPI app factory: one router per concern over one Engine."""

from __future__ import annotations

import logging
import time
import uuid

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..searcher import Searcher
from ..settings import Settings
from . import admin, ask, documents, health, metrics, web
from .docs import install_docs
from .watch import lifespan
from .engine import Engine
from .errors import CLIENT_GONE, install_error_handlers

log = logging.getLogger("qa.access")


def create_app(settings: Settings | None = None, searcher: Searcher | None = None) -> FastAPI:
    """An app serving settings.index (loaded now, so a bad index fails before the port opens)."""
    settings = settings or Settings.from_env()
    searcher = searcher or Searcher(settings.index, settings)
    app = FastAPI(
        title="qa",
        version=__version__,
        summary="Semantic search and question answering over articles, with exact citations.",
        description="Ask a question in plain language; get the passages that answer it, each with its "
        "article, section and character span, the sentence that answers, and the article's notice.",
        lifespan=lifespan,
        docs_url=None,  # docs.py serves it from a package instead of a CDN
        redoc_url=None,  # a CDN page too; docs.py redirects it to /docs
    )
    app.state.settings = settings
    app.state.engine = Engine(searcher, settings)
    install_error_handlers(app)
    for module in (admin, ask, documents, health, metrics, web):
        app.include_router(module.router)
    install_docs(app)
    # Added last runs first: the access log wraps the body limit, so a 413 is logged and counted.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessMiddleware, settings=settings)
    if settings.cors_origins:  # off by default; never lets a browser send the admin token cross-origin
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "X-Request-ID"], max_age=600)
    return app


class BodyLimitMiddleware:
    """413 for bodies over the limit, by Content-Length or while streaming, before any parsing."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    if value.isdigit() and int(value) <= DRAIN_LIMIT and not await _drained(receive):
                        # gone mid-body (or cut off as too slow): logged as such, not as a 413 it never read
                        await _send_json(send, CLIENT_GONE, "client closed the connection")
                        return
                    await _send_json(send, 413, f"request body larger than {self.max_bytes} bytes")
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _send_json(send, 413, f"request body larger than {self.max_bytes} bytes")


class _TooLarge(Exception):
    pass


DRAIN_LIMIT = 16 * 1024 * 1024
"""Oversized bodies up to this size are read and discarded before the 413; bigger ones are cut off."""


async def _drained(receive: Receive) -> bool:
    """Read and discard the request body (so the client reads our 413 instead of a broken pipe);
    False when the client left first."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return False
        if not message.get("more_body", False):
            return True


async def _send_json(send: Send, status: int, detail: str) -> None:
    import json

    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class AccessMiddleware:
    """One structured log line and the metrics of every request."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex[:16]
        scope.setdefault("state", {})
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode()[:64])]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            metrics.REQUESTS.labels(route, scope["method"], str(status)).inc()
            metrics.LATENCY.labels(route).observe(elapsed)
            state = scope["state"]
            fields = {"request_id": request_id, "method": scope["method"], "route": route, "status": status,
                      "ms": round(elapsed * 1000, 2)}
            if "k" in state:
                fields["k"] = state["k"]
            if "low_confidence" in state:
                fields["low_confidence"] = state["low_confidence"]
            if self.settings.log_questions and "question" in state:
                fields["question"] = state["question"]
            log.info("%s %s %d", scope["method"], scope["path"], status, extra={"fields": fields})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text = value.decode("latin-1").strip()
            # ASCII only: it is echoed back as UTF-8, which would garble any other byte ("é" -> "Ã©")
            return text[:64] if text and text.isascii() and text.isprintable() else None
    return None
