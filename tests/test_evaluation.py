"""Question files: every line checked as `qa ask` checks a question, errors naming file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.evaluation import EvalFileError, read_questions
from qa.models import MAX_QUESTION_CHARS


def write_lines(path: Path, *rows: object) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


GOOD = {"id": "a", "question": "What is NATO?", "doc": "x.txt", "section": "NATO"}


@pytest.mark.parametrize("question, needle", [
    ('"\\ud800 what?"', "question"),  # a lone surrogate, as JSON can spell it: the tokenizer can't read it
    ('"What\\u0000 is NATO?"', "NUL"),
    (json.dumps("w" * (MAX_QUESTION_CHARS + 1)), "at most"),
])
def test_a_question_qa_ask_would_refuse_is_refused_with_its_line(tmp_path: Path, question: str, needle: str):
    path = write_lines(tmp_path / "q.jsonl", GOOD, '{"id": "b", "question": ' + question + "}")
    with pytest.raises(EvalFileError) as err:
        read_questions(path)
    assert str(err.value).startswith(f"{path}:2: ") and needle in str(err.value)


def test_questions_are_read_as_asked_stripped(tmp_path: Path):
    path = write_lines(tmp_path / "q.jsonl", {**GOOD, "question": "  What is NATO?\n"})
    assert read_questions(path)[0].question == "What is NATO?"


def test_a_byte_order_mark_is_allowed(tmp_path: Path):
    path = tmp_path / "q.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    assert [q.id for q in read_questions(path)] == ["a"]


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_invalid_utf8_names_its_line(tmp_path: Path, end: bytes):
    """Counted as the lines are read: old-Mac "\r" ends lines too."""
    path = tmp_path / "q.jsonl"
    good = json.dumps(GOOD).encode()
    path.write_bytes(good + end + good + end + b'{"id": "b", "question": "caf\xe9?"}' + end)
    with pytest.raises(EvalFileError, match=r":3: not valid UTF-8"):
        read_questions(path)


@pytest.mark.parametrize("row, needle", [
    ({"id": "b", "question": "What?", "section": "NATO"}, "'doc' must be a string"),
    ({"id": "b", "question": "What?", "doc": "x.txt", "section": 5}, "'section' must be a string"),
    ({**GOOD, "answer_sentence": 3}, "'answer_sentence' must be a string"),
    ({**GOOD, "kind": ["paraphrase"]}, "'kind' must be a string"),
])
def test_wrong_fields_are_named(tmp_path: Path, row: dict, needle: str):
    path = write_lines(tmp_path / "q.jsonl", row)
    with pytest.raises(EvalFileError, match=f":1: {needle}"):
        read_questions(path)


def test_a_line_separator_inside_a_string_is_part_of_the_question(tmp_path: Path):
    """json.dumps(..., ensure_ascii=False) writes U+2028, U+2029 and U+0085 raw; only "\\n" ends a line."""
    path = tmp_path / "q.jsonl"
    rows = [{**GOOD, "question": f"What is NATO{sep} for?"} for sep in ("\u2028", "\u2029", "\u0085")]
    for end in ("\n", "\r\n", "\r"):  # Unix, Windows and old Mac line ends
        path.write_bytes("".join(json.dumps(r, ensure_ascii=False) + end for r in rows).encode())
        assert len(read_questions(path)) == 3


@pytest.mark.parametrize("line, needle", [
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ('{"id": "b", "question": "What?", "k": ' + "1" * 5000 + "}", "too many digits"),
    ('{"id": "b", "question": "What?"', "not valid JSON"),
])
def test_json_that_python_cannot_read_names_file_and_line(tmp_path: Path, line: str, needle: str):
    path = write_lines(tmp_path / "q.jsonl", GOOD, line)
    with pytest.raises(EvalFileError) as err:
        read_questions(path)
    assert str(err.value).startswith(f"{path}:2: not valid JSON") and needle in str(err.value)
    assert "sys." not in str(err.value)
