"""With QA_WATCH_S > 0, the server polls the CURRENT pointer and reloads by itself.

`qa index` switches CURRENT atomically, so a running `qa serve` picks up every new build
within QA_WATCH_S seconds, with no request and no downtime. A generation that fails to
load is logged once and not retried until CURRENT changes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from ..store import current_generation_name
from .errors import ApiError

log = logging.getLogger("qa.watch")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the watcher for the life of the server when the settings ask for it."""
    interval = float(app.state.settings.watch_s)
    task = asyncio.create_task(watch(app, interval), name="qa-watch") if interval > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app.state.engine.close()


async def watch(app: FastAPI, interval: float) -> None:
    """Poll CURRENT every `interval` seconds; reload when it names a generation not being served."""
    from .admin import reload_index

    failed: str | None = None
    while True:
        await asyncio.sleep(interval)
        served = app.state.engine.searcher
        name: str | None = None
        try:
            name = await asyncio.to_thread(current_generation_name, served.index_dir)
            if name is None or name == served.generation or name == failed:
                continue
            result = await reload_index(app)
        except ApiError as exc:
            log.warning("not reloading %s: %s", name, exc.detail)
            failed = name
        except Exception:  # noqa: BLE001 - the watcher must outlive any one failure
            log.exception("watching %s failed", served.index_dir)
            failed = name
        else:
            failed = None
            log.info("reloaded generation %s (was %s)", result.generation, result.previous)
