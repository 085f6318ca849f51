"""Typed data that passes between layers and leaves the API."""

from __future__ import annotations

import hashlib
import json
import numbers
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# ---------------------------------------------------------------- inside the pipeline

LineKind = Literal["title", "notice", "heading", "body", "nav"]


@dataclass(frozen=True)
class Line:
    """One classified line of an article's plain text: [start, end) excludes the newline (a title,
    notice or heading that a hard wrap broke is one Line over its lines)."""

    kind: LineKind
    start: int
    end: int


@dataclass(frozen=True)
class Article:
    """A file of the corpus, reduced to plain text and the roles of its lines."""

    doc: str
    title: str
    notice: str | None
    text: str
    lines: tuple[Line, ...]
    fmt: str = "txt"

    @cached_property
    def digest(self) -> str:
        """Identifies this version of the article: a hash of its format, title, notice and plain text
        (an HTML page's <title> is not in its text, yet every citation of it shows it)."""
        key = "\x00".join((self.fmt, self.title, self.notice or "", self.text))
        return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class Section:
    """A heading and its body; `start`/`end` is the body's span in the article's plain text."""

    doc: str
    title: str
    heading: str
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...] = field(default=())


# ---------------------------------------------------------------- the API's vocabulary


class Answer(BaseModel):
    text: str = Field(description="The sentence of the passage that best answers the question.")
    start: int = Field(description="Offset of the sentence in the article's plain text.")
    end: int = Field(description="End offset (exclusive): plain_text[start:end] == text.")


class Citation(BaseModel):
    doc: str = Field(description="Article id: its path relative to the corpus directory.")
    title: str
    section: str = Field(description='Section heading; "" for the introduction.')
    start: int = Field(description="Offset of the section body in the article's plain text.")
    end: int


class Passage(BaseModel):
    rank: int
    score: float
    text: str
    answer: Answer
    citation: Citation


class Notice(BaseModel):
    doc: str
    text: str = Field(description="The article's disclaimer notice, verbatim.")


class AskResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "question": "How does NATO respond to an attack on a member?",
                "passages": [
                    {
                        "rank": 1,
                        "score": 0.71,
                        "text": "NATO’s collective defense mechanism is a central pillar of ...",
                        "answer": {
                            "text": "It is enshrined in Article 5 of the NATO Charter, which states that an "
                            "armed attack against one member is considered an attack against all.",
                            "start": 3208,
                            "end": 3347,
                        },
                        "citation": {
                            "doc": "003_5980fc8c05fdc981.txt",
                            "title": "Enhancing Global Stability Through Effective International Security Cooperation",
                            "section": "NATO’s Collective Defense Mechanism",
                            "start": 3049,
                            "end": 4089,
                        },
                    }
                ],
                "notices": [
                    {
                        "doc": "003_5980fc8c05fdc981.txt",
                        "text": "⚠️ Please note: AI tools were used in crafting this content. "
                        "For important matters, verify through trusted means.",
                    }
                ],
                "low_confidence": False,
            }
        }
    )

    question: str
    passages: list[Passage]
    notices: list[Notice]
    low_confidence: bool = Field(description="True when the corpus most likely does not answer the question.")


MAX_QUESTION_CHARS = 1000
MAX_K = 50
INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069"
"""Zero-width characters and direction marks: a question of only these shows nothing."""
ALSO_BLANK = "\u001c\u001d\u001e\u001f\u0085\ufeff" + INVISIBLE
"""Blank here, though not to both Python's str.isspace() and JSON Schema's (ECMA-262) \\s: the
separators one counts and the other doesn't, and the invisible ones neither does. The schema
and the validator reject the same questions."""
QUESTION_PATTERN = f"^[^\u0000]*[^\\s\u0000{ALSO_BLANK}][^\u0000]*$"
"""What the schema promises: some non-blank character and no NUL (checked by AskRequest's validator)."""


_BLANK_AS_SPACE = str.maketrans(dict.fromkeys(ALSO_BLANK, " "))


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"question": "How does NATO respond to an attack on a member?", "k": 5}},
    )

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="A question in plain language.",
                          json_schema_extra={"pattern": QUESTION_PATTERN})
    k: int = Field(default=5, ge=1, le=MAX_K, description="How many passages to return.")

    @field_validator("k", mode="before")
    @classmethod
    def _integer(cls, value: object) -> object:
        # JSON integers only (5 or 5.0, as JSON Schema counts them); not "5", true or 2.5.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError("Input should be a valid integer")
        return int(value)  # a library caller's numpy integer too

    @field_validator("question")
    @classmethod
    def _readable(cls, value: str) -> str:
        if not value.translate(_BLANK_AS_SPACE).strip():
            raise ValueError("must not be empty or only whitespace")
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value.strip()


def validation_message(exc: ValidationError | Any) -> str:
    """Pydantic's errors as one line: 'k: Input should be less than or equal to 50; ...'."""
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc) or "request"
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts) or "invalid request"


def parse_json(text: str) -> object:
    """json.loads, with every way it can fail as ValueError of one plain line (a message that
    names neither this function nor a sys call)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ValueError("not valid JSON: nested too deeply") from None
    except ValueError:  # an integer of more digits than Python converts (its message names a sys call)
        raise ValueError("not valid JSON: a number with too many digits") from None
