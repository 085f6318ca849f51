"""The web page at `/`: plain HTML, CSS and JS from qa/api/static, calling the JSON API.

Assets are served from a fixed list (no file path ever comes from a request) under URLs
that carry a hash of their content, so they can be cached for a long time while the page
itself is revalidated on every load.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Response

from .errors import ApiError

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parent / "static"
PAGE = "index.html"
ASSETS = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}

# Everything from this origin only: no inline script or style, no frames, no plugins.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
PAGE_CACHE = "no-cache"  # revalidate each load, so a new release shows at once
ASSET_CACHE = "public, max-age=31536000, immutable"  # the URL changes whenever the content does


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    version: str


@router.api_route("/", methods=["GET", "HEAD"])
async def page() -> Response:
    return Response(page_html(), media_type="text/html; charset=utf-8",
                    headers={**SECURITY_HEADERS, "Cache-Control": PAGE_CACHE})


@router.get("/static/{name}")
async def asset(name: str, v: str | None = None) -> Response:
    if name not in ASSETS:
        raise ApiError(404, f"no static file {name[:100]!r}")
    found = load_asset(name)
    # Only the current version may be cached for long; a stale or missing ?v= is revalidated.
    cache = ASSET_CACHE if v == found.version else PAGE_CACHE
    return Response(found.body, media_type=found.media_type,
                    headers={**SECURITY_HEADERS, "Cache-Control": cache, "ETag": f'"{found.version}"'})


@lru_cache(maxsize=None)
def load_asset(name: str) -> Asset:
    """An asset's bytes, media type and content hash, read once per process."""
    body = (STATIC / name).read_bytes()
    return Asset(body=body, media_type=ASSETS[name], version=hashlib.sha256(body).hexdigest()[:12])


@lru_cache(maxsize=1)
def page_html() -> bytes:
    """index.html with each asset URL pointing at its current version."""
    html = (STATIC / PAGE).read_text(encoding="utf-8")
    for name in ASSETS:
        html = html.replace(f'"/static/{name}"', f'"/static/{name}?v={load_asset(name).version}"')
    return html.encode("utf-8")
