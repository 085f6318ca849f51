"""The serving core: the live Searcher, micro-batched in a worker thread, with a small cache.

Requests run on a few worker threads (the encoder releases the GIL, so two threads use two
cores); requests that arrive while all threads are busy queue up and run together as the
next batches, and a lone request never waits.
Identical questions in flight share one computation. Swapping in a new index generation
is one reference assignment; batches already running finish on the searcher they took.
"""

from __future__ import annotations

import asyncio
import logging
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
    """A response's JSON body, computed once, and what the access log needs to know of it."""

    body: bytes
    low_confidence: bool


class Engine:
    def __init__(self, searcher: Searcher, settings: Settings) -> None:
        self.settings = settings
        self.searcher = searcher
        self._threads = max(1, settings.search_threads)
        self._executor = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="qa-search")
        self._running = 0
        self._queue: list[Key] = []
        self._pending: dict[Key, asyncio.Future[Answered]] = {}
        self._cache: OrderedDict[Key, Answered] = OrderedDict()
        metrics.observe_index(searcher)

    # ------------------------------------------------------------ asking

    async def ask(self, question: str, k: int) -> Answered:
        key = (self.searcher.generation, question, k)
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
            self._dispatch()
        return await asyncio.shield(future)

    def _dispatch(self) -> None:
        """Start batches on free worker threads; what waits meanwhile forms the next batches."""
        loop = asyncio.get_running_loop()
        while self._queue and self._running < self._threads:
            free = self._threads - self._running
            size = min(self.settings.batch_max, -(-len(self._queue) // free))  # spread over free threads
            batch = self._queue[:size]
            del self._queue[:size]
            alone = self._running == 0 and not self._queue and len(batch) == 1
            self._running += 1
            # Not run_in_executor: its completion would wake the loop once more per batch.
            self._executor.submit(self._compute, self.searcher, batch, loop, alone)

    def _compute(self, searcher: Searcher, batch: list[Key], loop: asyncio.AbstractEventLoop,
                 alone: bool = False) -> None:
        """Runs in a worker thread: the batch in encoder-sized chunks, each answer handed to the
        loop when ready (the last one also frees the thread), or the failure to every request.

        `alone`: nothing else was running or waiting when it started, so encoding may use every core.
        """
        try:
            size = searcher.batch_size
            for lo in range(0, len(batch), size):
                chunk = batch[lo : lo + size]
                started = time.perf_counter()
                vectors = searcher.encode([q for _, q, _ in chunk], alone=alone)
                encoded = time.perf_counter()
                metrics.ENCODE_SECONDS.observe(encoded - started)
                metrics.BATCH_SIZE.observe(len(chunk))
                for i, (key, vector) in enumerate(zip(chunk, vectors)):
                    response = searcher.answer(key[1], vector, key[2])
                    answered = Answered(response.model_dump_json().encode(), response.low_confidence)
                    last = lo + i == len(batch) - 1
                    loop.call_soon_threadsafe(self._deliver, searcher, key, answered, last)
                metrics.SEARCH_SECONDS.observe(time.perf_counter() - encoded)
        except Exception as exc:  # noqa: BLE001 - handed to every request of the batch still waiting
            loop.call_soon_threadsafe(self._fail, batch, exc)

    def _deliver(self, searcher: Searcher, key: Key, answered: Answered, last: bool) -> None:
        """On the event loop: hand one answer to its waiting requests as soon as it is ready."""
        self._remember((searcher.generation, *key[1:]), answered)
        future = self._pending.pop(key, None)
        if future is not None and not future.done():
            future.set_result(answered)
        if last:
            self._running -= 1
            self._dispatch()

    def _fail(self, batch: list[Key], exc: Exception) -> None:
        """On the event loop: a batch failed; its unanswered requests get the error."""
        self._running -= 1
        log.error("batch of %d failed", len(batch), exc_info=exc)
        for key in batch:
            future = self._pending.pop(key, None)
            if future is not None and not future.done():
                future.set_exception(exc)
        self._dispatch()

    def _remember(self, key: Key, answered: Answered) -> None:
        if self.settings.cache_size <= 0:
            return
        self._cache[key] = answered
        if len(self._cache) > self.settings.cache_size:
            self._cache.popitem(last=False)

    # ------------------------------------------------------------ index generations

    def swap(self, searcher: Searcher) -> str:
        """Serve a newly loaded searcher from now on; returns the previous generation.

        Called on the event loop, like ask(): batches already running keep the searcher they took.
        """
        old, self.searcher = self.searcher, searcher
        self._cache.clear()
        metrics.observe_index(searcher)
        return old.generation

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
