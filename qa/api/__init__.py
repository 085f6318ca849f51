"""The HTTP API: `create_app(settings)` returns the FastAPI app."""

from .app import create_app

__all__ = ["create_app"]
