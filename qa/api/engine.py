"""The serving core: the live Searcher on a few worker threads, with a small cache.

Worker threads (the encoder releases the GIL, so two threads use two cores) take questions
one by one from a shared queue, oldest first, and hand each answer back to the event loop as
soon as it is ready; a lone request never waits. An encoder that batches takes what is
waiting, up to its batch size, in one call.
Identical questions in flight share one computation. Swapping in a new index generation
is one reference assignment; questions already queued finish on the searcher they took, and a
retired searcher is closed only once the last of them is answered.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

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


@dataclass(eq=False)
class Job:
    searcher: Searcher
    key: Key
    loop: asyncio.AbstractEventLoop
    abandoned: bool = False
    """Set on the event loop once every request waiting for it has gone (timed out): a worker
    that takes it then skips it, so a flood of abandoned questions costs no encoder time."""
    queued: bool = True
    """In the queue, not yet taken by a worker (both flags change under Engine._waiting_lock)."""


@dataclass(eq=False)
class Pending:
    """A question being computed, and how many requests wait for it."""

    future: asyncio.Future[Answered]
    job: Job
    waiters: int = 0


class Busy(Exception):
    """Too many questions wait already (Settings.max_queued); the request should be refused."""


class Engine:
    def __init__(self, searcher: Searcher, settings: Settings) -> None:
        self.settings = settings
        self.searcher = searcher
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._waiting = 0
        """Questions in the queue that some request still waits for: what QA_MAX_QUEUED bounds."""
        self._waiting_lock = threading.Lock()
        self._pending: dict[Key, Pending] = {}
        self._cache: OrderedDict[Key, Answered] = OrderedDict()
        self._cache_bytes = 0
        self._uses: dict[Searcher, int] = {}
        """Questions queued or running on each searcher; a retired one closes when its count ends."""
        self._retired: set[Searcher] = set()
        self._uses_lock = threading.Lock()
        self._workers = [threading.Thread(target=self._work, name=f"qa-search-{i}", daemon=True)
                         for i in range(max(1, settings.search_threads))]
        for worker in self._workers:
            worker.start()
        metrics.observe_index(searcher)

    # ------------------------------------------------------------ asking

    async def ask(self, question: str, k: int) -> Answered:
        key = (self.searcher.generation, question, k)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            metrics.CACHE_HITS.inc()
            return hit
        pending = self._pending.get(key)
        if pending is None:
            waiting = self._waiting
            if self.settings.max_queued and waiting >= self.settings.max_queued:
                metrics.DROPPED.labels("busy").inc()
                raise Busy(f"the server is busy ({waiting} questions are waiting); try again shortly")
            loop = asyncio.get_running_loop()
            job = Job(self.searcher, key, loop)
            pending = self._pending[key] = Pending(loop.create_future(), job)
            with self._uses_lock:
                self._uses[self.searcher] = self._uses.get(self.searcher, 0) + 1
            with self._waiting_lock:
                self._waiting += 1
            self._jobs.put(job)
        pending.waiters += 1
        try:
            return await asyncio.shield(pending.future)
        finally:
            pending.waiters -= 1
            if not pending.waiters and not pending.future.done():  # its last request timed out
                with self._waiting_lock:
                    if pending.job.queued and not pending.job.abandoned:
                        self._waiting -= 1
                    pending.job.abandoned = True
                if self._pending.get(key) is pending:
                    del self._pending[key]

    def _work(self) -> None:
        """A worker thread's life: take the oldest waiting questions, answer them, repeat."""
        while (job := self._jobs.get()) is not None:
            with self._busy_lock:
                self._busy += 1
                # Every core for this question only if no other worker is busy and nothing waits.
                alone = self._busy == 1 and self._jobs.empty()
            batch = self._more_like(job)
            with self._waiting_lock:
                for taken in batch:
                    taken.queued = False
                    self._waiting -= not taken.abandoned
                wanted = [j for j in batch if not j.abandoned]
            if len(wanted) < len(batch):
                metrics.DROPPED.labels("abandoned").inc(len(batch) - len(wanted))
            searcher, count = job.searcher, len(batch)
            try:
                if wanted:
                    self._compute(wanted, alone)
            finally:
                job = batch = wanted = taken = None  # type: ignore[assignment] - an idle worker keeps no retired searcher alive
                with self._busy_lock:
                    self._busy -= 1
                self._release(searcher, count)
                searcher = None  # type: ignore[assignment]

    def _release(self, searcher: Searcher, answered: int) -> None:
        """Count questions answered on a searcher; the last one on a retired searcher closes it."""
        with self._uses_lock:
            left = self._uses.pop(searcher) - answered
            if left:
                self._uses[searcher] = left
                return
            if searcher not in self._retired:
                return
            self._retired.discard(searcher)
        _close_apart(searcher)

    def _more_like(self, job: Job) -> list[Job]:
        """The job and, for an encoder that batches, what waits behind it on the same searcher."""
        batch = [job]
        limit = min(self.settings.batch_max, job.searcher.batch_size)
        while len(batch) < limit:
            try:
                other = self._jobs.get_nowait()
            except queue.Empty:
                break
            if other is None or other.searcher is not job.searcher:
                self._jobs.put(other)  # another worker (or the next round) takes it
                break
            batch.append(other)
        return batch

    def _compute(self, batch: list[Job], alone: bool) -> None:
        """Runs in a worker thread: one encoder call, then each answer handed to the loop when
        ready, or the failure to every request of the batch."""
        searcher = batch[0].searcher
        try:
            started = time.perf_counter()
            questions = [job.key[1] for job in batch]
            ahead = searcher.lexical_ahead(questions, batch[0].key[2])  # a lone question's only
            alone = alone and ahead[0] is None
            vectors, pieces = searcher.embed(questions, alone=alone)
            encoded = time.perf_counter()
            metrics.ENCODE_SECONDS.observe(encoded - started)
            metrics.BATCH_SIZE.observe(len(batch))
            for job, vector, piece, bm25 in zip(batch, vectors, pieces, ahead):
                response = searcher.answer(job.key[1], vector, job.key[2], piece, bm25, alone)
                answered = Answered(response.model_dump_json().encode(), response.low_confidence)
                job.loop.call_soon_threadsafe(self._deliver, searcher, job.key, answered)
            metrics.SEARCH_SECONDS.observe(time.perf_counter() - encoded)
        except Exception as exc:  # noqa: BLE001 - handed to every request of the batch still waiting
            batch[0].loop.call_soon_threadsafe(self._fail, [job.key for job in batch], exc)

    def _deliver(self, searcher: Searcher, key: Key, answered: Answered) -> None:
        """On the event loop: hand one answer to its waiting requests as soon as it is ready."""
        self._remember((searcher.generation, *key[1:]), answered)
        pending = self._pending.pop(key, None)
        if pending is not None and not pending.future.done():
            pending.future.set_result(answered)

    def _fail(self, keys: list[Key], exc: Exception) -> None:
        """On the event loop: a batch failed; its unanswered requests get the error."""
        log.error("batch of %d failed", len(keys), exc_info=exc)
        for key in keys:
            pending = self._pending.pop(key, None)
            if pending is not None and not pending.future.done():
                pending.future.set_exception(exc)

    def _remember(self, key: Key, answered: Answered) -> None:
        """Keep an answer while the cache holds at most cache_size answers and cache_mb of them."""
        most = self.settings.cache_mb * 1024 * 1024
        if self.settings.cache_size <= 0 or len(answered.body) > most // 8 or key in self._cache:
            return  # one answer may take an eighth of the cache at the most
        self._cache[key] = answered
        self._cache_bytes += len(answered.body)
        while len(self._cache) > self.settings.cache_size or self._cache_bytes > most:
            self._cache_bytes -= len(self._cache.popitem(last=False)[1].body)

    # ------------------------------------------------------------ index generations

    def swap(self, searcher: Searcher) -> str:
        """Serve a newly loaded searcher from now on; returns the previous generation.

        Called on the event loop, like ask(): batches already running keep the searcher they took.
        """
        old, self.searcher = self.searcher, searcher
        self._cache.clear()
        self._cache_bytes = 0
        metrics.observe_index(searcher)
        return old.generation

    def retire(self, searcher: Searcher) -> None:
        """Close a swapped-out searcher once no question queued or running uses it (now, if none does)."""
        with self._uses_lock:
            if self._uses.get(searcher):
                self._retired.add(searcher)
                return
        _close_apart(searcher)

    def close(self) -> None:
        """Stop the workers once the questions already queued are answered."""
        for _ in self._workers:
            self._jobs.put(None)


def _close_apart(searcher: Searcher) -> None:
    """Close a searcher on a thread of its own: closing waits for any BM25 search still running on
    its pool, which neither the event loop nor a worker should; a failure is logged. Its memory is
    then handed back to the system."""
    held = [searcher]  # the thread's only reference, dropped once closed
    generation = searcher.generation

    def close() -> None:
        try:
            held[0].close()
        except Exception:  # noqa: BLE001 - nothing waits for this thread; the log is where it shows
            log.exception("closing generation %s failed", generation)
        finally:
            held.clear()
            time.sleep(RELEASE_AFTER_S)  # until the caller's own references (a worker's, a timer's) are gone
            release_free_memory()

    threading.Thread(target=close, name=f"qa-close-{generation}", daemon=True).start()


RELEASE_AFTER_S = 1.0


def release_free_memory() -> None:
    """Free what only cycles still hold, and return the C heap's free pages to the system: glibc
    keeps a closed generation's encoder and arrays otherwise (20 reloads: 1.5 GB resident for good,
    against 0.2 GB at start)."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): the memory stays reusable, only not returned
        pass
