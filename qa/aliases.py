"""Other names of places and bodies (qa/data): a capital for its country, a short name for a body.

confidence.py counts such a name in a question as known when the best passages name what it
stands for; the searcher embeds a question with each short name's meaning beside it, so that
"the Atlantic alliance" finds the passages on NATO.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
CAPITALS = DATA / "capitals.txt"
SHORT_NAMES = DATA / "aliases.txt"


@cache
def other_names() -> dict[str, tuple[str, ...]]:
    """Each capital and short name, as written, and what it may stand for."""
    return {**_read(CAPITALS), **_read(SHORT_NAMES)}


@cache
def short_names() -> dict[str, tuple[str, ...]]:
    """Each short name of a body or place ("AU", "Blue Helmets"), and what it may stand for."""
    return _read(SHORT_NAMES)


def with_meanings(question: str) -> str:
    """The question with each short name followed by its first meaning in brackets ("Atlantic
    alliance (NATO)"); capitals are left alone, where the seat may be what is asked."""
    def spelled_out(match: re.Match[str]) -> str:
        name = match.group()
        meaning = short_names().get(name) or _by_lower_case().get(_singular(name))
        return f"{name} ({meaning[0]})" if meaning else name

    question = _words_in_any_case().sub(spelled_out, question)
    # An acronym counts only in a question with lower case: in "TELL US ABOUT NATO", "US" is a word.
    if any(c.islower() for c in question):
        question = _acronyms().sub(spelled_out, question)
    return question


def _read(path: Path) -> dict[str, tuple[str, ...]]:
    rows = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    return {row[0].strip(): tuple(m.strip() for m in row[1].split("|")) for row in rows if len(row) == 2}


def _singular(name: str) -> str:
    """The name's key in _by_lower_case: "Blue Helmets", "blue-helmet" -> "blue helmet"."""
    return " ".join(re.split(r"[\s-]+", name.lower())).removesuffix("s")


@cache
def _by_lower_case() -> dict[str, tuple[str, ...]]:
    return {_singular(name): meaning for name, meaning in short_names().items() if not name.isupper()}


@cache
def _words_in_any_case() -> re.Pattern[str]:
    """Short names with lower case ("Blue Helmets"): in any case, singular or plural, words
    apart or hyphened ("a blue-helmet mission")."""
    names = sorted(_by_lower_case(), key=len, reverse=True)
    forms = (r"[\s-]+".join(map(re.escape, name.split())) for name in names)
    return re.compile(r"(?<![\w.])(?:" + "|".join(forms) + r")s?(?!\w)", re.IGNORECASE)


@cache
def _acronyms() -> re.Pattern[str]:
    """Short names in capitals ("AU", "US"), as written."""
    names = sorted((n for n in short_names() if n.isupper()), key=len, reverse=True)
    return re.compile(r"(?<![\w.])(?:" + "|".join(map(re.escape, names)) + r")(?![\w.])")
