"""Article -> Sections with exact spans, and each section's sentences.

A section is a heading and the lines up to the next heading; the lines before the first
heading form the introduction, whose heading is "". Its span runs from the first to the
last character of its content lines. Its searchable text is that span with notice and
navigation lines cut out, so they are never searchable. Sentences are split within a line (a
paragraph or list item), except that in plain text they run across a hard-wrapped paragraph's lines.
"""

from __future__ import annotations

import bisect
import re

from .articles import LIST_MARKER_RE, is_abbreviation, wrapped_runs
from .models import Article, Line, Section, Span

# Starts only at the first mark of a run and never backtracks: linear on "....." runs.
SENTENCE_END_RE = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’)\]]*+(?=\s|$)")
SPACE_RE = re.compile(r"\s*")
MAX_SENTENCES = 2048
"""Sentences a section keeps as separate units at the most (see capped): about 40,000 words, far
beyond any real section, so that only pathological ones have sentences joined."""
NEXT_STARTS_SENTENCE_RE = re.compile(r"\s+[\"'“‘(\[]*[A-Z0-9]")
MAX_SENTENCE_CHARS = 1000
"""A longer sentence is cut into pieces (at spaces): the model reads about its first 1,000
characters only, and an answer should not be a 5 MB run of words without a full stop."""


def split_sections(article: Article) -> list[Section]:
    """The article's non-empty sections, in order, with spans into its plain text."""
    groups: list[tuple[str, list[Line]]] = [("", [])]
    for line in article.lines:
        if line.kind == "heading":
            groups.append((" ".join(article.text[line.start : line.end].split()), []))
        elif line.kind in ("body", "nav", "notice"):
            groups[-1][1].append(line)
    sections = []
    for heading, lines in groups:
        section = _section(article, heading, lines)
        if section is not None:
            sections.append(section)
    return sections


def _section(article: Article, heading: str, lines: list[Line]) -> Section | None:
    content = [ln for ln in lines if ln.kind == "body"]
    if not content:
        return None
    text = article.text
    start = content[0].start + _leading_space(text[content[0].start : content[0].end])
    end = content[-1].end - _trailing_space(text[content[-1].start : content[-1].end])
    cuts = [ln for ln in lines if ln.kind != "body" and start < ln.start < end]
    # Markdown and HTML put a paragraph on one line already, and an HTML list item has no marker.
    runs = sentence_runs(text, content) if article.fmt == "txt" else [(ln.start, ln.end) for ln in content]
    sentences = capped([s for run in runs for s in split_sentences(text, *run)], cuts)
    return Section(
        doc=article.doc,
        title=article.title,
        heading=heading,
        start=start,
        end=end,
        text=_cut_lines(text, start, end, cuts),
        sentences=sentences,
    )


def sentence_runs(text: str, content: list[Line]) -> list[tuple[int, int]]:
    """(start, end) of each run of plain-text content lines that sentences may cross: one line
    each, but a hard-wrapped paragraph's or list item's lines are one run (articles.wrapped_runs),
    so no sentence is cut at a line break."""
    spans = [(ln.start, ln.end) for ln in content]
    runs = [(first, first) for first in range(len(content))]
    for first, last in wrapped_runs([text[a:b] for a, b in spans], spans):
        runs[first : last + 1] = [(first, last)] * (last - first + 1)
    return [(spans[a][0], spans[b][1]) for a, b in dict.fromkeys(runs)]


def capped(sentences: list[Span], cuts: list[Line], most: int = MAX_SENTENCES) -> tuple[Span, ...]:
    """The spans, or about `most` of them for a longer section: runs of consecutive sentences joined
    into one span, never across a cut line. Every sentence is embedded and scored on its own, so a
    section of a million one-word lines took 4 GB to index and seconds to answer."""
    if len(sentences) <= most:
        return tuple(sentences)
    size = -(-len(sentences) // most)
    cut_starts = sorted(ln.start for ln in cuts)
    joined: list[Span] = []
    first = last = sentences[0]
    count = 1
    for span in sentences[1:]:
        at = bisect.bisect_left(cut_starts, last.end)
        if count == size or (at < len(cut_starts) and cut_starts[at] < span.start):
            joined.append(Span(first.start, last.end))
            first, count = span, 0
        last = span
        count += 1
    joined.append(Span(first.start, last.end))
    return tuple(joined)


def _cut_lines(text: str, start: int, end: int, cuts: list[Line]) -> str:
    """text[start:end] without the given lines (each with the blank lines that follow it)."""
    pieces, pos = [], start
    for ln in cuts:
        pieces.append(text[pos : ln.start])
        pos = ln.end
        while pos < end and text[pos] in " \t\n\u00a0":
            pos += 1
    pieces.append(text[pos:end])
    return "".join(pieces)


def _leading_space(s: str) -> int:
    return len(s) - len(s.lstrip())


def _trailing_space(s: str) -> int:
    return len(s) - len(s.rstrip())


# ---------------------------------------------------------------- sentences


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans within text[start:end] (one paragraph or list item), markers and spaces trimmed."""
    end = len(text) if end is None else end
    chunk = text[start:end]
    lead = len(chunk) - len(chunk.lstrip())
    marker = LIST_MARKER_RE.match(chunk[lead:])
    offset = lead + (marker.end() if marker else 0)
    spans: list[Span] = []
    sent_start = offset
    for m in SENTENCE_END_RE.finditer(chunk, offset):
        stop = m.end()
        if stop < len(chunk) and not NEXT_STARTS_SENTENCE_RE.match(chunk, stop):
            continue
        if chunk[m.start()] == "." and _is_abbreviation(chunk, sent_start, m.start()):
            continue
        spans.append(Span(start + sent_start, start + stop))
        sent_start = SPACE_RE.match(chunk, stop).end()  # not chunk[stop:]: a copy per sentence
    tail = chunk[sent_start:].rstrip()
    if tail.strip():
        spans.append(Span(start + sent_start, start + sent_start + len(tail)))
    return [piece for s in spans if text[s.start : s.end].strip() for piece in _in_pieces(text, s)]


def _in_pieces(text: str, span: Span, most: int = MAX_SENTENCE_CHARS) -> list[Span]:
    """The span, or for a longer one, pieces of at most `most` characters cut at a space where one
    is in the second half of the piece (else right at `most`), each trimmed."""
    pieces = []
    start = span.start
    while span.end - start > most:
        lo, hi = start + most // 2, start + most + 1
        cut = max(text.rfind(" ", lo, hi), text.rfind("\n", lo, hi))
        end = cut if cut > start else start + most
        pieces.append(Span(start, end - _trailing_space(text[start:end])))
        start = SPACE_RE.match(text, end).end()
    if start < span.end:
        pieces.append(Span(start, span.end))
    return pieces


def _is_abbreviation(chunk: str, sent_start: int, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or an initial, not a sentence."""
    word_start = dot
    while word_start > sent_start and not chunk[word_start - 1].isspace() and chunk[word_start - 1] not in "(\"'“‘":
        word_start -= 1
    word = chunk[word_start:dot]
    return bool(word) and is_abbreviation(word)
