"""Every error leaves as JSON {"detail": "<one readable sentence>"} with a 4xx (a 503 for a damaged
index), never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from ..models import validation_message
from ..store import IndexLoadError

log = logging.getLogger("qa.api")

CLIENT_GONE = 499
"""Logged and counted for a request whose client hung up before its body arrived (nginx's code)."""


class ApiError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_message(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # Nobody is left to answer: one access-log line, not an error with a traceback per hang-up.
        return Response(status_code=CLIENT_GONE)

    @app.exception_handler(IndexLoadError)
    async def _damaged(request: Request, exc: IndexLoadError) -> JSONResponse:
        # A file of the served generation altered since it was loaded: the log names it, the
        # client learns what is wrong without the server's paths.
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": "the index is damaged and cannot answer this; the server log names the "
                                       "file, and `qa index` rebuilds it"}, status_code=503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)
