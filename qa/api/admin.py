"""POST /admin/reload: swap in the generation CURRENT points to, with no downtime.

Admin routes exist only when QA_ADMIN_TOKEN is set (otherwise they answer 404, like any
unknown path) and need `Authorization: Bearer <token>`. The new generation is loaded in a
worker thread while the old one keeps serving; the swap is one reference assignment, and
requests already running finish on the searcher they started with. A generation that
can't be loaded is refused with 409 and the old one keeps serving.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from ..embedding import EncoderError
from ..searcher import Searcher
from ..store import IndexLoadError, resolve_generation
from . import metrics
from .engine import Engine
from .errors import ApiError

log = logging.getLogger("qa.admin")

bearer = HTTPBearer(auto_error=False, description="The value of QA_ADMIN_TOKEN")

ADMIN_RESPONSES: dict[int | str, dict] = {
    401: {"description": "No bearer token"},
    403: {"description": "Wrong bearer token"},
    404: {"description": "Admin routes are disabled (QA_ADMIN_TOKEN is not set)"},
}
RELOAD_RESPONSES: dict[int | str, dict] = {
    **ADMIN_RESPONSES,
    409: {"description": "The generation CURRENT points to can't be loaded; the previous one keeps serving"},
    503: {"description": "Loading failed unexpectedly; the previous generation keeps serving"},
}


class ReloadResponse(BaseModel):
    generation: str = Field(description="The generation now serving.")
    previous: str = Field(description="The generation served before; equal to `generation` when nothing changed.")
    changed: bool = Field(description="False when CURRENT already pointed to the served generation.")
    articles: int
    sections: int


def require_admin(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    """404 when admin is off, 401 without a bearer token, 403 with a wrong one."""
    token = request.app.state.settings.admin_token
    if not token:
        raise ApiError(404, "Not Found")
    if credentials is None or not credentials.credentials:
        raise ApiError(401, "admin routes need the header Authorization: Bearer <QA_ADMIN_TOKEN>",
                       headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
        raise ApiError(403, "wrong admin token")


router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.post("/reload", response_model=ReloadResponse, responses=RELOAD_RESPONSES,
             summary="Serve the index generation that CURRENT points to")
async def reload(request: Request) -> ReloadResponse:
    return await reload_index(request.app)


async def reload_index(app: FastAPI) -> ReloadResponse:
    """Load the generation CURRENT points to off the event loop and swap it in; no-op when already served."""
    engine: Engine = app.state.engine
    async with _reload_lock(app):
        old = engine.searcher
        try:
            target = await asyncio.to_thread(resolve_generation, old.index_dir)
        except IndexLoadError as exc:
            raise _refused(old, exc) from None
        if target.name == old.generation:
            return _reloaded(old, old.generation)
        try:
            new = await asyncio.to_thread(Searcher, old.index_dir, engine.settings)
        except (IndexLoadError, EncoderError) as exc:
            raise _refused(old, exc) from None
        except Exception as exc:  # noqa: BLE001 - whatever failed, the old index must keep serving
            log.exception("reload of %s failed", target)
            metrics.RELOADS.labels("failed").inc()
            raise ApiError(503, f"cannot load {target.name} ({type(exc).__name__}: {exc}); still serving "
                                f"{old.generation}") from None
        previous = engine.swap(new)
        metrics.RELOADS.labels("ok").inc()
        log.info("serving generation %s (was %s)", new.generation, previous)
        # Requests already running keep the old searcher; it is closed (releasing its lock on the
        # generation, so a later build may prune it) once the engine has answered every question
        # queued on it, and not before requests that read it directly (documents) are surely done.
        asyncio.get_running_loop().call_later(engine.settings.request_timeout_s + 5, engine.retire, old)
        return _reloaded(new, previous)


def _reload_lock(app: FastAPI) -> asyncio.Lock:
    lock = getattr(app.state, "reload_lock", None)
    if lock is None:
        lock = app.state.reload_lock = asyncio.Lock()
    return lock


def _refused(old: Searcher, exc: Exception) -> ApiError:
    metrics.RELOADS.labels("failed").inc()
    log.warning("reload refused: %s", exc)
    return ApiError(409, f"cannot reload: {exc}; still serving generation {old.generation}")


def _reloaded(searcher: Searcher, previous: str) -> ReloadResponse:
    counts = searcher.manifest.get("counts", {})
    return ReloadResponse(generation=searcher.generation, previous=previous,
                          changed=previous != searcher.generation,
                          articles=int(counts.get("articles", 0)), sections=int(counts.get("sections", 0)))
