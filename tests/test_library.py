"""The Python library: qa.load(...).ask(...) returns typed models equal to the HTTP body."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import qa
from conftest import DATA


def test_ask_returns_typed_models(searcher):
    result = searcher.ask("How does NATO respond to an attack on a member?", k=3)
    assert isinstance(result, qa.AskResponse)
    top = result.passages[0]
    assert isinstance(top.citation, qa.Citation) and isinstance(top.answer, qa.Answer)
    assert top.citation.section == "NATO’s Collective Defense Mechanism"
    assert result.notices[0].doc == top.citation.doc
    assert len(result.passages) == 3


def test_model_dump_equals_the_http_body(searcher, server):
    question = "Which regional alliances promote security cooperation?"
    status, body, _ = server.request("POST", "/ask", json.dumps({"question": question, "k": 4}).encode())
    assert status == 200
    assert searcher.ask(question, k=4).model_dump() == json.loads(body)


@pytest.mark.parametrize("question, k", [("", 5), ("   ", 5), ("NATO", 0), ("NATO", 51), ("a" * 1001, 5)])
def test_bad_input_raises_value_error(searcher, question: str, k: int):
    with pytest.raises(ValueError):
        searcher.ask(question, k=k)


@pytest.mark.parametrize("questions, k, needle", [
    (["What is NATO?"], -1, "k"),  # was a slice: all passages but the last
    (["What is NATO?"], 0, "k"),
    (["What is NATO?", "   "], 5, "question"),  # was answered as the empty question
    (["What is NATO?", None], 5, "question"),  # was an AttributeError
    ("What is NATO?", 5, "list"),  # was asked letter by letter
    ([], 0, "k"),  # was [] whatever k
    ([], "x", "k"),
    (["What is NATO?"], 2.5, "k"),
])
def test_ask_many_checks_its_input_as_ask_does(searcher, questions, k: int, needle: str):
    with pytest.raises(ValueError, match=needle):
        searcher.ask_many(questions, k=k)


def test_a_bad_question_in_a_batch_is_named_by_its_position(searcher):
    with pytest.raises(ValueError, match=r"^questions\[1\]: question: String should have at least 1 character"):
        searcher.ask_many(["What is NATO?", "", "cyber"])
    with pytest.raises(ValueError, match=r"^question: "):  # one question: no position to name
        searcher.ask("")


def test_k_may_be_any_whole_number_a_json_body_could_carry(searcher):
    import numpy as np

    question = "What does Article 5 say?"
    expected = searcher.ask(question, k=2).model_dump()
    assert searcher.ask(question, k=2.0).model_dump() == expected  # was a TypeError from a slice
    assert searcher.ask(question, k=np.int64(2)).model_dump() == expected


def test_a_closed_searcher_refuses_to_answer(seed_index: Path):
    """Closing releases the generation (a build may then prune it): asking after must not reopen it."""
    closed = qa.load(seed_index)
    closed.close()
    with pytest.raises(RuntimeError, match="closed"):
        closed.ask("What does Article 5 say?")


def test_a_failed_load_closes_what_it_opened(seed_index: Path, monkeypatch):
    """A reload of a damaged generation must not leave its database open (its disk stays held)."""
    import qa.searcher
    from qa.store import IndexLoadError, IndexReader

    closed: list[Path] = []
    original = IndexReader.close
    monkeypatch.setattr(IndexReader, "close", lambda self: (closed.append(self.path), original(self)))
    monkeypatch.setattr(qa.searcher.LexicalIndex, "load", lambda path: (_ for _ in ()).throw(OSError("damaged")))
    with pytest.raises(IndexLoadError, match="damaged"):
        qa.load(seed_index)
    assert [path.parent.parent for path in closed] == [seed_index]


def test_load_uses_qa_index_by_default(seed_index: Path, monkeypatch):
    monkeypatch.setenv("QA_INDEX", str(seed_index))
    assert qa.load().ask("Article 5").passages


def test_loading_and_asking_never_imports_torch_or_onnx(seed_index: Path):
    """torch costs 6-8 s of start-up and `onnx` half a second: serving needs neither."""
    code = (
        "import sys, qa\n"
        f"s = qa.load({str(seed_index)!r})\n"
        "r = s.ask('What does Article 5 say?')\n"
        "assert r.passages\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules, 'onnx' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False False"


def test_a_searcher_never_closed_leaves_no_unclosed_file_warning(seed_index: Path):
    """A script that loads, asks and exits without close() is the common case: it must run clean
    with every warning shown."""
    code = f"import qa\nprint(len(qa.load({str(seed_index)!r}).ask('What does Article 5 say?').passages))\n"
    out = subprocess.run([sys.executable, "-X", "dev", "-W", "always", "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "5"
    assert "ResourceWarning" not in out.stderr, out.stderr


def test_a_lone_question_on_more_threads_gets_the_same_vector_and_answer(seed_index: Path):
    """The solo encoder session (more threads) must not change what a question retrieves."""
    shared = qa.load(seed_index, solo_threads=1)
    solo = qa.load(seed_index, solo_threads=2)
    assert shared.encoder.solo_ready(0) and solo.encoder.solo_ready(30)
    questions = ["What does Article 5 say?", "cyber defence colaboration", "Why do allies train together?"]
    for q in questions:
        a = shared.encode([q])[0]
        b = solo.encode([q], alone=True)[0]
        assert float(a @ b) > 0.9999
        assert solo.ask(q).model_dump() == shared.ask(q).model_dump()
    assert solo.encoder._solo is not solo.encoder._session and shared.encoder._solo is shared.encoder._session


@pytest.mark.parametrize("question", [
    "What resource limitations hinder international security collaboration?",
    "How do joint exercises build trust between allies?",
    "What does Article 5 say?",
])
def test_asking_for_more_passages_keeps_the_first_ones(searcher, question: str):
    """k only cuts the list: 16 sections are re-ranked by word pieces whatever k (k of them once
    were, when more, and a section ranked 20th could overtake the 2nd)."""
    def cited(k: int) -> list[tuple[str, int, float]]:
        return [(p.citation.doc, p.citation.start, p.score) for p in searcher.ask(question, k=k).passages]

    most = cited(50)
    assert len(most) > 16
    for k in (1, 3, 5, 10, 16, 17, 30):
        assert cited(k) == most[:k]


@pytest.mark.parametrize("text, read", [
    ("How do allies share intelligence", "How do allies share intelligence?"),
    ("how do allies share intelligence  ", "how do allies share intelligence?"),
    ("Is KFOR still in Kosovo?", None),
    ("Tell me about NATO.", None),
    ("NATO annual budget", None),  # asks nothing
])
def test_a_question_is_encoded_with_its_question_mark_typed_or_not(text: str, read: str | None):
    from qa.searcher import with_question_mark

    assert with_question_mark(text) == (read or text)


def test_a_question_finds_the_same_passages_with_or_without_its_question_mark(searcher):
    questions = [json.loads(line)["question"] for line in (DATA / "own.jsonl").read_text().splitlines()]
    asked = [q for q in questions if q.endswith("?")]
    assert len(asked) > 40
    typed = searcher.ask_many(asked, k=3)
    unmarked = searcher.ask_many([q.rstrip("?") for q in asked], k=3)
    assert [[p.citation for p in r.passages] for r in typed] == [[p.citation for p in r.passages] for r in unmarked]
    assert [r.low_confidence for r in typed] == [r.low_confidence for r in unmarked]
