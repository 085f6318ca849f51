"""Files -> Article: doc id, title, notice, plain text and the role of every line.

Each format reduces to the same thing: a plain text that offsets index into, and its
non-blank lines classified as title, notice, heading, body or navigation. Grouping
lines into sections is `sections.py`'s job.

Plain text (`classify_txt_lines`), beyond "a heading is a short line without final punctuation":
- A rule (`---`, `===`, `* * *`: three or more of `-=*_`) is classified nav: decoration, never
  content. A short line directly over a rule of `=` or `-` is a heading (the title, first).
- Hard-wrapped paragraphs and list items (`wrapped_runs`, `wraps_into`): their lines are body,
  and `sections.py` lets a sentence run across them. A line wraps into the next when the next
  goes on in lower case, or starts with a capital after a comma or a word like `the`, inside a
  paragraph already wrapping, or where the next word would not have fitted at the paragraph's
  width; the lines so wrapped must end a sentence, a lead-in or a list item. A heading over
  unmarked items, a URL or a command ends none. A line with a sentence ending inside (`... the
  coast. In`) is no heading. In an article wrapped whole (`wrap_width`), a title, Title Case
  heading or `See also` line that the wrap broke is one Line with its broken-off end (three
  words at most); so is a notice wrapped mid-sentence.
- Also headings, where they stand alone (blank line before, a paragraph line after): a short
  Title Case question (`How Much Is Too Much?`) and a numbered Title Case line (`1. Choosing
  Panels`) that no further list item follows. A heading may start with an emoji or `¿`
  (`🔧 Tools You Need`, unless a line next to it starts with a symbol too: a list) or with a
  word whose capital comes later (`iPhone Cycling Apps`), when the rest is Title Case. A first line ending in `?` or `!` is the
  title when the notice follows it after a blank line.
- A bare navigation label (`See also`, `Related articles:`; not `Read more`, which may head the
  page's own list) is nav, and so are the short title lines directly under it, up to a blank
  line or a line that a paragraph follows (a heading of this article).
- A notice that is only its label in the disclaimers' form, an emoji first (`⚠️ Please note:`;
  a plain `Please note:` may head the page's content), takes the line under it along: both are
  kept out of the search. The notice itself stays the label line, as SPEC.md defines it (one
  line, which is what its checker compares). In any format, a later line repeating the notice
  (or the line under its label) is notice too.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterator
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
NAV_LABELS = r"(see also|read more|read also|also read|related(?: articles?| posts?| reading| stories)?)"
NAV_RE = re.compile(NAV_LABELS + r"\b\s*[:\-–—]?(?:\s|$)", re.IGNORECASE)
"""A navigation line: its label, then a space, `:` or dash and a title; or the label alone."""
NAV_PUNCT_RE = re.compile(r"\s*[:\-–—]")
NAV_LABEL_RE = re.compile(r"(see also|related(?: articles?| posts?| reading| stories| links))\s*[:\-–—]?$",
                          re.IGNORECASE)
"""A bare label that a list of links to other articles follows; not `Read more` or `Related`,
which may head the page's own list ("Read more" over a jacket's specifications)."""
MAX_LINK_WORDS = 12
RULE_RE = re.compile(r"^\s*[-=*_](?:\s*[-=*_]){2,}\s*$")
UNDERLINE_RE = re.compile(r"^\s{0,3}(?:={3,}|-{3,})\s*$")
"""A heading's underline (setext style): one unbroken run of `=` or `-`."""
NUMBERED_HEADING_RE = re.compile(r"^(?:\d{1,2}[.)])\s+(\S.*)$")
MAX_QUESTION_HEADING_WORDS = 10
SYMBOL_CATEGORIES = frozenset({"So", "Sk", "Mn", "Cf"})
"""Emoji and other symbols, and the variation selectors and zero-width joiners inside emoji."""
TITLE_SMALL_WORDS = frozenset(
    "a an the and or but nor of for to in on at by with from as vs via per into onto upon".split())
SENTENCE_END_RE = re.compile(r"[.!?…][\"'”’)\]]*\s*$")
ABBREVIATIONS = frozenset(
    """
    e.g i.e al cf vs viz approx ca mr mrs ms dr prof sr jr st mt gen col lt maj capt sgt adm
    gov sen rep pres fig figs no nos vol vols pp ed eds dept univ inc ltd co corp jan feb mar apr
    jun jul aug sep sept oct nov dec u.s u.k u.n e.u
    """.split()
)
"""Words whose trailing period does not end a sentence."""
INNER_SENTENCE_END_RE = re.compile(r"\b([a-z]{2,})[.!?…][\"'”’)\]]*\s+[\"'“‘(]*[A-Z]")
"""A sentence ending inside a line (`... along the coast. In`), where headings have none."""
MIN_WRAPPED_WORDS = 6
"""Words a line needs to be taken for a hard-wrapped paragraph's line rather than a heading."""
CLAUSE_END_RE = re.compile(r"[.!?:…][\"'”’)\]]*\s*$")
"""A line that ends a sentence or a lead-in (`:`): what follows starts anew. Not `;`, after which
the sentence goes on."""
MIN_WRAPPED_CHARS = 40
"""Characters that make a line of fewer words long enough to be taken for a wrapped line (long
words: `Executing international military multinational`)."""
HANGING_WORDS = frozenset("a an the and or but nor since because although though while whereas whose "
                          "its their our your his her my".split())
"""Words that end no sentence and no heading (unlike `for`, `with` or `of`: `What it is for`): a line
ending on one goes on under it, even into a name (`... with a gauge, since` / `Schwalbe ...`)."""
WIDTH_LINES = 4
"""Lines read to tell the width a paragraph is wrapped at: the longest of them."""
MIN_WRAPPED_CHARS_BEFORE_CAPITAL = 50
"""Characters a paragraph's first line needs to be taken for wrapped over a line that starts with
a capital (headings are mostly shorter); inside a wrapped paragraph, a line under a shorter one
(`... between 5 and` / `25.`) may be as long as a wrapped line: this many, and WRAP_SLACK."""
WRAP_SLACK = 20
"""How much longer than a wrapped line the line under it may be: about a long word, plus a space."""
WRAP_FIT = 5
"""How much longer than the lines under it a paragraph's first line may be, wrapped at their width."""
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
MAX_WRAP_WIDTH = 100
"""Columns beyond which no article is taken for hard-wrapped (its titles and headings for broken by the wrap)."""
MAX_BROKEN_OFF_WORDS = 3
"""Words of a title or heading that a wrap at 70 columns or more leaves for the next line, at the most."""


class ArticleError(Exception):
    """A file that cannot be read as an article; the message names the file."""


@dataclass(frozen=True)
class Skipped:
    """A corpus file left out of the index, and why."""

    doc: str
    reason: str


# ---------------------------------------------------------------- corpus walking


def corpus_files(root: Path, on_error: Callable[[str, OSError], None] | None = None,
                 leave_out: tuple[Path, ...] = ()) -> Iterator[tuple[str, Path]]:
    """(doc id, path) of every article file under root, sorted, without following symlink loops;
    a link to a folder outside root is followed, one to a folder inside it is not (a copy).
    Folders in `leave_out` (the index, when it is kept inside the corpus) are not entered.

    A folder that can't be listed is passed to on_error as its path relative to root (ending in
    `/`) with the error: os.walk would otherwise leave it out without a word."""
    root = Path(root)
    real_root = os.path.realpath(root)
    seen_dirs: set[str] = {os.path.realpath(folder) for folder in leave_out} - {real_root}

    def unreadable(exc: OSError) -> None:
        if on_error is not None:
            folder = Path(exc.filename) if exc.filename else root
            name = folder.relative_to(root).as_posix() if folder != root else str(root)
            on_error(name.rstrip("/") + "/", exc)

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen_dirs:
            dirnames[:] = []
            continue
        seen_dirs.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not _links_inside(dirpath, d, real_root))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            yield path.relative_to(root).as_posix(), path


def _links_inside(parent: str, name: str, real_root: str) -> bool:
    """A link to a folder of the corpus itself: its files are cited under their own path, not
    under the link's, whichever sorts first."""
    path = os.path.join(parent, name)
    if not os.path.islink(path):
        return False
    target = os.path.realpath(path)
    return target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep)


def iter_corpus(root: Path, max_bytes: int = MAX_FILE_BYTES, leave_out: tuple[Path, ...] = ()
                ) -> Iterator[Article | Skipped]:
    """Every file under root (but those in the `leave_out` folders) as an Article, or Skipped with
    the reason it was left out; an unreadable folder is Skipped too, under its path ending in `/`."""
    folders: list[Skipped] = []

    def folder_skipped(folder: str, exc: OSError) -> None:
        folders.append(Skipped(printable_doc(folder), f"cannot read folder ({exc.strerror or exc})"))

    for doc, path in corpus_files(root, folder_skipped, leave_out):
        yield from folders  # os.walk reports a folder as it comes to it, before the files after it
        folders.clear()
        item = corpus_item(doc, path, max_bytes)
        if item is not None:
            yield item
    yield from folders


def corpus_item(doc: str, path: Path, max_bytes: int) -> Article | Skipped | None:
    """One corpus file as an Article, Skipped with the reason, or None for a hidden file."""
    if path.name.startswith("."):
        return None
    problem = doc_name_problem(doc)
    if problem:
        return Skipped(printable_doc(doc), problem)
    try:
        if path.is_symlink() and not path.exists():  # os.walk lists a link to nothing as a file
            return Skipped(doc, "broken symbolic link (its target is missing, or links back to it)")
    except OSError as exc:  # a link into /proc, say: one file skipped, not the whole build stopped
        return Skipped(doc, f"cannot read ({exc.strerror or exc})")
    if path.suffix.lower() not in EXTENSIONS:
        return Skipped(doc, f"unsupported extension {path.suffix or '(none)'!r}")
    try:
        return read_article(path, doc, max_bytes)
    except ArticleError as exc:
        return Skipped(doc, str(exc).removeprefix(f"{doc}: "))


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
        line = bad_byte_line(raw, exc.start, encoding)
        raise ArticleError(f"{doc}: not valid {encoding.upper()} (line {line}, byte {exc.start})") from None
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
    notice = notice_text(text, lines)
    if notice is not None:
        lines = repeated_notice_cut(text, lines)
    return Article(doc=doc, title=title, notice=notice, text=text, lines=tuple(lines), fmt=fmt)


def notice_text(text: str, lines: list[Line]) -> str | None:
    """The notice verbatim: its first line (a hard-wrapped one's lines joined by a space), or None."""
    return next((re.sub(r"[ \t]*\n\s*", " ", text[ln.start : ln.end].strip()) for ln in lines if ln.kind == "notice"),
                None)


def repeated_notice_cut(text: str, lines: list[Line]) -> list[Line]:
    """The lines, with a later body line that repeats a notice line (the notice, or the text under
    its bare label) made a notice line too: it is the same disclaimer, and never searchable."""
    repeats = {" ".join(text[ln.start : ln.end].split()) for ln in lines if ln.kind == "notice"}
    return [Line("notice", ln.start, ln.end)
            if ln.kind == "body" and " ".join(text[ln.start : ln.end].split()) in repeats else ln
            for ln in lines]


def bad_byte_line(raw: bytes, at: int, encoding: str) -> int:
    """The line (1-based) of the byte at `at`, counting line ends as normalise_newlines does:
    the bytes before it are valid in the encoding (the decoder stopped at the first bad one)."""
    before = raw[:at].decode(encoding, errors="replace")
    return normalise_newlines(before).count("\n") + 1


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


def is_notice_label(line: str) -> bool:
    """A notice line that holds only its label (`⚠️ Please note:`): the notice's text is on the next line."""
    match = NOTICE_RE.match(line.strip())
    return bool(match) and not line.strip()[match.end() :].strip()


def is_disclaimer_label(line: str) -> bool:
    """A bare notice label in the disclaimers' own form, an emoji first (`⚠️ Please note:`): the
    disclaimer is on the next line. A plain `Please note:` may head the page's own content
    ("The museum is closed every Monday.")."""
    return is_notice_label(line) and bool(leading_symbols(line.strip()))


def is_nav(line: str) -> bool:
    """A navigation line: `See also  <title>`, `Related: <title>`, or the bare label (`See also:`).

    A final period is allowed only after a `:` or dash (`See also: Wheel Truing.`): without one,
    `Read more about it in the chapter above.` is a sentence. The label starts with a capital:
    `related to emerging domains` is a wrapped sentence going on."""
    s = line.strip()
    match = NAV_RE.match(s)
    if not match or len(s) > 200 or not s[0].isupper():
        return False
    return not s.endswith(".") or bool(NAV_PUNCT_RE.match(s, match.end(1)))


def is_nav_label(line: str) -> bool:
    """A bare navigation label (`See also`, `Related articles:`), which the lines under it belong to."""
    match = NAV_LABEL_RE.match(line.strip())
    return bool(match) and len(line.strip()) <= 200


def is_rule(line: str) -> bool:
    """A line of only `-`, `=`, `*` or `_` (three or more, spaces allowed: `* * *`): decoration, not text."""
    return bool(RULE_RE.match(line))


def is_list_item(line: str) -> bool:
    return bool(LIST_MARKER_RE.match(line.strip()))


def looks_like_heading(line: str) -> bool:
    """A short line without final punctuation that starts like a title, not like a list item."""
    if line.startswith(("\t", "  ")):
        return False  # indented: a list or quotation, not a heading
    s = line.strip().lstrip("\ufeff")
    if not s or len(s) > MAX_HEADING_CHARS or len(s.split()) > MAX_HEADING_WORDS:
        return False
    if s.endswith(HEADING_END_PUNCT) or is_list_item(s) or is_nav(s) or is_notice(s) or _ends_a_sentence_inside(s):
        return False
    return starts_like_heading(s)


def _ends_a_sentence_inside(s: str) -> bool:
    """Six words or more with a sentence ending inside (`Heavy rain caused flooding along the
    coast. In`): running text whose line broke, not a heading (`Part II. The Return` has a
    capital before its period, `Smith vs. Jones` an abbreviation)."""
    return len(s.split()) >= MIN_WRAPPED_WORDS and any(
        not is_abbreviation(m.group(1)) for m in INNER_SENTENCE_END_RE.finditer(s))


def starts_like_heading(s: str) -> bool:
    """True when s starts with a capital, a digit or an opening quote; or with an emoji or `¿`
    before one (`🔧 Tools You Need`); or with a word whose capital comes later (`iPhone`)."""
    first = s[0]
    if first.isupper() or first.isdigit() or first in "\"'“‘([":
        return True
    # The rest must then be Title Case: `iPhone 12 and later`, `setTimeout(callback, 0)` and
    # `🌱 Made from recycled materials` are an item, code and a feature line.
    if first.islower():
        word, _, rest = s.partition(" ")
        return any(c.isupper() for c in word[1:]) and bool(rest) and is_title_case(rest)
    rest = s[len(leading_symbols(s)) :].lstrip()
    return bool(rest) and rest[0] != s[0] and is_title_case(rest) and starts_like_heading(rest)


def leading_symbols(s: str) -> str:
    """The emoji and symbols (with their variation selectors and joiners) that s starts with, and `¿¡`;
    not `©`, which starts a footer ("© 2024 Kitchen Notes"), not a heading."""
    end = 0
    while end < len(s) and (s[end] in "¿¡" or unicodedata.category(s[end]) in SYMBOL_CATEGORIES) and s[end] not in "©®™":
        end += 1
    return s[:end]


def is_title_case(s: str) -> bool:
    """Every word capitalised but short function words (`How Much Is Too Much`, `Is Coffee Good for You`)."""
    words = re.findall(r"[^\W\d_][\w'’\-]*", s)
    return bool(words) and words[0][0].isupper() and all(
        w[0].isupper() or w.lower() in TITLE_SMALL_WORDS for w in words)


def classify_txt_lines(text: str) -> list[Line]:
    """Classify the non-blank lines of a plain-text article."""
    bom = 1 if text.startswith("\ufeff") else 0  # a byte order mark is not part of the first line
    spans = [(max(s, bom), e) for s, e in line_spans(text) if text[max(s, bom) : e].strip()]
    strings = [text[s:e] for s, e in spans]
    kinds: list[LineKind] = ["nav" if is_rule(line) else "body" for line in strings]  # rules: not content

    goes_on = [False] * len(strings)  # line i is the line above's, wrapped: one Line with it
    notice_at = _mark_notice(strings, spans, kinds)
    if notice_at is not None and kinds[notice_at + 1 : notice_at + 2] != ["notice"]:
        for i in range(notice_at + 1, _wrapped_notice_end(strings, spans, notice_at) + 1):
            kinds[i], goes_on[i] = "notice", True
    wrapped = [False] * len(strings)
    runs = wrapped_runs(strings, spans)
    for first, last in runs:
        wrapped[first : last + 1] = [True] * (last - first + 1)
    width = wrap_width(strings, runs)
    if spans and notice_at != 0 and len(spans) > 1 and _is_title_line(strings, spans, kinds, notice_at, wrapped):
        kinds[0] = "title"
        if _title_goes_on(strings, spans, kinds, width):
            kinds[1], goes_on[1] = "title", True
    _mark_nav(strings, spans, kinds, goes_on, width)

    # After a lead-in ending in ':' come list items. With markers, the list ends at the
    # first line without one; without markers, short lines are items until a paragraph
    # or a blank line.
    list_mode: str | None = None
    for i, line in enumerate(strings):
        if kinds[i] != "body":
            continue
        if i > 0 and kinds[i - 1] == "heading" and _heading_goes_on(strings, spans, i - 1, width):
            kinds[i], goes_on[i] = "heading", True
            continue
        if _underlined(strings, kinds, i):  # an explicit heading mark outranks the list rules
            list_mode = None
            if _has_content_after(strings, kinds, i):
                kinds[i] = "heading"
                continue
        item = is_list_item(line)
        first_item = list_mode == "pending"
        if first_item:
            list_mode = "markers" if item else "plain"
        elif list_mode == "markers" and not item:
            list_mode = None
        heading_like = _heading_in_context(strings, spans, i, wrapped)
        # A blank line between the lead-in and its first item does not end the list
        ends_list = not heading_like or (not first_item and _blank_line_before(spans, i))
        if list_mode == "plain" and ends_list:
            list_mode = None
        if heading_like and list_mode is None and _has_content_after(strings, kinds, i):
            kinds[i] = "heading"
            continue
        if line.strip().endswith(":"):
            list_mode = "pending"
    return _joined_lines(kinds, spans, goes_on)


def _joined_lines(kinds: list[LineKind], spans: list[tuple[int, int]], goes_on: list[bool]) -> list[Line]:
    """One Line per line, but a wrapped title, notice or heading is one Line over its lines."""
    lines: list[Line] = []
    for kind, (start, end), joins in zip(kinds, spans, goes_on):
        if joins and lines:
            lines[-1] = Line(lines[-1].kind, lines[-1].start, end)
        else:
            lines.append(Line(kind, start, end))
    return lines


def wrap_width(strings: list[str], runs: list[tuple[int, int]]) -> int:
    """The width an article is hard-wrapped at, all of it: the longest line of its wrapped runs;
    0 when none is wrapped, or when another line is longer (a title or heading the wrap left
    alone: only the paragraphs were wrapped)."""
    if not runs:
        return 0
    width = max(len(line.rstrip()) for first, last in runs for line in strings[first : last + 1])
    return width if width <= MAX_WRAP_WIDTH and all(len(line.rstrip()) <= width + WRAP_FIT for line in strings) else 0


def _broken_by_wrap(line: str, below: str, width: int) -> bool:
    """True when the wrap, not the writer, broke `line` before `below`, a few words (a subheading
    or a byline is more): the line is as long as the paragraphs' lines and the first word of
    `below` would not have fitted on it."""
    length = len(line.rstrip())
    return (bool(width) and length <= width + WRAP_FIT and length + 1 + len(below.split()[0]) > width
            and len(below.split()) <= MAX_BROKEN_OFF_WORDS)


def _title_goes_on(strings: list[str], spans: list[tuple[int, int]], kinds: list[LineKind], width: int) -> bool:
    """The title line goes on in the line directly under it, which a blank line or the notice
    follows, when the wrap broke it (`... Effective International Security` / `Cooperation`)."""
    if len(strings) < 3 or _blank_line_before(spans, 1) or kinds[1] != "body":
        return False
    if not (_blank_line_before(spans, 2) or kinds[2] == "notice") or not _broken_by_wrap(strings[0], strings[1], width):
        return False
    joined = f"{strings[0].strip()} {strings[1].strip()}"
    return not is_list_item(strings[1]) and (looks_like_heading(joined) or looks_like_heading(joined.rstrip("?!")))


def _heading_goes_on(strings: list[str], spans: list[tuple[int, int]], i: int, width: int) -> bool:
    """Title Case heading line i goes on in line i + 1, directly under it, when the wrap broke it:
    the next word would not have fitted, and both read as one Title Case heading (`The Role of ...
    in Modern Strategic` / `Defense Initiatives`). A sentence-case heading can't be told from one
    over a paragraph that starts with a capital."""
    after = i + 1
    if after >= len(strings) or _blank_line_before(spans, after) or not _broken_by_wrap(strings[i], strings[after], width):
        return False
    joined = f"{strings[i].strip()} {strings[after].strip()}"
    return not is_list_item(strings[after]) and looks_like_heading(joined) and is_title_case(joined)


def _wrapped_notice_end(strings: list[str], spans: list[tuple[int, int]], notice_at: int) -> int:
    """The last line of the notice at notice_at: it, or the last of its hard-wrapped lines."""
    last = notice_at
    while (last + 1 < len(strings) and not _blank_line_before(spans, last + 1)
           and wraps_into(strings[last], strings[last + 1])):  # not "within": a paragraph may follow
        last += 1
    return last if ends_clause(strings[last]) else notice_at


def _mark_notice(strings: list[str], spans: list[tuple[int, int]], kinds: list[LineKind]) -> int | None:
    """Mark the notice line (one of the first few) and return its index. A bare label in the
    disclaimers' form (`⚠️ Please note:`) takes the line directly under it along: the disclaimer."""
    notice_at = next((i for i in range(min(NOTICE_WINDOW, len(spans)))
                      if kinds[i] == "body" and is_notice(strings[i])), None)
    if notice_at is None:
        return None
    kinds[notice_at] = "notice"
    after = notice_at + 1
    if (is_disclaimer_label(strings[notice_at]) and after < len(spans) and not _blank_line_before(spans, after)
            and not is_list_item(strings[after])):
        kinds[after] = "notice"
    return notice_at


def _is_title_line(strings: list[str], spans: list[tuple[int, int]], kinds: list[LineKind],
                   notice_at: int | None, wrapped: list[bool]) -> bool:
    """Line 0 reads like a heading, is underlined, or is a question or exclamation set apart
    above the notice (`Is Coffee Good for You?`, blank line, `⚠️ Please note: ...`)."""
    first = strings[0]
    if _underlined(strings, kinds, 0):
        return True
    if looks_like_heading(first):
        return not wrapped[0]
    return (notice_at == 1 and _blank_line_before(spans, 1) and first.strip().endswith(("?", "!"))
            and looks_like_heading(first.strip().rstrip("?!")))


def _mark_nav(strings: list[str], spans: list[tuple[int, int]], kinds: list[LineKind], goes_on: list[bool],
              width: int) -> None:
    """Mark navigation lines (with the rest of a title the wrap broke off: `See also  ... Defense
    Readiness` / `Planning`), and under a bare label (`See also:`) the short title lines that follow
    it directly: a list of links to other articles, not headings or text of this one."""
    under_label = False
    for i, line in enumerate(strings):
        under_label = under_label and not _blank_line_before(spans, i) and _links_to_another(strings, spans, i)
        if kinds[i] != "body":
            continue
        if (i > 0 and kinds[i - 1] == "nav" and not is_rule(strings[i - 1]) and not _blank_line_before(spans, i)
                and _broken_by_wrap(strings[i - 1], line, width) and _reads_as_title(line) and is_title_case(line)
                and not is_list_item(line)):
            kinds[i], goes_on[i] = "nav", True
            continue
        if under_label or is_nav(line):
            kinds[i] = "nav"
        under_label = under_label or is_nav_label(line)


def _links_to_another(strings: list[str], spans: list[tuple[int, int]], i: int) -> bool:
    """Line i, under a `See also` label, reads as the title of another article: short, no sentence,
    and no paragraph directly under it (`Legacy` over `The wall became ...` is this one's heading)."""
    if not _reads_as_title(strings[i]):
        return False
    after = i + 1
    return (after >= len(strings) or _blank_line_before(spans, after) or is_list_item(strings[after])
            or _reads_as_title(strings[after]))


def _reads_as_title(line: str) -> bool:
    """Short (MAX_LINK_WORDS at most) and no sentence: a title, not a paragraph."""
    return len(line.split()) <= MAX_LINK_WORDS and not SENTENCE_END_RE.search(line.strip())


def _heading_in_context(strings: list[str], spans: list[tuple[int, int]], i: int, wrapped: list[bool]) -> bool:
    """Line i looks like a heading where it stands (the list rules aside)."""
    line = strings[i]
    if looks_like_heading(line):
        if wrapped[i]:
            return False
        # `✅ Pump` over `✅ Hex keys`, `👍 Light` over `👎 Dear`: a list whose lines start with symbols
        return not (leading_symbols(line.strip()) and any(leading_symbols(strings[j].strip()) for j in (i - 1, i + 1)
                                                          if 0 <= j < len(strings)))
    return _stands_alone_before_paragraph(strings, spans, i) and (
        _is_question_heading(line) or _is_numbered_heading(line))


def _is_question_heading(line: str) -> bool:
    """`How Much Is Too Much?`: a short Title Case question."""
    s = line.strip()
    return (s.endswith("?") and len(s.split()) <= MAX_QUESTION_HEADING_WORDS
            and looks_like_heading(s.rstrip("?")) and is_title_case(s))


def _is_numbered_heading(line: str) -> bool:
    """`1. Choosing Panels`: a number and a Title Case heading."""
    match = NUMBERED_HEADING_RE.match(line)
    return bool(match) and looks_like_heading(match.group(1)) and is_title_case(match.group(1))


def _stands_alone_before_paragraph(strings: list[str], spans: list[tuple[int, int]], i: int) -> bool:
    """A blank line (or the start) before line i, and directly after it a paragraph line: no list
    item (`2. Inverters` under `1. Choosing Panels` make a list) and nothing heading-like."""
    after = i + 1
    if (i > 0 and not _blank_line_before(spans, i)) or after >= len(strings) or _blank_line_before(spans, after):
        return False
    return not is_list_item(strings[after]) and not looks_like_heading(strings[after])


def _underlined(strings: list[str], kinds: list[LineKind], i: int) -> bool:
    """Line i is a short line directly over a rule of `=` or `-` (`Brakes` / `------`)."""
    after = i + 1
    if after >= len(strings) or not UNDERLINE_RE.match(strings[after]):
        return False
    s = strings[i].strip()
    return (kinds[i] == "body" and len(s) <= MAX_HEADING_CHARS and len(s.split()) <= MAX_HEADING_WORDS
            and not s.endswith((".", ",", ";", ":", "!", "?")) and not is_list_item(s) and not is_rule(s)
            and not is_nav(s) and not is_notice(s))


def wrapped_runs(strings: list[str], spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(first, last) line of each hard-wrapped paragraph or list item of two lines or more: each
    line wraps into the next (`wraps_into`), and the last ends a sentence or a lead-in, or the list
    item (another item, a blank line or the end follows). A heading over unmarked items, a URL or
    a command (`Things you will need` / `tent and footprint`) ends none."""
    runs: list[tuple[int, int]] = []
    first = 0
    while first < len(strings):
        last, widest = first, len(strings[first].strip())
        while last + 1 < len(strings) and not _blank_line_before(spans, last + 1):
            width = widest if last > first else _width_under(strings, spans, first)
            if not wraps_into(strings[last], strings[last + 1], within=last > first, width=width):
                break
            last += 1
            widest = max(widest, len(strings[last].strip()))
        if last > first and (ends_clause(strings[last]) or _ends_item(strings, spans, first, last)):
            runs.append((first, last))
        first = last + 1
    return runs


def _width_under(strings: list[str], spans: list[tuple[int, int]], i: int) -> int:
    """The width that the few lines under line i (up to a blank line) seem wrapped at: the longest."""
    end = i + 1
    while end < min(len(strings), i + 1 + WIDTH_LINES) and (end == i + 1 or not _blank_line_before(spans, end)):
        end += 1
    return max((len(line.strip()) for line in strings[i + 1 : end]), default=0)


def _ends_item(strings: list[str], spans: list[tuple[int, int]], first: int, last: int) -> bool:
    """Lines first..last are one list item: another item, a blank line or the end comes next."""
    after = last + 1
    return is_list_item(strings[first]) and (
        after == len(strings) or _blank_line_before(spans, after) or is_list_item(strings[after]))


def wraps_into(line: str, below: str, within: bool = False, width: int = 0) -> bool:
    """`line` may break mid-sentence into `below`, the line directly under it (no list item, notice
    or navigation): `line` ends no sentence or lead-in, and `below` goes on in lower case under a
    line of six words or 40 characters that is not Title Case. Unless Title Case (a heading),
    `below` may start with a capital or digit after a comma, an abbreviation (`Dr.`) or a word
    like `the` (HANGING_WORDS), or when the paragraph goes on under it and its first word would
    not have fitted on `line` (50 characters or more) at the `width` of the lines under it
    (`... disarming WMDs in North` / `Korea and Libya ...`). `within` a wrapped paragraph (`line`
    goes on from the line above), `line` may be short (a long word went down), and `below` may
    start with a capital or digit when no longer than a line at `width`, the run's widest. A
    list item or indented line goes on only indented or in lower case."""
    length = len(line.strip())
    long_enough = within or (
        (len(line.split()) >= MIN_WRAPPED_WORDS or length >= MIN_WRAPPED_CHARS) and not is_title_case(line))
    if not long_enough or not below.strip() or breaks_off(line):
        return False
    if is_list_item(below) or is_notice(below) or is_nav(below):
        return False
    if goes_on_in_lower_case(below):
        return True
    if is_title_case(below) and not ends_sentence(below):
        return False  # a heading
    if (is_list_item(line) or line[:1].isspace()) and not below[:1].isspace():
        return False  # a list item goes on indented, or in lower case
    if within:
        return len(below.strip()) <= max(width, MIN_WRAPPED_CHARS_BEFORE_CAPITAL) + WRAP_SLACK
    if line.rstrip().endswith((",", ".")) or line.split()[-1].lower() in HANGING_WORDS:  # "." of an abbreviation
        return len(below.strip()) <= length + WRAP_SLACK
    # A heading over a paragraph (`Can I freeze my membership if I go travelling abroad`) is
    # shorter than the paragraph's lines, or its paragraph is one line.
    return (not ends_clause(below) and MIN_WRAPPED_CHARS_BEFORE_CAPITAL <= length <= width + WRAP_FIT
            and length + 1 + len(below.split()[0]) > width)


def goes_on_in_lower_case(line: str) -> bool:
    """The line starts with a word in lower case, and not a name like `iPhone`."""
    first = line.split()[0] if line.strip() else ""
    return bool(first) and first[0].islower() and not any(c.isupper() for c in first[1:])


def ends_sentence(line: str) -> bool:
    return bool(SENTENCE_END_RE.search(line))


def ends_clause(line: str) -> bool:
    """The line ends a sentence or a lead-in (`:`): a line under it starts anew."""
    return bool(CLAUSE_END_RE.search(line))


def breaks_off(line: str) -> bool:
    """The line ends a sentence or a lead-in, and not on an abbreviation (`... chaired by Dr.` /
    `Helen Moss ...` goes on)."""
    if not ends_clause(line):
        return False
    last = line.split()[-1].lstrip("(\"'“‘")
    return not (last.endswith(".") and is_abbreviation(last[:-1]))


def is_abbreviation(word: str) -> bool:
    """The word, its final period left out, is an abbreviation (`Dr`, `e.g`) or an initial (`J`,
    the second letter of `U.S`): the period ends no sentence."""
    word = word.lower()
    if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return True
    return bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))  # acronyms with periods: u.s.a, e.g


def _blank_line_before(spans: list[tuple[int, int]], i: int) -> bool:
    """True when a blank line separates non-blank line i from the one before it."""
    # spans hold only non-blank lines; a gap of more than one newline is a blank line
    return i > 0 and spans[i][0] > spans[i - 1][1] + 1


def _has_content_after(strings: list[str], kinds: list[LineKind], i: int) -> bool:
    """True when some later line is content (a heading's body, or a further heading)."""
    for j in range(i + 1, len(strings)):
        if kinds[j] in ("notice", "title", "nav") or is_nav(strings[j]):
            continue
        return True
    return False
