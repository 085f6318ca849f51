"""GET and POST /ask: a question in, cited passages out."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote_to_bytes

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from ..models import (MAX_K, MAX_QUESTION_CHARS, QUESTION_PATTERN, AskRequest, AskResponse, parse_json,
                      validation_message)
from .engine import Busy, Engine
from .errors import ApiError
from . import metrics

router = APIRouter(tags=["search"])

ASK_RESPONSES: dict[int | str, dict] = {
    400: {"description": "Malformed body (not UTF-8 or not JSON)"},
    413: {"description": "Body larger than the limit"},
    422: {"description": "Invalid question or k"},
    503: {"description": "Too many questions are waiting (QA_MAX_QUEUED); retry after the Retry-After seconds"},
    504: {"description": "The answer took longer than the per-request limit"},
}


@router.get("/ask", response_model=AskResponse, responses=ASK_RESPONSES, summary="Answer a question")
async def ask_get(
    request: Request,
    q: str = Query(description="The question", min_length=1, max_length=MAX_QUESTION_CHARS,
                   examples=["How does NATO respond to an attack on a member?"],
                   json_schema_extra={"pattern": QUESTION_PATTERN}),
    k: int = Query(default=5, ge=1, le=MAX_K, description="How many passages to return"),
) -> Response:
    _check_query_string(request)
    _check_k_spelling(request)
    return await _answer(request, _validated({"question": q, "k": k}))


def _check_query_string(request: Request) -> None:
    """400 for a query string that isn't UTF-8 once percent-decoded, as for a POST body: the
    framework would read its bytes as U+FFFD and answer a question nobody asked."""
    try:
        unquote_to_bytes(request.scope.get("query_string", b"")).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the query string is not valid UTF-8 once percent-decoded (byte {exc.start})") from None


def _check_k_spelling(request: Request) -> None:
    """422 for a k written with digit separators ("5_0"): the framework reads it as Python would
    (50), so a typo for 5 would silently return fifty passages."""
    for raw in request.query_params.getlist("k"):
        if "_" in raw:
            raise ApiError(422, f"k: Input should be a valid integer, not {raw[:20]!r}")


@router.post(
    "/ask",
    response_model=AskResponse,
    responses=ASK_RESPONSES,
    summary="Answer a question (JSON body)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": AskRequest.model_json_schema()}},
        }
    },
)
async def ask_post(request: Request) -> Response:
    return await _answer(request, _validated(await _json_body(request)))


async def _json_body(request: Request) -> object:
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "the request body is empty; send JSON like {\"question\": \"...\", \"k\": 5}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        return parse_json(text)
    except ValueError as exc:
        raise ApiError(400, f"the request body is {exc}") from None


def _validated(data: object) -> AskRequest:
    if not isinstance(data, dict):
        raise ApiError(422, "the body must be a JSON object like {\"question\": \"...\", \"k\": 5}")
    try:
        return AskRequest.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, validation_message(exc)) from None


async def _answer(request: Request, ask: AskRequest) -> Response:
    engine: Engine = request.app.state.engine
    settings = request.app.state.settings
    request.state.k = ask.k
    request.state.question = ask.question
    try:
        async with asyncio.timeout(settings.request_timeout_s):  # no extra task, unlike wait_for
            answered = await engine.ask(ask.question, ask.k)
    except asyncio.TimeoutError:
        raise ApiError(504, f"no answer within {settings.request_timeout_s:g} s; try again") from None
    except Busy as exc:
        raise ApiError(503, str(exc), headers={"Retry-After": "1"}) from None
    request.state.low_confidence = answered.low_confidence
    if answered.low_confidence:
        metrics.LOW_CONFIDENCE.inc()
    return Response(answered.body, media_type="application/json")
