"""GET /healthz: 200 once an index is loaded and serving."""

from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter(tags=["operations"])


# async: it only reads memory, and a plain def would cost a worker-thread round trip per call.
@router.api_route("/healthz", methods=["GET", "HEAD"], summary="Liveness and the served index")  # HEAD: for uptime probes
async def healthz(request: Request) -> dict[str, object]:
    searcher = request.app.state.engine.searcher
    counts = searcher.manifest.get("counts", {})
    return {
        "status": "ok",
        "generation": searcher.generation,
        "articles": counts.get("articles"),
        "sections": counts.get("sections"),
        "model": searcher.manifest["model"].get("name"),
        "partner_model": (searcher.manifest.get("partner") or {}).get("model"),
    }
