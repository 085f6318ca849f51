"""Other names of places and bodies (qa/data): a capital or a region for its countries, a short
name for a body.

confidence.py counts such a name in a question as known when the best passages name what it
stands for; the searcher embeds a question with each short name's meaning beside it, so that
"the Atlantic alliance" finds the passages on NATO.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
CAPITALS = DATA / "capitals.txt"
REGIONS = DATA / "regions.txt"
SHORT_NAMES = DATA / "aliases.txt"
BETWEEN_WORDS = r"[\s\-\u2010-\u2015]+"
"""What may part the words of a name: "blue helmet", "blue-helmet", "blue\u2010helmet"."""


SHOUTED_WORDS = 3
"""A text in capitals of this many words is a sentence shouted ("TELL US ABOUT THE AU"), where an
acronym may be a word; a shorter one is a keyword query ("AU", "US TROOPS")."""


@dataclass(frozen=True)
class Mention:
    """Another name of something, as a text writes it."""

    text: str
    """The name as written ("blue-helmet", "AU"; in "the AU's", "AU")."""
    end: int
    """Where it ends in the text."""
    meanings: tuple[str, ...]


@cache
def other_names() -> dict[str, tuple[str, ...]]:
    """Each capital, region and short name, as listed, and what it may stand for."""
    return _merged(_places(), short_names())


@cache
def _places() -> dict[str, tuple[str, ...]]:
    """Capitals and regions ("Pyongyang", "the Horn of Africa"), and the countries they stand for."""
    return _merged(_read(CAPITALS), regions())


@cache
def regions() -> dict[str, tuple[str, ...]]:
    """Regions ("the Horn of Africa", "Sahel") and the countries in them."""
    return _read(REGIONS)


def _merged(*tables: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The tables as one; a name in two of them is an error, as one meaning would silently replace the other."""
    merged: dict[str, tuple[str, ...]] = {}
    for table in tables:
        twice = sorted(set(merged) & set(table))
        if twice:
            raise ValueError(f"{DATA}: names listed in two files: {twice}")
        merged.update(table)
    return merged


@cache
def short_names() -> dict[str, tuple[str, ...]]:
    """Each short name of a body or place ("AU", "Blue Helmets"), and what it may stand for."""
    return _read(SHORT_NAMES)


def mentions(text: str, places: bool = True) -> list[Mention]:
    """The other names in a text: a place (unless not `places`) or an acronym as written
    ("Pyongyang", "Horn of Africa", "AU"; no acronym in a sentence in capitals, where "US" may be
    the word), any other short name in any case, singular or plural, its words apart or hyphened
    ("Blue Helmets", "a blue-helmet mission"). A name already followed by a bracket ("AU
    (African Union)") is explained."""
    shouted = not any(c.islower() for c in text) and len(text.split()) >= SHOUTED_WORDS
    found = []
    for match in _pattern(places).finditer(text):
        if match.lastgroup == "acronym" and shouted or re.match(r"\s*\(", text[match.end() :]):
            continue
        name = match.group(match.lastgroup)
        found.append(Mention(name, match.end(), _keys()[_key(name)]))
    return found


def with_meanings(question: str, used: Callable[[str], bool] = lambda acronym: False) -> str:
    """The question with each short name, the first time it comes, followed by its first meaning
    in brackets ("Atlantic alliance (NATO)"); not a capital or a region, as the place may be what
    is asked, nor an acronym the corpus `used` itself (spelling out NATO, UN, ASEAN, KFOR, RIMPAC and WMD, which
    the seed corpus uses, cost own.jsonl recall@1 .932 -> .898 and independent .825 -> .800)."""
    pieces, last, seen = [], 0, set()
    for mention in mentions(question, places=False):
        meaning = mention.meanings[0]
        # Once is enough (the encoder reads 256 word pieces at most), and not where the question says it.
        if (meaning in seen or re.search(rf"(?<!\w){re.escape(meaning)}(?!\w)", question, re.IGNORECASE)
                or mention.text.isupper() and used(mention.text)):
            continue
        seen.add(meaning)
        pieces += [question[last : mention.end], f" ({meaning})"]
        last = mention.end
    return "".join(pieces) + question[last:]


def is_other_name(words: str) -> bool:
    """Whether the words ("addis ababa", "blue helmets") are one of the other names, in any case."""
    return _key(words) in _keys()


def _read(path: Path) -> dict[str, tuple[str, ...]]:
    """Name -> meanings, from lines "name<TAB>meaning|meaning"; "#" starts a comment line."""
    rows = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    return {row[0].strip(): tuple(m.strip() for m in row[1].split("|")) for row in rows if len(row) == 2}


def _key(name: str) -> str:
    """What a name is looked up by, whatever its case, hyphens or plural: "Blue-Helmets" -> "blue helmet"."""
    return " ".join(re.split(BETWEEN_WORDS, name.strip().lower())).removesuffix("s")


@cache
def _keys() -> dict[str, tuple[str, ...]]:
    """Every other name's meanings by its _key: what a mention is looked up by, whatever its kind,
    as the pattern matches a name with its words parted by any space or dash ("Horn  of\tAfrica";
    looked up as written, that was a KeyError, so a 500, until the twenty-second stop)."""
    keys: dict[str, tuple[str, ...]] = {}
    for name, meanings in other_names().items():
        if _key(name) in keys:  # one meaning would silently replace the other
            raise ValueError(f"{DATA}: names listed twice, in another case or plural: {_key(name)!r}")
        keys[_key(name)] = meanings
    return keys



@cache
def _pattern(places: bool) -> re.Pattern[str]:
    """Places and acronyms as written, other short names in any case (group "words")."""
    def alternatives(names: list[str]) -> str:
        return "|".join(BETWEEN_WORDS.join(map(re.escape, name.split())) for name in sorted(names, key=len, reverse=True))

    acronyms = [n for n in short_names() if n.isupper()]
    words = [n.removesuffix("s") for n in short_names() if not n.isupper()]
    groups = [rf"(?P<acronym>{alternatives(acronyms)})", rf"(?P<words>(?i:{alternatives(words)})(?i:s)?)"]
    if places:
        groups.insert(0, rf"(?P<place>{alternatives(list(_places()))})")
    # "AU.x" is another token, "the AU." the end of a sentence.
    return re.compile(rf"(?<![\w.])(?:{'|'.join(groups)})(?!\w|\.\w)")
