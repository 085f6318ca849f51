"""Files -> Article: doc id, title, notice, plain text and the role of every line.

Each format reduces to the same thing: a plain text that offsets index into, and its
non-blank lines classified as title, notice, heading, body or navigation. Grouping
lines into sections is `sections.py`'s job.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .models import Article, Line, LineKind

log = logging.getLogger("qa.articles")

EXTENSIONS = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}
MAX_FILE_BYTES = 5 * 1024 * 1024
"""The default of Settings.max_article_bytes (QA_MAX_ARTICLE_BYTES): a bigger file is more likely a dump."""
NOTICE_WINDOW = 5
"""The notice is one of the first few non-blank lines of an article."""

NOTICE_RE = re.compile(
    r"^\W{0,4}\s*(note for readers|please note|note to readers|reader'?s note|disclaimer|editor[’']?s note)\s*:",
    re.IGNORECASE,
)
NAV_RE = re.compile(
    r"^(see also|read more|read also|also read|related(?: articles?| posts?| reading| stories)?)\b\s*[:\-–—]?\s",
    re.IGNORECASE,
)
LIST_MARKER_RE = re.compile(r"^(?:[-*+•·▪◦‣–—]\s+|\(?\d{1,3}[.)]\s+|\(?[a-zA-Z][.)]\s+|[ivxIVX]{1,4}[.)]\s+)")
"""A list item's marker and the spaces after it."""
CONTROL_CHAR_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Control characters (C0, DEL, C1): a doc id holding one can't be cited by URL or printed on one line."""
BYTE_ORDER_MARKS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                    (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
"""Encodings a file may announce (UTF-32's marks first: little-endian UTF-32's begins with UTF-16's)."""
HEADING_END_PUNCT = tuple(".!?:;,…")
MAX_HEADING_CHARS = 150
MAX_TITLE_CHARS = 300
"""A longer title is cut (at a word, with "…"): every citation of the article repeats it, so a 2 MB
<h1> made one 50-passage answer 100 MB."""
MAX_HEADING_WORDS = 20


class ArticleError(Exception):
    """A file that cannot be read as an article; the message names the file."""


@dataclass(frozen=True)
class Skipped:
    """A corpus file left out of the index, and why."""

    doc: str
    reason: str


# ---------------------------------------------------------------- corpus walking


def corpus_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(doc id, path) of every article file under root, sorted, without following symlink loops."""
    root = Path(root)
    seen_dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen_dirs:
            dirnames[:] = []
            continue
        seen_dirs.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            yield path.relative_to(root).as_posix(), path


def iter_corpus(root: Path, max_bytes: int = MAX_FILE_BYTES) -> Iterator[Article | Skipped]:
    """Every file under root as an Article, or Skipped with the reason it was left out."""
    for doc, path in corpus_files(root):
        name = path.name
        if name.startswith("."):
            continue
        problem = doc_name_problem(doc)
        if problem:
            yield Skipped(printable_doc(doc), problem)
            continue
        try:
            if path.is_symlink() and not path.exists():  # os.walk lists a link to nothing as a file
                yield Skipped(doc, "broken symbolic link (its target is missing, or links back to it)")
                continue
        except OSError as exc:  # a link into /proc, say: one file skipped, not the whole build stopped
            yield Skipped(doc, f"cannot read ({exc.strerror or exc})")
            continue
        if path.suffix.lower() not in EXTENSIONS:
            yield Skipped(doc, f"unsupported extension {path.suffix or '(none)'!r}")
            continue
        try:
            yield read_article(path, doc, max_bytes)
        except ArticleError as exc:
            yield Skipped(doc, str(exc).removeprefix(f"{doc}: "))


def doc_name_problem(doc: str) -> str | None:
    """Why a doc id can't be indexed under its name, or None when it can."""
    if not is_utf8(doc):
        # os.walk hands undecodable bytes over as surrogates, which SQLite can't store
        return "file or folder name is not valid UTF-8"
    if CONTROL_CHAR_RE.search(doc):
        # Starlette's path parameters exclude newlines, so GET /documents/... would never match; other
        # control characters garble the one-line warnings and citations just as much
        return "file or folder name has a control character, so it can't be cited by URL (GET /documents/...)"
    return None


def is_utf8(name: str) -> bool:
    """True when name encodes as UTF-8 (holds no surrogate standing for an undecodable byte)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_doc(doc: str) -> str:
    """doc with undecodable bytes shown as \\xNN and control characters escaped, safe to print and store."""
    try:
        text = doc.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that did not come from the file system
        text = doc.encode("utf-8", "backslashreplace").decode("utf-8")
    return CONTROL_CHAR_RE.sub(lambda m: repr(m.group())[1:-1], text)


def read_article(path: Path, doc: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> Article:
    """Read one file as an Article; raises ArticleError naming the file when it can't be."""
    doc = doc or path.name
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise ArticleError(f"{doc}: unsupported extension {path.suffix!r}")
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise ArticleError(f"{doc}: not a regular file")
        if info.st_size > max_bytes:
            raise ArticleError(f"{doc}: {_size(info.st_size)}, over the limit of {_size(max_bytes)} per article "
                               f"(QA_MAX_ARTICLE_BYTES)")
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)  # the file may have grown since stat
        if len(raw) > max_bytes:
            raise ArticleError(f"{doc}: over the limit of {_size(max_bytes)} per article (QA_MAX_ARTICLE_BYTES)")
    except OSError as exc:
        raise ArticleError(f"{doc}: cannot read ({exc.strerror or exc})") from None
    return parse_article(raw, doc, fmt)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB" if n >= 2**10 else f"{n} bytes"


def parse_article(raw: bytes, doc: str, fmt: str = "txt") -> Article:
    """Decode and parse the bytes of one article in the given format."""
    # Windows editors' "Unicode" is UTF-16 with a byte order mark.
    encoding = next((name for mark, name in BYTE_ORDER_MARKS if raw.startswith(mark)), "utf-8")
    if encoding == "utf-8" and b"\x00" in raw[:8192]:
        raise ArticleError(f"{doc}: binary file (NUL bytes)")
    try:
        source = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ArticleError(f"{doc}: not valid {encoding.upper()} (byte {exc.start})") from None
    if "\x00" in source[:8192]:  # bytes behind a byte order mark that are no text in its encoding
        raise ArticleError(f"{doc}: binary file (NUL characters as {encoding.upper()})")
    source = normalise_newlines(source)
    page_title = ""
    if fmt == "txt":
        text, lines = source, classify_txt_lines(source)
    elif fmt == "md":
        from .markup import parse_markdown

        text, lines = parse_markdown(source, doc)
    elif fmt == "html":
        from .markup import parse_html_page

        text, lines, page_title = parse_html_page(source, doc)
    else:  # pragma: no cover - EXTENSIONS guards this
        raise ArticleError(f"{doc}: unknown format {fmt!r}")
    if not any(line.kind == "body" for line in lines):  # headings alone make no section
        raise ArticleError(f"{doc}: no text" if not any(ln.kind == "heading" for ln in lines)
                           else f"{doc}: headings but no text under any of them")
    title = shortened(article_title(text, lines, doc, page_title), MAX_TITLE_CHARS)
    notice = next((text[ln.start : ln.end].strip() for ln in lines if ln.kind == "notice"), None)
    return Article(doc=doc, title=title, notice=notice, text=text, lines=tuple(lines), fmt=fmt)


def shortened(text: str, most: int) -> str:
    """The text, or its first words up to `most` characters followed by "…"."""
    if len(text) <= most:
        return text
    cut = text[: most - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > most // 2 else cut).rstrip() + "…"


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def article_title(text: str, lines: list[Line], doc: str, page_title: str = "") -> str:
    """The title line, else an HTML page's <title>, else the first heading, else the file name."""
    for ln in lines:
        if ln.kind == "title":
            return " ".join(text[ln.start : ln.end].split())
    if page_title:
        return page_title
    for ln in lines:
        if ln.kind == "heading":
            return " ".join(text[ln.start : ln.end].split())
    stem = Path(doc).stem
    return " ".join(re.split(r"[_\-\s]+", stem)).strip() or doc


# ---------------------------------------------------------------- plain text rules


def line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line of text, newline excluded."""
    spans, pos = [], 0
    for part in text.split("\n"):
        spans.append((pos, pos + len(part)))
        pos += len(part) + 1
    return spans


def is_notice(line: str) -> bool:
    return bool(NOTICE_RE.match(line.strip()))


def is_nav(line: str) -> bool:
    s = line.strip()
    return bool(NAV_RE.match(s)) and len(s) <= 200 and not s.endswith(".")


def is_list_item(line: str) -> bool:
    return bool(LIST_MARKER_RE.match(line.strip()))


def looks_like_heading(line: str) -> bool:
    """A short line without final punctuation that starts like a title, not like a list item."""
    if line.startswith(("\t", "  ")):
        return False  # indented: a list or quotation, not a heading
    s = line.strip().lstrip("\ufeff")
    if not s or len(s) > MAX_HEADING_CHARS or len(s.split()) > MAX_HEADING_WORDS:
        return False
    if s.endswith(HEADING_END_PUNCT) or is_list_item(s) or is_nav(s) or is_notice(s):
        return False
    first = s[0]
    return first.isupper() or first.isdigit() or first in "\"'“‘(["


def classify_txt_lines(text: str) -> list[Line]:
    """Classify the non-blank lines of a plain-text article."""
    bom = 1 if text.startswith("\ufeff") else 0  # a byte order mark is not part of the first line
    spans = [(max(s, bom), e) for s, e in line_spans(text) if text[max(s, bom) : e].strip()]
    kinds: list[LineKind] = ["body"] * len(spans)
    strings = [text[s:e] for s, e in spans]

    notice_at = next((i for i in range(min(NOTICE_WINDOW, len(spans))) if is_notice(strings[i])), None)
    if notice_at is not None:
        kinds[notice_at] = "notice"
    if spans and notice_at != 0 and looks_like_heading(strings[0]) and len(spans) > 1:
        kinds[0] = "title"

    # After a lead-in ending in ':' come list items. With markers, the list ends at the
    # first line without one; without markers, short lines are items until a paragraph
    # or a blank line.
    list_mode: str | None = None
    for i, line in enumerate(strings):
        if kinds[i] != "body":
            continue
        if is_nav(line):
            kinds[i] = "nav"
            continue
        item = is_list_item(line)
        first_item = list_mode == "pending"
        if first_item:
            list_mode = "markers" if item else "plain"
        elif list_mode == "markers" and not item:
            list_mode = None
        heading_like = looks_like_heading(line)
        # A blank line between the lead-in and its first item does not end the list
        ends_list = not heading_like or (not first_item and _blank_line_before(spans, i))
        if list_mode == "plain" and ends_list:
            list_mode = None
        if heading_like and list_mode is None and _has_content_after(strings, kinds, i):
            kinds[i] = "heading"
            continue
        if line.strip().endswith(":"):
            list_mode = "pending"
    return [Line(kind, s, e) for kind, (s, e) in zip(kinds, spans)]


def _blank_line_before(spans: list[tuple[int, int]], i: int) -> bool:
    """True when a blank line separates non-blank line i from the one before it."""
    # spans hold only non-blank lines; a gap of more than one newline is a blank line
    return i > 0 and spans[i][0] > spans[i - 1][1] + 1


def _has_content_after(strings: list[str], kinds: list[LineKind], i: int) -> bool:
    """True when some later line is content (a heading's body, or a further heading)."""
    for j in range(i + 1, len(strings)):
        if kinds[j] in ("notice", "title") or is_nav(strings[j]):
            continue
        return True
    return False
