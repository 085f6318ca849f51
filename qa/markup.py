"""Markdown and HTML articles -> plain text and classified lines.

The plain text of a `.md` or `.html` article is what offsets index into. It is built
block by block: each heading, paragraph, list item, table row and code line is one line;
blocks are separated by one blank line, while the lines of one list, table, code block
or hard-broken paragraph follow each other directly. Every non-blank line is classified
as title, notice, heading, body or navigation; `sections.py` groups them into sections.

Markdown (CommonMark, parsed with markdown-it-py, plus GitHub tables and ~~strikethrough~~):
- ATX headings (`#` .. `######`, closing `#`s dropped) and setext headings (`===` or
  `---` underlines) are headings.
- A YAML front-matter block (`---` on the first line, closed by `---` or `...`) is
  dropped; its `title:` is the title. A block whose `---` stands apart after a blank line,
  with a paragraph before it, is not front matter: its closing `---` was forgotten, and the
  one found is a rule after the prose. With front matter, a leading H1 with the same
  text is the title line; otherwise the title is a line of its own at the top.
  Without front matter, the first H1 is the title line when no body text comes before it.
  The title line is not a section.
- Inline markup is removed: emphasis, strikethrough, code backticks, links
  (`[text](url)` -> `text`, `<https://x>` -> `https://x`), inline HTML tags (with their
  text, for an element the HTML rules below drop: `<script>`, `<span hidden>`); images
  are dropped; entities and backslash escapes are decoded; soft line breaks become
  spaces, hard breaks start a new line; runs of whitespace become one space.
- Navigation is judged per source line: a source line of a paragraph that is a navigation
  line (`See also: [X](x.md)` under its last sentence) is a line of its own. It must start
  with a capital, have a colon or dash after its label ("Read more about the trial in our
  report" is prose), come first or after a line ending a sentence (`.!?:…`), and the line
  after it must not go on in lower case: hard-wrapped prose can put "See also the chapter
  on brakes, which" or "related stories are" at a line's start.
- List items keep a normalised marker (`- item`, `3. item`), one item a line.
- Table rows are one line each, cells joined by ` | `; a `|` inside a cell (written `\\|`)
  reads the same, so the plain text doesn't show where such a cell ends.
- Fenced and indented code blocks are body text, one code line a line, indentation kept.
- Block quotes keep their content; horizontal rules, reference-style link definitions
  and HTML comments are dropped; HTML blocks are reduced by the HTML rules below.

HTML (the standard library's html.parser, which never rejects broken markup):
- h1-h6 are headings. The title is the first h1 when no body text comes before it or
  when its text equals the page's <title>; it is then the title line, not a section.
  Otherwise the <title> is the article's title and no line of the text is.
- The content of script, style, nav, header, footer, aside, noscript, template, form,
  svg, iframe, object, canvas, select, button and textarea elements, and of elements with
  the `hidden` attribute, is dropped, as are comments (one never closed hides the rest of
  the page, as in a browser) and the <title> itself. A dropped
  block (nav, header, footer, aside, form, or a hidden block element) ends the line; a
  dropped inline element (script, button, <span hidden>, ...) leaves the text around it
  one line, as a browser shows it. Three exceptions:
  - A <header> inside article or section that holds a heading is that article's or section's
    own header (its title, byline, notice) and is kept; a page-level one, one in <main>, or one
    without a heading (a page wrapped whole in <section>) is site chrome.
  - Forms are read when the page has no body text without them: ASP.NET WebForms wraps
    the whole page in <form id="form1">. Their controls are still dropped, and on a page
    with text outside its forms, a search or newsletter form stays dropped.
  - An <aside> whose first line is a notice (a boxed disclaimer) gives the article's notice
    when the page has none of its own (a site alert in an aside must not displace it); that
    line is kept only when it is the notice (see Both), never as searchable text.
- Block elements (p, div, li, dt, dd, tr, h1-h6, blockquote, pre, section, article,
  table, ...) end a line, <br> starts a new one, inline elements are joined; table cells
  are joined by ` | `. Entities are decoded and whitespace inside a block collapses to
  single spaces, except in <pre>, whose lines are kept (trailing spaces removed).
- Permalink markers (`#`, `¶`, `§` standing alone at a heading's start or end) are dropped.

Both:
- The notice is the first of the first NOTICE_WINDOW lines that `articles.is_notice`
  accepts (an aside's notice line counts only when it is the notice; it is dropped
  otherwise). A notice that is only its label in the disclaimers' form, an emoji first
  (`⚠️ Please note:`; a plain `Please note:` may head the page's content), with a line break
  after it (`<br>`, a Markdown hard break), takes in the line after the break: the two are
  one notice line, `⚠️ Please note: AI tools ...`, joined by a space. A later line that
  repeats the notice exactly is a notice line too, so never searchable (the notice is the
  first; a different `Please note: ...` further down is content). In Markdown the notice
  line is its source line as written, minus leading `>`, `*`, `_`, `#`, `-` and spaces
  (the rule a black-box checker applies to the raw file), when the notice paragraph is a
  single source line; so `**📝 Note for Readers:** Verify.` gives `📝 Note for Readers:**
  Verify.`. This is the one line of the plain text that may keep inline markup: it is
  quoted verbatim, never searched.
- Navigation: a line that `articles.is_nav` accepts (`See also: ...`), with or without
  a list marker; a heading that only says `See also`, `Related articles`,
  `Read more`, ... together with the lines up to the next heading; and a paragraph that
  only says `See also:` or `Related articles:` (`**See also:**`; not `Read more`, which may
  head the page's own list) together with the short items of the list (or table) right
  under it.
- Control characters other than tab are removed. Any input gives no exception: what
  can't be parsed gives less text, at worst none.
"""

from __future__ import annotations

import functools
from collections import Counter
import logging
import re
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from typing import Literal

from .articles import (
    LIST_MARKER_RE,
    MAX_LINK_WORDS,
    NAV_LABELS,
    NOTICE_WINDOW,
    ends_clause,
    is_disclaimer_label,
    is_nav,
    is_notice,
    is_notice_label,
)
from .articles import is_nav_label as says_see_also
from .models import Line, LineKind

log = logging.getLogger("qa.markup")

BlockKind = Literal["heading", "body"]
Join = Literal["block", "line"]

CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
PERMALINK_RE = re.compile(r"^(?:[#¶§]\s+)+|(?:\s+[#¶§])+$")
NAV_HEADING_RE = re.compile(
    r"^(?:see also|read more|read also|also read|"
    r"related(?: articles?| posts?| reading| stories| links| pages)?)\s*:?$",
    re.IGNORECASE,
)
# The leading Markdown markers that a raw-file checker strips from a notice line.
CHECKER_LEADING_MARKERS = ">*_#- \t"
FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)
FRONT_MATTER_KEY_RE = re.compile(r"^[A-Za-z_][\w-]*[ \t]*:")
PROSE_THEN_RULE_RE = re.compile(r"\n[ \t]*\n[ \t]*\S.*\n[ \t]*\n\Z", re.DOTALL)
"""A block with a paragraph after a blank line, and a blank line before the "---" that ends it:
the opening "---" was never closed, and the one matched is a thematic break after the prose
(Markdown needs the blank line there; front matter has no use for it)."""
FRONT_MATTER_TITLE_RE = re.compile(r"^title[ \t]*:[ \t]*(.*)$", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Block:
    """One line of the plain text to be: a heading or body line and how it joins the previous one."""

    kind: BlockKind
    text: str
    level: int = 0
    """Heading level 1-6; 0 for body lines."""
    join: Join = "block"
    """"block": a blank line before it; "line": directly under the previous line."""
    code: bool = False
    """Code lines keep their indentation and inner spacing."""
    as_written: str | None = None
    """The source line as a checker reads it, for a notice that fills one source line."""
    listed: bool = False
    """A line of a list (or table): what a "See also:" label paragraph can stand over."""
    notice_only: bool = False
    """Text of a dropped element (an <aside>), kept only if it turns out to be the notice."""


# ---------------------------------------------------------------- shared assembly


def collapse(text: str) -> str:
    return " ".join(text.split())


def clean_block(block: Block) -> Block | None:
    """The block with control characters removed and whitespace normalised; None when empty."""
    text = CONTROL_RE.sub("", block.text)
    if block.code:
        text = text.rstrip()
    else:
        text = collapse(text)
    if block.kind == "heading":
        text = PERMALINK_RE.sub("", text).strip()
    if not text.strip():
        return None
    return replace(block, text=text)


def same_title(a: str, b: str) -> bool:
    return collapse(a).casefold() == collapse(b).casefold()


def is_nav_line(text: str) -> bool:
    """A navigation line, also as a list item (`- See also: ...`)."""
    stripped = text.strip()
    marker = LIST_MARKER_RE.match(stripped)
    return is_nav(stripped) or bool(marker and is_nav(stripped[marker.end() :]))


def title_h1_index(blocks: list[Block], known: str | None, equal_only: bool) -> int | None:
    """Index of the first H1 when it is the title line: no body text before it, or equal to `known`."""
    body_before = False
    for i, block in enumerate(blocks):
        if block.kind == "heading" and block.level == 1:
            equal = known is not None and same_title(block.text, known)
            if equal_only:
                return i if equal and not body_before else None
            return i if equal or not body_before else None
        if block.kind == "body" and not (block.notice_only or is_notice(block.text) or is_nav_line(block.text)):
            body_before = True
    return None


def settled_notice(blocks: list[Block], title_at: int | None) -> tuple[list[Block], int | None]:
    """The blocks with the notice settled, and the title line's new index.

    The notice is the first of the first NOTICE_WINDOW lines that `is_notice` accepts, as in
    `classify`. A bare label there takes in the line after its break (`<strong>Please note:</strong>
    <br>AI tools ...`), so that the disclaimer is the notice and not searchable text. Notice-only
    blocks (a dropped <aside>'s text) that are not the notice are dropped; they don't count towards
    the window, which is counted in the lines that remain.
    """
    title = blocks[title_at] if title_at is not None else None
    regular = [block for block in blocks if not block.notice_only]
    if any(is_notice(block.text) for block in regular[:NOTICE_WINDOW] if block is not title):
        blocks = regular  # the page's own notice outranks an aside's (a site alert before the article)
    kept: list[Block] = []
    found = False
    taken_in = -1  # the index of a line a bare label took in
    for i, block in enumerate(blocks):
        if i == taken_in:
            continue
        if not found and len(kept) < NOTICE_WINDOW and block is not title and is_notice(block.text):
            found = True
            after = blocks[i + 1] if i + 1 < len(blocks) else None
            label = is_disclaimer_label(block.text) or (block.notice_only and is_notice_label(block.text))
            if (after is not None and label and after.join == "line"
                    and after.kind == "body" and not after.code):
                block = replace(block, text=f"{block.text} {after.text}", as_written=None)
                taken_in = i + 1
            kept.append(block)
        elif not block.notice_only:
            kept.append(block)
    return kept, (next(i for i, b in enumerate(kept) if b is title) if title is not None else None)


def is_nav_label(block: Block) -> bool:
    """A paragraph that only says "See also:", "Related articles", ...: the list under it is navigation."""
    return block.kind == "body" and not (block.code or block.listed) and says_see_also(block.text)


def is_link_title(block: Block) -> bool:
    """A list item that reads as another article's title: short, and no sentence."""
    return len(block.text.split()) <= MAX_LINK_WORDS + 1 and not ends_clause(block.text)


def classify(blocks: list[Block], title_at: int | None) -> list[LineKind]:
    """The kind of every (non-empty) block's line: title, notice, heading, body or nav."""
    kinds: list[LineKind] = [block.kind for block in blocks]
    if title_at is not None:
        kinds[title_at] = "title"
    notice: str | None = None
    for i in range(min(NOTICE_WINDOW, len(blocks))):
        if kinds[i] != "title" and is_notice(blocks[i].text):
            kinds[i] = "notice"
            notice = blocks[i].text
            break
    under_nav_heading = False
    under_nav_label = False  # in the list right under a "See also:" label paragraph
    for i, block in enumerate(blocks):
        if kinds[i] == "heading":
            under_nav_heading = bool(NAV_HEADING_RE.match(block.text))
            under_nav_label = False
            if under_nav_heading:
                kinds[i] = "nav"
        elif kinds[i] == "body":
            # The list starts right after the label; its later lines follow each other directly.
            under_nav_label = block.listed and is_link_title(block) and (
                is_nav_label(blocks[i - 1]) if i and block.join == "block" else under_nav_label)
            if block.text == notice:  # the notice repeated further down is no more searchable
                kinds[i] = "notice"
            elif under_nav_heading or under_nav_label or is_nav_label(block) or is_nav_line(block.text):
                kinds[i] = "nav"
    return kinds


def notice_text(block: Block) -> str:
    """The notice as quoted: the source line as written where it holds just the notice."""
    as_written = CONTROL_RE.sub("", block.as_written or "").strip()
    return as_written if is_notice(as_written) else block.text


def assemble(blocks: list[Block], title_at: int | None) -> tuple[str, list[Line]]:
    """Join cleaned blocks into the plain text and record every line's kind and span."""
    blocks, title_at = settled_notice(blocks, title_at)
    kinds = classify(blocks, title_at)
    parts: list[str] = []
    lines: list[Line] = []
    pos = 0
    for block, kind in zip(blocks, kinds):
        text = notice_text(block) if kind == "notice" else block.text
        if parts:
            sep = "\n" if block.join == "line" else "\n\n"
            parts.append(sep)
            pos += len(sep)
        parts.append(text)
        lines.append(Line(kind, pos, pos + len(text)))
        pos += len(text)
    return "".join(parts), lines


def as_checker_reads(line: str) -> str:
    """A Markdown source line the way a marker-stripping checker reads a notice from it."""
    return line.strip().lstrip(CHECKER_LEADING_MARKERS)


def cleaned(blocks: list[Block]) -> list[Block]:
    return [b for b in (clean_block(block) for block in blocks) if b is not None]


# ---------------------------------------------------------------- Markdown


def parse_markdown(source: str, doc: str = "markdown") -> tuple[str, list[Line]]:
    """Plain text and classified lines of a Markdown article (see the module docstring); `doc`
    names it in warnings."""
    try:
        source = source.lstrip("\ufeff")
        title, body = split_front_matter(source)
        blocks = cleaned(markdown_blocks(body, doc))
        title_at = title_h1_index(blocks, title, equal_only=title is not None)
        if title is not None and title_at is None:
            title_block = clean_block(Block("heading", title, level=1))
            if title_block is not None:
                blocks.insert(0, title_block)
                title_at = 0
        return assemble(blocks, title_at)
    except Exception:  # noqa: BLE001 - any input must give an article or no text, never a crash
        log.warning("%s: could not be parsed; treating it as empty", doc, exc_info=True)
        return "", []


def split_front_matter(source: str) -> tuple[str | None, str]:
    """(front-matter title or None, the Markdown after the front matter)."""
    match = FRONT_MATTER_RE.match(source)
    if not match or PROSE_THEN_RULE_RE.search(match.group(1)):
        return None, source
    data = _front_matter_data(match.group(1))
    if data is None:
        return None, source
    title = data.get("title")
    if title is not None and not isinstance(title, (str, dict, list)):
        # YAML reads `title: 2024-01-01` as a date, `title: true` as a boolean: keep it as written
        found = FRONT_MATTER_TITLE_RE.search(match.group(1))
        title = found.group(1).strip().strip("\"'") if found else None
    if isinstance(title, str) and title.strip():
        return collapse(title), source[match.end() :]
    return None, source[match.end() :]


def _front_matter_data(block: str) -> dict[str, object] | None:
    """The front matter's mapping, or None when the block is not front matter."""
    import yaml

    try:
        data = yaml.safe_load(block) if block.strip() else {}
    except (yaml.YAMLError, ValueError, RecursionError):
        # Hand-written front matter is often not valid YAML (`title: A: B`); read it by line.
        first = next((ln for ln in block.split("\n") if ln.strip()), "")
        if not FRONT_MATTER_KEY_RE.match(first):
            return None
        found = FRONT_MATTER_TITLE_RE.search(block)
        return {"title": found.group(1).strip().strip("\"'")} if found else {}
    return data if isinstance(data, dict) else None


MAX_NESTING = 100
"""Containers markdown-it opens inside each other (a list level takes two) before it drops the
rest of the enclosing block: commonmark's 20 lost a whole article's tail after a list nested ten
deep. A document that reaches it is read again with its nesting flattened."""
CONTAINER_PREFIX_RE = re.compile(r"^(?:[ \t]*(?:>|[-*+](?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$)))+[ \t]*")
LIST_PREFIX_RE = re.compile(r"[-*+]|\d[.)]")


@functools.lru_cache(maxsize=1)
def _markdown_parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable(["table", "strikethrough"])


def markdown_tokens(source: str, doc: str = "markdown") -> list:
    """markdown-it's tokens of the source; nested past MAX_NESTING, those of it flattened."""
    tokens = _markdown_parser().parse(source)
    if max((tok.level for tok in tokens), default=0) < MAX_NESTING - 1:
        return tokens
    log.warning("%s: lists or quotes nested deeper than markdown-it reads; read without their nesting", doc)
    return _markdown_parser().parse(flattened(source))


def flattened(source: str) -> str:
    """The Markdown with every line's quote and list markers taken off, a list item keeping one "- "."""
    lines = []
    for line in source.split("\n"):
        prefix = CONTAINER_PREFIX_RE.match(line)
        if prefix is None:
            lines.append(line)
            continue
        rest = line[prefix.end() :]
        lines.append(f"- {rest}" if LIST_PREFIX_RE.search(prefix.group(0)) and rest.strip() else rest)
    return "\n".join(lines)


def markdown_blocks(source: str, doc: str = "markdown") -> list[Block]:
    """The Markdown's headings, paragraphs, items, rows and code lines, in order."""
    tokens = markdown_tokens(source, doc)
    source_lines = source.split("\n")
    blocks: list[Block] = []
    containers = 0  # open lists and tables: their lines follow each other directly
    fresh = False  # the next line in a container is its first
    markers: list[str] = []  # the marker of each open list item
    pending_marker = ""  # given to the first paragraph of a list item
    heading_level = 0
    row: list[str] | None = None

    def join() -> Join:
        nonlocal fresh
        if containers and not fresh:
            return "line"
        fresh = False
        return "block"

    for tok in tokens:
        kind = tok.type
        if kind in ("bullet_list_open", "ordered_list_open", "table_open"):
            if containers == 0:
                fresh = True
            containers += 1
        elif kind in ("bullet_list_close", "ordered_list_close", "table_close"):
            containers = max(0, containers - 1)
        elif kind == "list_item_open":
            pending_marker = f"{tok.info}{tok.markup} " if tok.info else "- "
            markers.append(pending_marker)
        elif kind == "list_item_close":
            pending_marker = ""
            if markers:
                markers.pop()
        elif kind == "heading_open":
            heading_level = int(tok.tag[1:]) if tok.tag[1:].isdigit() else 1
        elif kind == "heading_close":
            heading_level = 0
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            cells = " | ".join(c for c in row or [] if c)
            if cells:
                blocks.append(Block("body", cells, join=join(), listed=True))
            row = None
        elif kind == "inline":
            parts = inline_lines(tok.children or [])
            if row is not None:
                row.append(collapse(" ".join(parts)))
            elif heading_level:
                if collapse(" ".join(parts)):
                    blocks.append(Block("heading", " ".join(parts), level=heading_level, join=join()))
            else:
                as_written = None
                if tok.map and tok.map[1] - tok.map[0] == 1 and tok.map[0] < len(source_lines):
                    as_written = as_checker_reads(source_lines[tok.map[0]])
                first = True
                for part in (p for p in parts if collapse(p)):
                    text = pending_marker + part if first else part
                    blocks.append(Block("body", text, join=join() if first else "line", as_written=as_written,
                                        listed=containers > 0))
                    first = False
                if not first:
                    pending_marker = ""
        elif kind in ("fence", "code_block"):
            for i, code_line in enumerate(l for l in tok.content.splitlines() if l.strip()):
                blocks.append(Block("body", code_line, join=join() if i == 0 else "line", code=True))
        elif kind == "html_block":
            blocks.extend(html_blocks(tok.content))
    return blocks


def inline_lines(children: list) -> list[str]:
    """The text of an inline token, markup removed, split at hard breaks and around a source line
    that is navigation (see nav_source_lines). An inline element the HTML rules drop
    (`<script>...</script>`, `<span hidden>...</span>`) is dropped with its text when its end tag
    follows in the same paragraph; a tag nothing closes is only a tag ("the <nav> element",
    written in prose)."""
    pieces: list[str] = []
    dropped = _dropped_runs(children)
    for i, child in enumerate(children):
        if i in dropped:
            continue
        kind = child.type
        if kind in ("text", "text_special", "code_inline"):
            pieces.append(child.content)
        elif kind == "softbreak":
            pieces.append(SOFT_BREAK)
        elif kind == "hardbreak":
            pieces.append("\n")
        elif kind == "html_inline" and re.match(r"<br\s*/?>", child.content, re.IGNORECASE):
            pieces.append("\n")
        # emphasis, links, images, inline HTML and their markers add no text
    # A decoded "&#10;" breaks a line too, as it always has.
    return [line for broken in "".join(pieces).split("\n") for line in nav_source_lines(broken.split(SOFT_BREAK))]


NAV_SOURCE_LINE_RE = re.compile(NAV_LABELS + r"\s*[:\-–—]", re.IGNORECASE)
"""A navigation line inside a paragraph says so with a colon or dash (`See also: X`): "Read more
about the trial in our report" is a wrapped sentence."""
SOFT_BREAK = "\x00"
"""Marks a soft line break in a paragraph's text: markdown-it turns every NUL of the source into U+FFFD."""


def nav_source_lines(source_lines: list[str]) -> list[str]:
    """The source lines of one hard-broken line joined by spaces (soft breaks), except that a
    navigation line (`See also: [X](x.md)` under the last sentence of a paragraph) stands alone.
    A source line only counts as one when it starts a sentence, after one that ends, and the
    next one does not carry on in lower case: hard-wrapped prose can put "related stories are"
    or "See also the chapter on brakes, which" at a line's start."""
    lines: list[list[str]] = []
    nav_before = False  # whether the source line before was a navigation line
    for i, text in enumerate(source_lines):
        after = source_lines[i + 1].strip() if i + 1 < len(source_lines) else ""
        nav = (bool(NAV_SOURCE_LINE_RE.match(text.strip())) and is_nav_line(text) and text.strip()[:1].isupper()
               and not after[:1].islower()
               and (i == 0 or nav_before or ends_clause(source_lines[i - 1])))
        if i == 0 or nav or nav_before:
            lines.append([text])
        else:
            lines[-1].append(text)
        nav_before = nav
    return [" ".join(parts) for parts in lines]


TAG_RE = re.compile(r"<(/?)([A-Za-z][\w-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.DOTALL)
"""A start or end tag: (slash, name, attributes), with ">" inside quoted values skipped."""
ATTR_VALUE_RE = re.compile(r"=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]*)")
HIDDEN_ATTR_RE = re.compile(r"(?:^|\s)hidden(?=[\s=/]|$)", re.IGNORECASE)


def _dropped_runs(children: list) -> set[int]:
    """Positions of the children from each dropped element's start tag to its end tag, both included."""
    open_tags: list[tuple[str, int, bool]] = []  # (name, position, dropped), innermost last
    dropped: set[int] = set()
    for i, child in enumerate(children):
        found = TAG_RE.fullmatch(child.content.strip()) if child.type == "html_inline" else None
        if found is None:
            continue
        closing, name, attrs = found.group(1) == "/", found.group(2).lower(), found.group(3)
        if closing:
            at = next((k for k in range(len(open_tags) - 1, -1, -1) if open_tags[k][0] == name), None)
            if at is not None:  # an inner end tag left out closes with this one, as in a browser
                _, start, drops = open_tags[at]
                if drops:
                    dropped.update(range(start, i + 1))
                del open_tags[at:]
        elif name not in VOID_TAGS and not attrs.rstrip().endswith("/"):
            # An attribute's value is no attribute: class="hidden" or class= hidden hides nothing.
            hidden = HIDDEN_ATTR_RE.search(ATTR_VALUE_RE.sub("=", attrs)) is not None
            open_tags.append((name, i, name in SKIP_TAGS or hidden))
    return dropped


# ---------------------------------------------------------------- HTML

SKIP_TAGS = frozenset(
    "script style nav header footer aside noscript template form svg iframe object canvas select button textarea"
    .split()
)
SKIP_BLOCK_TAGS = frozenset("nav header footer aside form".split())
"""The dropped elements that are blocks; the others sit inside a line and must not split it."""
VOID_TAGS = frozenset("area base br col embed hr img input link meta param source track wbr".split())
HEADING_TAGS = {f"h{n}": n for n in range(1, 7)}
CONTAINER_TAGS = frozenset("ul ol dl menu table".split())
ITEM_TAGS = frozenset("li dt dd tr".split())
CELL_TAGS = frozenset("td th".split())
BLOCK_TAGS = frozenset(
    """
    address article blockquote body caption center details dialog dir div dl dt dd fieldset figcaption
    figure form h1 h2 h3 h4 h5 h6 head header hgroup hr html legend li main menu ol p pre section summary
    table tbody tfoot thead tr ul title
    """.split()
)
SECTIONING_TAGS = frozenset("article section".split())
"""A <header> inside one of these is that article's or section's own header (its title, byline,
notice), kept; a page-level one is site chrome, and so is one in <main>, where sites put theirs."""
CELL = "\x00"
"""Marks a cell boundary inside a row until the row is flushed (NULs are removed from input)."""


class HtmlText(HTMLParser):
    """Collects the lines of an HTML page (headings, paragraphs, items, rows) and its <title>."""

    def __init__(self, keep_forms: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.keep_forms = keep_forms
        """Read a <form>'s content as text (its controls still dropped): see parse_html_page."""
        self.blocks: list[Block] = []
        self.title: str | None = None
        self._pieces: list[str] = []
        self._has_text = False  # whether _pieces hold more than whitespace (one flag, not a join per cell)
        self._skipping: list[str] = []  # open elements since entering a dropped element
        self._skipped = Counter[str]()  # how many of each are open, so an end tag is looked up at once
        self._title_parts: list[str] | None = None
        self._heading = 0
        self._pre = 0
        self._containers = 0
        self._fresh = False
        self._next_join: Join = "block"
        self._sectioning = 0  # open article and section elements
        self._headers: list[int] = []  # for each open kept <header>, the count of lines before it
        self._aside: list[str] | None = None  # the text of the dropped <aside> being read

    # -- tags

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping:
            if tag not in VOID_TAGS:
                self._skip(tag)
            self._aside_break(tag)
            return
        hidden = any(name == "hidden" for name, _ in attrs)
        if hidden or self._drops(tag):
            if tag not in VOID_TAGS:
                if tag in SKIP_BLOCK_TAGS or tag in BLOCK_TAGS:
                    self._flush()
                self._skip(tag)
                if tag == "aside" and not hidden:
                    self._aside = []
            return
        if tag == "title":
            self._flush()
            self._title_parts = []  # a second <title> is dropped too, only the first names the page
            return
        self._start(tag)

    def _drops(self, tag: str) -> bool:
        """Whether the element is dropped with its content (other than for `hidden`)."""
        if tag == "header" and self._sectioning:
            return False  # the article's or section's own header
        if tag == "form" and self.keep_forms:
            return False
        return tag in SKIP_TAGS

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping:
            self._aside_break(tag)
        elif not self._drops(tag) and tag != "title":
            self._start(tag)
            if tag not in VOID_TAGS:
                self.handle_endtag(tag)

    def _start(self, tag: str) -> None:
        if tag == "br":
            if self._pre:
                self._pieces.append("\n")
            elif self._heading:
                self._pieces.append(" ")
            else:
                self._flush()
                self._next_join = "line"
            return
        if tag in CELL_TAGS:
            if self._has_text:
                self._pieces.append(CELL)
            return
        if tag in BLOCK_TAGS:
            self._flush()
        if tag in SECTIONING_TAGS:
            self._sectioning += 1
        if tag == "header":
            self._headers.append(len(self.blocks))
        if tag in CONTAINER_TAGS:
            if self._containers == 0:
                self._fresh = True
            self._containers += 1
        if tag in HEADING_TAGS:
            self._heading = HEADING_TAGS[tag]
        if tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if self._skipped[tag]:
                while self._skipping:
                    closed = self._skipping.pop()
                    self._skipped[closed] -= 1
                    if closed == tag:
                        break
            elif tag in ("body", "html"):
                self._skipping.clear()
                self._skipped.clear()
            if not self._skipping:
                self._end_aside()
            return
        if tag == "title" and self._title_parts is not None:
            self._end_title()
            return
        if tag in BLOCK_TAGS:
            self._flush()
        if tag in SECTIONING_TAGS and self._sectioning:
            self._sectioning -= 1
        if tag == "header" and self._headers:
            self._end_header(self._headers.pop())
        if tag in CONTAINER_TAGS and self._containers:
            self._containers -= 1
        if tag in HEADING_TAGS:
            self._heading = 0
        if tag == "pre" and self._pre:
            self._pre -= 1

    def _end_header(self, start: int) -> None:
        """A kept <header> without a heading was the site's banner after all (a whole page wrapped
        in <section>): its lines go, but for a notice."""
        lines = self.blocks[start:]
        if not any(block.kind == "heading" for block in lines):
            self.blocks[start:] = [block for block in lines if is_notice(block.text)]

    def _skip(self, tag: str) -> None:
        self._skipping.append(tag)
        self._skipped[tag] += 1

    def _aside_break(self, tag: str) -> None:
        """A block or <br> inside a dropped <aside> ends a line of its text."""
        if self._aside is not None and (tag in BLOCK_TAGS or tag == "br"):
            self._aside.append("\n")

    def _end_aside(self) -> None:
        """A dropped <aside> that starts with a notice (a boxed disclaimer) still gives the
        article's notice: its first line, and the line after it when that is a bare label, become
        notice-only blocks, which settled_notice keeps only when they are the notice."""
        if self._aside is None:
            return
        lines = [collapse(CONTROL_RE.sub("", ln)) for ln in "".join(self._aside).split("\n")]
        lines = [ln for ln in lines if ln]
        self._aside = None
        if lines and is_notice(lines[0]):
            self.blocks.append(Block("body", lines[0], notice_only=True))
            if len(lines) > 1 and is_notice_label(lines[0]):  # the aside's text is no content anyway
                self.blocks.append(Block("body", lines[1], join="line", notice_only=True))

    def _end_title(self) -> None:
        if self.title is None:
            self.title = collapse(CONTROL_RE.sub("", "".join(self._title_parts or [])))
        self._title_parts = None

    # -- text

    def handle_data(self, data: str) -> None:
        if self._skipping:
            # The aside's own text: no script or other dropped element is open inside it
            if self._aside is not None and sum(self._skipped[tag] for tag in SKIP_TAGS) == 1:
                self._aside.append(data)
            return
        data = data.replace(CELL, "")
        if self._title_parts is not None:
            self._title_parts.append(data)
        else:
            self._pieces.append(data)
            self._has_text = self._has_text or bool(data.strip())

    def _join(self) -> Join:
        if self._next_join == "line":
            self._next_join = "block"
            return "line"
        if self._containers and not self._fresh:
            return "line"
        self._fresh = False
        return "block"

    def _flush(self) -> None:
        """End the current line: it becomes a heading, body line(s) or, in <pre>, code lines."""
        if self._title_parts is not None:
            self._end_title()  # an unclosed <title> ends at the first block
        text = "".join(self._pieces)
        self._pieces = []
        self._has_text = False
        if not text.strip():
            self._next_join = "block"  # a <br> at the end of a block does not join the next one
            return
        if self._pre:
            code = [ln for ln in text.splitlines() if ln.strip()]
            for i, code_line in enumerate(code):
                join = self._join() if i == 0 else "line"
                self.blocks.append(Block("body", code_line.replace(CELL, " "), join=join, code=True))
            return
        cells = [collapse(cell) for cell in text.split(CELL)]
        line = " | ".join(cell for cell in cells if cell)
        kind: BlockKind = "heading" if self._heading else "body"
        self.blocks.append(Block(kind, line, level=self._heading, join=self._join(), listed=self._containers > 0))
        self._heading = 0

    def finish(self, broken: bool = False) -> None:
        """Feed nothing more; keep whatever the page held up to here. After a failed feed
        (`broken`) the parser is not closed: it would parse its whole input again, and the text
        before the failure would appear twice."""
        if not broken:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - a broken tail must not lose the text before it
                log.debug("html parser failed at close", exc_info=True)
        if self._title_parts is not None:
            self._end_title()
        self._flush()
        self._end_aside()


UNCLOSED_TAIL = re.compile(r"<[A-Za-z/!?]")


def read_html(source: str, doc: str = "html", keep_forms: bool = False) -> tuple[tuple[Block, ...], str | None]:
    """The page's lines and <title>; `doc` names the page in warnings. With `keep_forms`, the
    content of <form> elements is read as text too (their controls are still dropped)."""
    parser = HtmlText(keep_forms)
    try:
        parser.feed(without_unclosed_tail(source.lstrip("\ufeff")))
    except Exception:  # noqa: BLE001 - html.parser can fail on rare inputs; keep what it read
        log.warning("%s: the html parser stopped early; keeping the text before that", doc, exc_info=True)
        parser.finish(broken=True)
    else:
        parser.finish()
    return tuple(parser.blocks), parser.title


def without_unclosed_tail(source: str) -> str:
    """The source with its comments as a browser reads them (see browser_comments), up to a tag
    that no ">" closes: everything after it is inside that tag, which a browser drops. Python
    3.11's html.parser takes quadratic time over many such openings (CVE-2025-6069: 15,000 "<a "
    in a 45 KB page took 23 s); cut, they cost nothing."""
    source = browser_comments(source)
    unclosed = UNCLOSED_TAIL.search(source, source.rfind(">") + 1)
    return source if unclosed is None else source[: unclosed.start()]


RAW_TEXT_TAGS = ("script", "style", "textarea", "title")
"""Elements whose content is text to a browser, never markup: a "<!--" there opens nothing."""
COMMENT_END_RE = re.compile(r"--!?>")


def browser_comments(source: str) -> str:
    """The source with each comment in the form html.parser reads as a browser does, in one pass.

    A comment that nothing closes hides the rest of the page (html.parser showed it as text);
    "<!-->" and "<!--->" are empty comments and "--!>" ends one (html.parser showed them as text).
    A "<!--" inside a tag (an attribute's value) or a raw-text element (script, style, textarea,
    title) opens nothing.
    """
    out: list[str] = []
    done = at = 0
    while (at := source.find("<", at)) >= 0:
        if source.startswith("<!--", at):
            if source.startswith((">", "->"), at + 4):  # "<!-->", "<!--->"
                out.append(source[done:at] + "<!---->")
                at = done = at + (5 if source[at + 4] == ">" else 6)
                continue
            end = COMMENT_END_RE.search(source, at + 4)
            if end is None:
                out.append(source[done:at])
                return "".join(out)
            if end.group() == "--!>":
                out.append(source[done : end.start()] + "-->")
                done = end.end()
            at = end.end()
            continue
        nxt = source[at + 1 : at + 2]
        if not nxt.isalpha():
            at += 1  # "</...", "<!DOCTYPE", "<?...", or a "<" in text: nothing to read inside
            continue
        tag = TAG_RE.match(source, at)
        if tag is None:
            break  # a tag nothing closes: the rest is inside it
        at = tag.end()
        name = tag.group(2).lower()
        if name in RAW_TEXT_TAGS:
            close = re.compile(rf"</{name}[\s/>]", re.IGNORECASE).search(source, at)
            if close is None:
                break  # the rest is this element's text
            at = close.end()
    out.append(source[done:])
    return "".join(out)


def html_blocks(source: str) -> list[Block]:
    """The lines of an HTML fragment (used for HTML blocks inside Markdown)."""
    return list(read_html(source)[0])


def html_title(source: str) -> str:
    """The page's <title>, whitespace collapsed; "" when it has none."""
    try:
        return read_html(source)[1] or ""
    except Exception:  # noqa: BLE001 - a title is optional
        log.warning("html title could not be read", exc_info=True)
        return ""


FORM_RE = re.compile(r"<form[\s/>]", re.IGNORECASE)


def has_body(blocks: list[Block]) -> bool:
    """Whether any line is body text (a notice-only block is none)."""
    return any(block.kind == "body" and not block.notice_only for block in blocks)


def parse_html(source: str) -> tuple[str, list[Line]]:
    """Plain text and classified lines of an HTML page (see the module docstring)."""
    text, lines, _ = parse_html_page(source)
    return text, lines


def parse_html_page(source: str, doc: str = "html") -> tuple[str, list[Line], str]:
    """Plain text, classified lines and <title> ("" when none) of an HTML page, in one parse;
    `doc` names it in warnings."""
    try:
        blocks, title = read_html(source, doc)
        kept = cleaned(list(blocks))
        if not has_body(kept) and FORM_RE.search(source):
            # The page is one <form> (ASP.NET WebForms wraps the whole body in <form id="form1">):
            # its content is the article. A page with text outside its forms keeps them dropped.
            blocks, title = read_html(source, doc, keep_forms=True)
            kept = cleaned(list(blocks))
        text, lines = assemble(kept, title_h1_index(kept, title, equal_only=False))
        return text, lines, title or ""
    except Exception:  # noqa: BLE001 - any input must give an article or no text, never a crash
        log.warning("%s: could not be parsed; treating it as empty", doc, exc_info=True)
        return "", [], ""
