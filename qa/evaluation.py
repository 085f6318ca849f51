"""Score retrieval on a question file (JSON Lines, SPEC.md's format)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from .models import AskRequest, AskResponse, parse_json, validation_message


class EvalFileError(Exception):
    """A question file that can't be read; the message names the file and line."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    gold: frozenset[tuple[str, str]]
    answer_sentence: str | None
    kind: str | None
    line: int

    @property
    def in_scope(self) -> bool:
        return bool(self.gold)


@dataclass
class Outcome:
    question: Question
    first_hit: int | None
    response: AskResponse

    @property
    def exact(self) -> bool:
        if not self.response.passages or self.question.answer_sentence is None:
            return False
        return self.response.passages[0].answer.text.strip() == self.question.answer_sentence.strip()


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def metrics(self) -> dict[str, object]:
        """SPEC.md's keys, then recall by kind where questions carry one."""
        in_scope = [o for o in self.outcomes if o.question.in_scope]
        oos = [o for o in self.outcomes if not o.question.in_scope]
        out: dict[str, object] = {
            "questions": len(self.outcomes),
            "out_of_scope": len(oos),
            **_retrieval_scores(in_scope),
            "oos_flagged": _share(oos, lambda o: o.response.low_confidence),
            "in_scope_flagged": _share(in_scope, lambda o: o.response.low_confidence),
        }
        kinds = sorted({o.question.kind for o in in_scope if o.question.kind})
        if kinds:
            out["by_kind"] = {
                kind: {"questions": len(group), **_retrieval_scores(group)}
                for kind in kinds
                for group in [[o for o in in_scope if o.question.kind == kind]]
            }
        return out

    def failures(self) -> list[dict[str, object]]:
        """Each miss: in-scope questions not answered first, and wrong confidence flags."""
        rows = []
        for o in self.outcomes:
            q, r = o.question, o.response
            top = r.passages[0] if r.passages else None
            got = {"doc": top.citation.doc, "section": top.citation.section, "score": top.score,
                   "answer": top.answer.text} if top else None
            problems = []
            if q.in_scope and o.first_hit != 1:
                problems.append("not first" if o.first_hit else "not found")
            if q.in_scope and not o.exact and q.answer_sentence is not None:
                problems.append("answer differs")
            if q.in_scope == r.low_confidence:
                problems.append("flagged low confidence" if q.in_scope else "not flagged low confidence")
            if problems:
                rows.append({
                    "id": q.id, "line": q.line, "kind": q.kind, "question": q.question, "problems": problems,
                    "expected": sorted(list(g) for g in q.gold), "expected_answer": q.answer_sentence,
                    "rank": o.first_hit, "got": got,
                    "scores": [p.score for p in r.passages[:5]],
                })
        return rows


def _retrieval_scores(items: list[Outcome]) -> dict[str, float]:
    return {
        "recall@1": _share(items, lambda o: o.first_hit == 1),
        "recall@5": _share(items, lambda o: o.first_hit is not None and o.first_hit <= 5),
        "mrr@10": _mean(items, lambda o: 1.0 / o.first_hit if o.first_hit and o.first_hit <= 10 else 0.0),
        "answer_exact@1": _share(items, lambda o: o.exact),
    }


def _share(items: list[Outcome], hit: Callable[[Outcome], bool]) -> float:
    return round(sum(1 for o in items if hit(o)) / len(items), 4) if items else 0.0


def _mean(items: list[Outcome], value: Callable[[Outcome], float]) -> float:
    return round(sum(value(o) for o in items) / len(items), 4) if items else 0.0


LINE_END_RE = re.compile(r"\r\n?|\n")


def read_questions(path: Path) -> list[Question]:
    """Parse a question file; raises EvalFileError naming file:line on the first bad line."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise EvalFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise EvalFileError(f"{path}: unreadable ({exc})") from None
    try:
        # A BOM, as some editors write, is not an error. Lines end at "\n", "\r\n" or "\r" only:
        # splitlines() would also cut strings at U+2028, U+2029 and U+0085, which JSON allows raw.
        lines = LINE_END_RE.split(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        # The bytes before the bad one decode; their lines are counted as the reader splits them.
        line = len(LINE_END_RE.split(raw[: exc.start].decode("utf-8-sig")))
        raise EvalFileError(f"{path}:{line}: not valid UTF-8 (byte {exc.start})") from None
    questions = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = parse_json(line)
        except ValueError as exc:
            raise EvalFileError(f"{path}:{n}: {exc}") from None
        questions.append(_question(row, path, n))
    if not questions:
        raise EvalFileError(f"{path}: no questions")
    return questions


def _question(row: object, path: Path, n: int) -> Question:
    where = f"{path}:{n}"
    if not isinstance(row, dict):
        raise EvalFileError(f"{where}: expected a JSON object")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise EvalFileError(f"{where}: 'question' must be a non-empty string")
    try:  # the checks every question gets from `qa ask`, the library and the API
        question = AskRequest(question=question).question
    except ValidationError as exc:
        raise EvalFileError(f"{where}: {validation_message(exc)}") from None
    gold: set[tuple[str, str]] = set()
    if row.get("section") is not None:
        for name in ("doc", "section"):
            if not isinstance(row.get(name), str):
                raise EvalFileError(f"{where}: {name!r} must be a string (the gold {name})")
        gold.add((row["doc"], row["section"]))
        also = row.get("also") or []
        if not isinstance(also, list):
            raise EvalFileError(f"{where}: 'also' must be a list")
        for item in also:
            if not isinstance(item, dict) or not isinstance(item.get("doc"), str) or not isinstance(
                item.get("section"), str
            ):
                raise EvalFileError(f"{where}: each 'also' entry needs string 'doc' and 'section'")
            gold.add((item["doc"], item["section"]))
    answer = row.get("answer_sentence")
    kind = row.get("kind")
    for name, value in (("answer_sentence", answer), ("kind", kind)):
        if value is not None and not isinstance(value, str):
            raise EvalFileError(f"{where}: {name!r} must be a string")
    return Question(
        id=str(row.get("id", f"line {n}")),
        question=question,
        gold=frozenset(gold),
        answer_sentence=answer,
        kind=kind,
        line=n,
    )


def evaluate(questions: list[Question], ask: Callable[[list[str]], list[AskResponse]]) -> Report:
    """Ask every question (in batches) and score the responses."""
    report = Report()
    for lo in range(0, len(questions), 32):
        batch = questions[lo : lo + 32]
        for q, response in zip(batch, ask([q.question for q in batch])):
            report.outcomes.append(Outcome(q, first_hit(q, response), response))
    return report


def first_hit(question: Question, response: AskResponse, depth: int = 10) -> int | None:
    for p in response.passages[:depth]:
        if (p.citation.doc, p.citation.section) in question.gold:
            return p.rank
    return None
