"""The serving core: the live Searcher, micro-batched in a worker thread, with a small cache.

Requests that arrive while a batch is being computed are queued and run together as the
next batch: one encoder call for many questions, and no added wait for a lone request.
Identical questions in flight share one computation. Swapping in a new index generation
is one reference assignment; batches already running finish on the searcher they took.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..models import AskResponse
from ..searcher import Searcher
from ..settings import Settings
from . import metrics

log = logging.getLogger("qa.engine")

Key = tuple[str, str, int]
"""(generation, question, k): a request never joins a computation on a generation swapped out before it came."""


@dataclass(frozen=True)
class Answered:
    """A response and its JSON body, computed once."""

    response: AskResponse
    body: bytes


class Engine:
    def __init__(self, searcher: Searcher, settings: Settings) -> None:
        self.settings = settings
        self.searcher = searcher
        self.loaded_at = time.time()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-search")
        self._queue: list[Key] = []
        self._pending: dict[Key, asyncio.Future[Answered]] = {}
        self._worker: asyncio.Task | None = None
        self._cache: OrderedDict[Key, Answered] = OrderedDict()
        self._swap_lock = threading.Lock()
        metrics.observe_index(searcher)

    # ------------------------------------------------------------ asking

    async def ask(self, question: str, k: int) -> Answered:
        searcher = self.searcher
        key = (searcher.generation, question, k)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            metrics.CACHE_HITS.inc()
            return hit
        future = self._pending.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._pending[key] = future
            self._queue.append(key)
            if self._worker is None or self._worker.done():
                self._worker = asyncio.create_task(self._drain())
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            if len(self._queue) < self.settings.batch_max:
                await asyncio.sleep(0)  # let requests that arrived together join this batch
            batch = self._queue[: self.settings.batch_max]
            del self._queue[: len(batch)]
            searcher = self.searcher
            try:
                results = await loop.run_in_executor(self._executor, self._compute, searcher, batch)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                log.exception("batch of %d failed", len(batch))
                for key in batch:
                    self._pending.pop(key).set_exception(exc)
                continue
            for key, answered in zip(batch, results):
                self._remember((searcher.generation, *key[1:]), answered)
                future = self._pending.pop(key)
                if not future.done():
                    future.set_result(answered)

    def _compute(self, searcher: Searcher, batch: list[Key]) -> list[Answered]:
        """Runs in the worker thread: one encoder call for the batch, then each answer."""
        started = time.perf_counter()
        vectors = searcher.encode([q for _, q, _ in batch])
        encoded = time.perf_counter()
        metrics.ENCODE_SECONDS.observe(encoded - started)
        metrics.BATCH_SIZE.observe(len(batch))
        out = []
        for (_, question, k), vector in zip(batch, vectors):
            response = searcher.answer(question, vector, k)
            out.append(Answered(response, response.model_dump_json().encode()))
        metrics.SEARCH_SECONDS.observe(time.perf_counter() - encoded)
        return out

    def _remember(self, key: Key, answered: Answered) -> None:
        if self.settings.cache_size <= 0:
            return
        self._cache[key] = answered
        if len(self._cache) > self.settings.cache_size:
            self._cache.popitem(last=False)

    # ------------------------------------------------------------ index generations

    def swap(self, searcher: Searcher) -> str:
        """Serve a newly loaded searcher from now on; returns the previous generation."""
        with self._swap_lock:
            old, self.searcher = self.searcher, searcher
            self.loaded_at = time.time()
            self._cache.clear()
        metrics.observe_index(searcher)
        return old.generation

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
