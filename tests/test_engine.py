"""The serving core on the real seed index: concurrency never changes an answer, identical
questions share work, each answer leaves as soon as it is ready, and a failure reaches only
the requests it concerns."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

import qa.searcher
from qa.api.engine import Busy, Engine
from qa.searcher import Searcher
from qa.settings import Settings

QUESTIONS = [
    "What does Article 5 say?",
    "How do UN peacekeepers work with local forces?",
    "Which challenges do multinational operations face?",
    "How is cyber defence shared between allies?",
    "What role does ASEAN play in regional security?",
    "Why do countries hold joint military exercises?",
]


def engine_for(searcher: Searcher, **settings: object) -> Engine:
    return Engine(searcher, Settings.from_env(**{"cache_size": 0, **settings}))  # type: ignore[arg-type]


def run(coroutine):
    return asyncio.run(coroutine)


def answers_together(searcher: Searcher, questions: list[str]) -> list[dict]:
    """The bodies an engine over the searcher answers to the questions, all asked at once (k=3)."""

    async def together() -> list[dict]:
        engine = engine_for(searcher)
        try:
            answered = await asyncio.gather(*(engine.ask(q, 3) for q in questions))
        finally:
            engine.close()
        return [json.loads(a.body) for a in answered]

    return run(together())


def test_concurrent_answers_equal_one_at_a_time_answers(searcher: Searcher):
    alone = [json.loads(searcher.ask(q, k=3).model_dump_json()) for q in QUESTIONS]
    assert answers_together(searcher, QUESTIONS * 3) == alone * 3


def test_bm25_found_on_another_thread_changes_no_answer(searcher: Searcher, seed_index, monkeypatch):
    """A large index's path (BM25 candidates beside the encoder), forced on the seed index."""
    monkeypatch.setattr(qa.searcher, "LEXICAL_AHEAD_ABOVE", 0)
    ahead = Searcher(seed_index)
    try:
        assert ahead.lexical_ahead(QUESTIONS[:1], 3)[0] is not None
        assert ahead.lexical_ahead(QUESTIONS[:2], 3) == [None, None]  # many at once: one after the other
        assert searcher.lexical_ahead(QUESTIONS[:1], 3) == [None]
        alone = [json.loads(searcher.ask(q, k=3).model_dump_json()) for q in QUESTIONS]
        assert [json.loads(ahead.ask(q, k=3).model_dump_json()) for q in QUESTIONS] == alone
        assert answers_together(ahead, QUESTIONS * 2) == alone * 2
    finally:
        ahead.close()


def test_bm25_ahead_works_with_any_thread_setting_and_for_many_questions(searcher: Searcher, seed_index,
                                                                       monkeypatch):
    monkeypatch.setattr(qa.searcher, "LEXICAL_AHEAD_ABOVE", 0)
    ahead = Searcher(seed_index, Settings.from_env(search_threads=0))
    try:
        assert ahead.ask_many(QUESTIONS, k=3) == searcher.ask_many(QUESTIONS, k=3)
        assert ahead.ask(QUESTIONS[0], k=3) == searcher.ask(QUESTIONS[0], k=3)
    finally:
        ahead.close()


def test_a_lone_question_leaves_a_core_to_bm25_when_it_runs_beside(seed_index, monkeypatch):
    monkeypatch.setattr(qa.searcher, "LEXICAL_AHEAD_ABOVE", 0)
    counting = Counting(Searcher(seed_index))

    async def lone() -> None:
        engine = engine_for(counting)  # type: ignore[arg-type]
        try:
            await engine.ask(QUESTIONS[0], 3)
        finally:
            engine.close()

    try:
        run(lone())
        assert counting.alone == [False]
    finally:
        counting.inner.close()


class Counting:
    """Wraps a searcher and counts the questions it encodes; can hold one question back."""

    def __init__(self, inner: Searcher, hold: str | None = None) -> None:
        self.inner = inner
        self.generation = inner.generation
        self.batch_size = inner.batch_size
        self.encoded: list[str] = []
        self.alone: list[bool] = []
        self.hold = hold
        self.release = threading.Event()
        self.fail = False
        self.closed = threading.Event()

    def embed(self, questions: list[str], alone: bool = False):
        if self.fail:
            raise RuntimeError("encoder exploded")
        if self.hold in questions:
            assert self.release.wait(10), "the held question was never released"
        self.encoded.extend(questions)
        self.alone.append(alone)
        return self.inner.embed(questions, alone=alone)

    def answer(self, question, vector, k, pieces=None, lexical_hits=None, alone=False):
        return self.inner.answer(question, vector, k, pieces, lexical_hits, alone)

    def close(self) -> None:  # the shared searcher stays open for the other tests
        self.closed.set()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_identical_questions_in_flight_share_one_computation(searcher: Searcher):
    counting = Counting(searcher)

    async def ask_many() -> list[bytes]:
        engine = engine_for(counting)  # type: ignore[arg-type]
        try:
            return [a.body for a in await asyncio.gather(*(engine.ask(QUESTIONS[0], 5) for _ in range(20)))]
        finally:
            engine.close()

    bodies = run(ask_many())
    assert len(set(bodies)) == 1
    assert counting.encoded.count(QUESTIONS[0]) == 1


def test_only_a_lone_question_is_encoded_alone(searcher: Searcher):
    """Every core goes to a question only when nothing else runs or waits; a crowd shares them."""
    counting = Counting(searcher)

    async def lone_then_crowd() -> None:
        engine = engine_for(counting)  # type: ignore[arg-type]
        try:
            await engine.ask(QUESTIONS[0], 3)
            await asyncio.gather(*(engine.ask(q, 3) for q in QUESTIONS[1:]))
        finally:
            engine.close()

    run(lone_then_crowd())
    assert counting.alone[0] is True
    # The crowd's first question starts before the rest arrive; every later one finds company.
    assert len(counting.alone) == len(QUESTIONS) and not any(counting.alone[2:])


def test_an_answer_is_delivered_before_its_batch_finishes(searcher: Searcher):
    """With one worker thread, the first question's answer must not wait for the rest of its batch."""
    held = QUESTIONS[-1]
    counting = Counting(searcher, hold=held)
    assert counting.batch_size == 1  # the int8 encoder: a batch runs one question per encoder call

    async def scenario() -> tuple[bool, bool]:
        engine = engine_for(counting, search_threads=1)
        try:
            first = asyncio.ensure_future(engine.ask(QUESTIONS[0], 3))
            await asyncio.sleep(0)  # the first question starts alone on the only thread
            rest = [asyncio.ensure_future(engine.ask(q, 3)) for q in QUESTIONS[1:]]  # one batch, held at the end
            await asyncio.wait_for(asyncio.shield(first), 10)
            second = await asyncio.wait_for(asyncio.shield(rest[0]), 10)
            last_done_early = rest[-1].done()
            counting.release.set()
            await asyncio.gather(*rest)
            return bool(second.body), last_done_early
        finally:
            counting.release.set()
            engine.close()

    answered, last_done_early = run(scenario())
    assert answered
    assert not last_done_early


def test_a_retired_searcher_closes_only_after_its_last_queued_question(searcher: Searcher):
    """However long the queue, no question runs on a closed searcher (its files and database gone)."""
    old, new = Counting(searcher, hold=QUESTIONS[1]), Counting(searcher)

    async def scenario() -> tuple[bool, bool, list[str], bool]:
        engine = engine_for(old, search_threads=1)
        loop = asyncio.get_running_loop()
        try:
            running = asyncio.ensure_future(engine.ask(QUESTIONS[1], 3))  # held inside the encoder
            await asyncio.sleep(0.05)
            waiting = asyncio.ensure_future(engine.ask(QUESTIONS[2], 3))  # queued behind it
            await asyncio.sleep(0)
            engine.swap(new)  # type: ignore[arg-type]
            engine.retire(old)  # type: ignore[arg-type]
            later = asyncio.ensure_future(engine.ask(QUESTIONS[3], 3))  # asked after the swap
            closed_while_queued = await loop.run_in_executor(None, old.closed.wait, 0.3)
            old.release.set()
            answered = await asyncio.gather(running, waiting)
            after_swap = await later
            closed = await loop.run_in_executor(None, old.closed.wait, 10)
            return closed_while_queued, closed, [json.loads(a.body)["question"] for a in answered], bool(after_swap)
        finally:
            old.release.set()
            engine.close()

    closed_while_queued, closed, answered, after_swap = run(scenario())
    assert not closed_while_queued
    assert closed and answered == QUESTIONS[1:3] and after_swap
    assert old.encoded == QUESTIONS[1:3] and new.encoded == QUESTIONS[3:4]
    assert not new.closed.is_set()


def test_a_retired_searcher_nothing_uses_closes_at_once(searcher: Searcher):
    old, new = Counting(searcher), Counting(searcher)

    async def scenario() -> bool:
        engine = engine_for(old)
        try:
            await engine.ask(QUESTIONS[0], 3)
            engine.swap(new)  # type: ignore[arg-type]
            engine.retire(old)  # type: ignore[arg-type]
            return await asyncio.get_running_loop().run_in_executor(None, old.closed.wait, 10)
        finally:
            engine.close()

    assert run(scenario())


def test_a_failing_batch_fails_its_requests_and_the_engine_recovers(searcher: Searcher):
    counting = Counting(searcher)

    async def scenario() -> tuple[list[object], bytes]:
        engine = engine_for(counting)
        try:
            counting.fail = True
            results = await asyncio.gather(*(engine.ask(q, 3) for q in QUESTIONS[:3]), return_exceptions=True)
            counting.fail = False
            after = await engine.ask(QUESTIONS[0], 3)
            return results, after.body
        finally:
            engine.close()

    results, after = run(scenario())
    assert all(isinstance(r, RuntimeError) for r in results)
    assert json.loads(after)["passages"]


@pytest.mark.parametrize("cache_size", [0, 8])
def test_the_answer_cache_holds_at_most_its_size(searcher: Searcher, cache_size: int):
    counting = Counting(searcher)

    async def scenario() -> None:
        engine = engine_for(counting, cache_size=cache_size)
        try:
            for _ in range(2):
                for q in QUESTIONS:
                    await engine.ask(q, 2)
            assert len(engine._cache) == min(cache_size, len(QUESTIONS))
        finally:
            engine.close()

    run(scenario())
    assert len(counting.encoded) == (len(QUESTIONS) if cache_size >= len(QUESTIONS) else 2 * len(QUESTIONS))


def test_a_question_every_request_gave_up_on_is_never_computed(searcher: Searcher):
    """A flood of requests that time out while queued must not keep the encoder busy afterwards."""
    counting = Counting(searcher, hold=QUESTIONS[0])

    async def scenario() -> tuple[list[str], str]:
        engine = engine_for(counting, search_threads=1)
        try:
            running = asyncio.ensure_future(engine.ask(QUESTIONS[0], 3))  # holds the only worker
            await asyncio.sleep(0.05)
            for question in QUESTIONS[1:4]:  # queued, then their only requests time out
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(engine.ask(question, 3), 0.05)
            kept = asyncio.ensure_future(engine.ask(QUESTIONS[4], 3))  # still wanted
            shared = [asyncio.ensure_future(engine.ask(QUESTIONS[5], 3)) for _ in range(2)]
            await asyncio.sleep(0)
            shared[0].cancel()  # one of two requests for it leaves: it is still computed
            counting.release.set()
            await asyncio.gather(running, kept, shared[1])
            again = await engine.ask(QUESTIONS[1], 3)  # asked anew after being dropped: computed
            return list(counting.encoded), json.loads(again.body)["question"]
        finally:
            counting.release.set()
            engine.close()

    encoded, again = run(scenario())
    assert encoded == [QUESTIONS[0], QUESTIONS[4], QUESTIONS[5], QUESTIONS[1]]
    assert again == QUESTIONS[1]


def test_beyond_max_queued_questions_are_refused_at_once(searcher: Searcher):
    counting = Counting(searcher, hold=QUESTIONS[0])

    async def scenario() -> tuple[str, list[str]]:
        engine = engine_for(counting, search_threads=1, max_queued=2)
        try:
            running = asyncio.ensure_future(engine.ask(QUESTIONS[0], 3))
            await asyncio.sleep(0.05)  # taken by the only worker: nothing waits
            queued = [asyncio.ensure_future(engine.ask(q, 3)) for q in QUESTIONS[1:3]]
            await asyncio.sleep(0)
            with pytest.raises(Busy) as refused:
                await engine.ask(QUESTIONS[3], 3)
            same = asyncio.ensure_future(engine.ask(QUESTIONS[1], 3))  # joins a waiting question: no new work
            counting.release.set()
            answered = await asyncio.gather(running, *queued, same)
            return str(refused.value), [json.loads(a.body)["question"] for a in answered]
        finally:
            counting.release.set()
            engine.close()

    message, answered = run(scenario())
    assert "busy (2 questions are waiting)" in message
    assert answered == [QUESTIONS[0], QUESTIONS[1], QUESTIONS[2], QUESTIONS[1]]
    assert QUESTIONS[3] not in counting.encoded


def test_the_answer_cache_holds_at_most_its_memory(searcher: Searcher):
    questions = [f"{q} ({n})" for n in range(6) for q in QUESTIONS]  # 36 distinct questions

    async def scenario() -> tuple[int, int, int]:
        engine = engine_for(searcher, cache_size=1000, cache_mb=1)
        try:
            sizes = [len((await engine.ask(q, 50)).body) for q in questions]
            held = sum(len(a.body) for a in engine._cache.values())
            assert engine._cache_bytes == held
            return sum(sizes), held, len(engine._cache)
        finally:
            engine.close()

    asked, held, kept = run(scenario())
    assert asked > 1024 * 1024  # more than the cache may hold
    assert held <= 1024 * 1024 and 0 < kept < len(questions)


def test_questions_nobody_waits_for_do_not_count_toward_the_queue_limit(searcher: Searcher):
    counting = Counting(searcher, hold=QUESTIONS[0])

    async def scenario() -> list[str]:
        engine = engine_for(counting, search_threads=1, max_queued=2)
        try:
            running = asyncio.ensure_future(engine.ask(QUESTIONS[0], 3))
            await asyncio.sleep(0.05)
            for question in QUESTIONS[1:3]:  # fill the queue, then give up on both
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(engine.ask(question, 3), 0.05)
            wanted = [asyncio.ensure_future(engine.ask(q, 3)) for q in QUESTIONS[3:5]]  # room for two again
            await asyncio.sleep(0)
            with pytest.raises(Busy):
                await engine.ask(QUESTIONS[5], 3)  # but not for a third
            counting.release.set()
            answered = await asyncio.gather(running, *wanted)
            return [json.loads(a.body)["question"] for a in answered]
        finally:
            counting.release.set()
            engine.close()

    assert run(scenario()) == [QUESTIONS[0], QUESTIONS[3], QUESTIONS[4]]
    assert counting.encoded == [QUESTIONS[0], QUESTIONS[3], QUESTIONS[4]]
