"""Markdown and HTML articles: plain text, line kinds, titles, notices, and search over a mixed corpus."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.articles import ArticleError, line_spans, parse_article, read_article
from qa.evaluation import evaluate, read_questions
from qa.markup import html_title, parse_html, parse_markdown
from qa.models import Article, Line
from qa.sections import split_sections

from conftest import DATA, SEED_CORPUS, build_index, write_corpus

FORMATS = DATA / "formats"
FORMATS_QUESTIONS = DATA / "formats.jsonl"
CHECKER = Path(__file__).resolve().parents[2] / "shared" / "tools" / "check_api.py"
SEED_TXT = "003_5980fc8c05fdc981.txt"
EXAMPLES = sorted(p.name for p in FORMATS.iterdir())
KINDS = {"title", "notice", "heading", "body", "nav"}

# Markup that the plain text must never contain (the notice line is quoted as written, so exempt).
MARKUP_RES = [
    re.compile(r"<[A-Za-z/!?]"),  # tags, comments, doctype
    re.compile(r"&(?:[a-z]+|#\d+|#x[0-9a-f]+);", re.IGNORECASE),  # undecoded entities
    re.compile(r"\*\*|__|`"),  # strong emphasis, code spans and fences
    re.compile(r"\]\(|\]\[|!\["),  # links and images
    re.compile(r"^\s*(?:#{1,6}\s|>|={3,}\s*$|-{3,}\s*$|\|?\s*:?-{3,})", re.MULTILINE),  # headings, quotes, rules
    re.compile(r"^\[[^\]]+\]:", re.MULTILINE),  # reference definitions
]


def kinds_and_texts(text: str, lines: list[Line]) -> list[tuple[str, str]]:
    return [(ln.kind, text[ln.start : ln.end]) for ln in lines]


def of_kind(text: str, lines: list[Line], kind: str) -> list[str]:
    return [t for k, t in kinds_and_texts(text, lines) if k == kind]


def assert_lines_cover_text(text: str, lines: list[Line]) -> None:
    """Every Line is exactly one non-blank line of text, and every non-blank line has a Line."""
    assert all(ln.kind in KINDS for ln in lines)
    spans = [(ln.start, ln.end) for ln in lines]
    assert spans == sorted(spans)
    assert spans == [(s, e) for s, e in line_spans(text) if text[s:e].strip()]


def markup_left(text: str, lines: list[Line]) -> list[str]:
    """Lines (other than the notice) that still hold markup syntax."""
    return [t for k, t in kinds_and_texts(text, lines) if k != "notice" and any(r.search(t) for r in MARKUP_RES)]


# ---------------------------------------------------------------- Markdown


def test_markdown_atx_and_setext_headings_make_sections():
    text, lines = parse_markdown(
        "Intro text.\n\n## Second level ##\n\nBody two.\n\nThird level\n-----------\n\nBody three.\n\n"
        "Another\n=======\n\nBody four.\n\n###### Deep\nBody five.\n"
    )
    assert of_kind(text, lines, "heading") == ["Second level", "Third level", "Another", "Deep"]
    assert of_kind(text, lines, "body") == ["Intro text.", "Body two.", "Body three.", "Body four.", "Body five."]
    assert_lines_cover_text(text, lines)


def test_markdown_front_matter_title_is_the_title_line_and_the_front_matter_is_dropped():
    source = '---\ntitle: "Pruning Roses: A Guide"\nauthor: Ann\ntags: [a, b]\n---\n\nRoses need pruning.\n\n## When\n\nIn March.\n'
    text, lines = parse_markdown(source)
    assert kinds_and_texts(text, lines)[0] == ("title", "Pruning Roses: A Guide")
    assert "author" not in text and "tags" not in text and "---" not in text
    article = parse_article(source.encode(), "roses.md", "md")
    assert article.title == "Pruning Roses: A Guide"
    assert [s.heading for s in split_sections(article)] == ["", "When"]


def test_markdown_leading_h1_equal_to_the_front_matter_title_is_the_one_title_line():
    text, lines = parse_markdown("---\ntitle: Pruning Roses\n---\n# Pruning  *Roses*\n\nBody.\n\n# Tools\n\nShears.\n")
    assert of_kind(text, lines, "title") == ["Pruning Roses"]
    assert of_kind(text, lines, "heading") == ["Tools"]


def test_markdown_h1_different_from_the_front_matter_title_stays_a_section():
    text, lines = parse_markdown("---\ntitle: Roses\n---\n# Pruning\n\nBody.\n")
    assert of_kind(text, lines, "title") == ["Roses"]
    assert of_kind(text, lines, "heading") == ["Pruning"]


def test_markdown_first_h1_is_the_title_only_before_any_body_text():
    text, lines = parse_markdown("> ⚠️ Please note: Check facts.\n\n# Bees\n\nIntro.\n\n# Hives\n\nBoxes.\n")
    assert of_kind(text, lines, "title") == ["Bees"]
    assert of_kind(text, lines, "heading") == ["Hives"]
    text, lines = parse_markdown("Intro first.\n\n# Bees\n\nBody.\n")
    assert of_kind(text, lines, "title") == []
    assert of_kind(text, lines, "heading") == ["Bees"]


def test_markdown_invalid_yaml_front_matter_still_gives_its_title():
    text, lines = parse_markdown("---\ntitle: Bees: a primer\nbad: [\n---\nBody text.\n")
    assert of_kind(text, lines, "title") == ["Bees: a primer"]
    assert "bad" not in text


@pytest.mark.parametrize("written", ["2024-01-01", "true", "1.50", "1949"])
def test_markdown_front_matter_title_that_yaml_reads_as_a_date_or_number_stays_as_written(written: str):
    text, lines = parse_markdown(f"---\ntitle: {written}\n---\nBody text.\n")
    assert of_kind(text, lines, "title") == [written]


def test_markdown_without_closed_front_matter_keeps_its_text():
    text, lines = parse_markdown("---\nJust a rule above this paragraph.\n")
    assert of_kind(text, lines, "body") == ["Just a rule above this paragraph."]


def test_markdown_front_matter_never_closed_keeps_the_text_up_to_a_later_rule():
    """The "---" after the prose is a thematic break, not the end of front matter: nothing before it is lost."""
    source = ("---\ntitle: Harbour Guide\n\n# Harbour Guide\n\nThe harbour opens at six.\n\n## Mooring\n\n"
              "Boats moor on the east pontoon.\n\n---\n\n## Fuel\n\nDiesel is sold until five.\n")
    text, lines = parse_markdown(source)
    assert of_kind(text, lines, "heading") == ["Harbour Guide", "Mooring", "Fuel"]
    assert "Boats moor on the east pontoon." in of_kind(text, lines, "body")
    # Prose that reads like keys ("Note: ...") or a list is kept too.
    text, _ = parse_markdown("---\ntitle: Guide\n\nNote: open at six.\n- Fuel: diesel.\n\n---\n\n## Fuel\n\nDiesel.\n")
    assert "Note: open at six." in text and "- Fuel: diesel." in text


@pytest.mark.parametrize("line", ["date created: 2021-01-01", "og.image: x.png", "étiquettes: [a]", "-", "  wrapped"])
def test_markdown_front_matter_that_is_not_yaml_is_still_front_matter_whatever_its_keys(line: str):
    text, lines = parse_markdown(f"---\ntitle: Harbour: A Guide\n{line}\n---\n\nThe harbour opens at six.\n")
    assert of_kind(text, lines, "title") == ["Harbour: A Guide"]
    assert text == "Harbour: A Guide\n\nThe harbour opens at six."


@pytest.mark.parametrize(
    ("line", "notice"),
    [
        ("> ⚠️ Please note: AI tools were used. Verify.", "⚠️ Please note: AI tools were used. Verify."),
        ("📝 Note for Readers: Verify key facts.", "📝 Note for Readers: Verify key facts."),
        # Quoted as written after the leading markers, as a raw-file checker reads it.
        ("**📝 Note for Readers:** Verify key facts.", "📝 Note for Readers:** Verify key facts."),
        ("_⚠️ Please note: AI tools were used._", "⚠️ Please note: AI tools were used._"),
    ],
)
def test_markdown_notice_line_is_recognised_after_leading_markers(line: str, notice: str):
    text, lines = parse_markdown(f"# Title\n\n{line}\n\nBody text here.\n\n## Part\n\nMore.\n")
    assert of_kind(text, lines, "notice") == [notice]
    article = parse_article(f"# Title\n\n{line}\n\nBody.\n".encode(), "a.md", "md")
    assert article.notice == notice


def test_markdown_notice_is_only_looked_for_near_the_top():
    body = "".join(f"Paragraph {n}.\n\n" for n in range(6))
    text, lines = parse_markdown(body + "> ⚠️ Please note: late.\n")
    assert of_kind(text, lines, "notice") == []


def test_markdown_inline_markup_is_removed():
    source = (
        "Some *em*, _em_, **strong**, ~~gone~~ and `code` text with a [link](http://x.org \"t\") and "
        "an ![image](i.png) and <https://auto.link> and <b>inline</b> <!-- c --> html, "
        "\\*escaped\\* &amp; &copy; a [ref link][r].\n\n[r]: http://example.com/ref\n"
    )
    text, lines = parse_markdown(source)
    assert of_kind(text, lines, "body") == [
        "Some em, em, strong, gone and code text with a link and an and https://auto.link and inline html, "
        "*escaped* & © a ref link."
    ]
    assert markup_left(text, lines) == []


def test_markdown_soft_breaks_join_and_hard_breaks_split_a_paragraph():
    text, lines = parse_markdown("One line\ncontinues here.  \nHard break.\n")
    assert text == "One line continues here.\nHard break."
    assert of_kind(text, lines, "body") == ["One line continues here.", "Hard break."]


def test_markdown_lists_tables_code_and_rules():
    source = (
        "Lead-in:\n\n* first item\n* second *item*\n  1. nested\n\n---\n\n"
        "| Tool | Use |\n|:-----|----:|\n| Fork | turning |\n\n"
        "```python\n# a comment in code\nx = 1\n```\n\n    indented code\n"
    )
    text, lines = parse_markdown(source)
    assert of_kind(text, lines, "body") == [
        "Lead-in:", "- first item", "- second item", "1. nested",
        "Tool | Use", "Fork | turning",
        "# a comment in code", "x = 1", "indented code",
    ]
    assert "Lead-in:\n\n- first item\n- second item\n1. nested\n\nTool | Use\nFork | turning\n\n" in text


@pytest.mark.parametrize("nested", [
    "".join("  " * i + f"- item {i}\n" for i in range(60)),  # an outline sixty levels deep
    "- " * 300 + "item chained\n",
    ">" * 300 + " a quote inside three hundred\n",
], ids=["indented-list", "chained-markers", "quote"])
def test_markdown_nested_past_what_the_parser_reads_keeps_all_its_text(nested: str, caplog):
    source = f"# Outline\n\nIntro.\n\n{nested}\n## After\n\nThe text after the nesting stays.\n"
    text, lines = parse_markdown(source, "outline.md")
    assert of_kind(text, lines, "heading") == ["After"]
    assert text.endswith("After\n\nThe text after the nesting stays.")
    last = nested.strip().split("\n")[-1].lstrip(" ->")
    assert last in text
    assert "outline.md: lists or quotes nested deeper" in caplog.text


def test_markdown_nested_within_what_the_parser_reads_keeps_its_structure(caplog):
    source = "".join("  " * i + f"- item {i}\n" for i in range(12)) + "\n## After\n\nText after.\n"
    text, lines = parse_markdown(source, "outline.md")
    assert of_kind(text, lines, "body")[:12] == [f"- item {i}" for i in range(12)] and "Text after." in text
    assert "nested deeper" not in caplog.text


def test_markdown_see_also_lines_and_related_headings_are_navigation():
    source = (
        "# Bees\n\nIntro.\n\n## Hives\n\nBoxes.\n\nSee also: [Wasps](w.md)\n\n"
        "- Read more: [Ants](a.md)\n\n## Related articles\n\n- [Moths](m.md)\n- [Flies](f.md)\n"
    )
    text, lines = parse_markdown(source)
    assert of_kind(text, lines, "nav") == ["See also: Wasps", "- Read more: Ants", "Related articles", "- Moths", "- Flies"]
    article = parse_article(source.encode(), "bees.md", "md")
    sections = split_sections(article)
    assert [s.heading for s in sections] == ["", "Hives"]
    assert all("Wasps" not in s.text and "Moths" not in s.text for s in sections)


@pytest.mark.parametrize("source, expected", [
    ('Visit us <script>track("campaign-id")</script> for tours at noon.', "Visit us for tours at noon."),
    ("Tickets cost <span hidden>internal: raise to 20</span> ten pounds.", "Tickets cost ten pounds."),
    ("A <span hidden><span>x</span> y</span> z.", "A z."),  # nested: the outer end tag ends the drop
    ('Keep <b>bold</b> and <span class="hidden">shown</span>, <img src="a.png"> too.', "Keep bold and shown, too."),
    ("a <span class= hidden>shown</span> b", "a shown b"),  # an unquoted value, not the attribute
    # A tag named in prose, which nothing closes, is only a tag: the sentence stays.
    ("The <nav> element marks navigation; wrap inputs in a <form> element.",
     "The element marks navigation; wrap inputs in a element."),
    ("Put scripts in a <script> tag at the end of the body.", "Put scripts in a tag at the end of the body."),
])
def test_markdown_inline_html_the_html_rules_drop_is_dropped_with_its_text(source: str, expected: str):
    text, lines = parse_markdown(source)
    assert text == expected
    assert_lines_cover_text(text, lines)


def test_markdown_html_blocks_are_reduced_to_their_text():
    text, lines = parse_markdown('<div align="center">\n<h2>Boxed</h2>\n<p>Inside &amp; <em>out</em>.</p>\n</div>\n\nAfter.\n')
    assert kinds_and_texts(text, lines) == [("heading", "Boxed"), ("body", "Inside & out."), ("body", "After.")]


# ---------------------------------------------------------------- HTML


def test_html_headings_title_and_sections():
    source = (
        "<html><head><title>Bee  Keeping &amp; Hives</title></head><body>"
        "<h1>Bee Keeping &amp; Hives</h1><p>Intro.</p><h2>Boxes</h2><p>Wood.</p>"
        "<h3>Frames</h3><p>Wax.</p><h6>Tiny</h6><p>Last.</p></body></html>"
    )
    text, lines = parse_html(source)
    assert of_kind(text, lines, "title") == ["Bee Keeping & Hives"]
    assert of_kind(text, lines, "heading") == ["Boxes", "Frames", "Tiny"]
    assert html_title(source) == "Bee Keeping & Hives"
    article = parse_article(source.encode(), "bees.html", "html")
    assert [s.heading for s in split_sections(article)] == ["", "Boxes", "Frames", "Tiny"]


def test_html_h1_after_body_text_is_the_title_only_when_it_equals_the_title_element():
    text, lines = parse_html("<title>Bees</title><p>Crumbs.</p><h1>Bees</h1><p>Body.</p>")
    assert of_kind(text, lines, "title") == ["Bees"]
    text, lines = parse_html("<title>Bees | Site</title><p>Crumbs.</p><h1>Bees</h1><p>Body.</p>")
    assert of_kind(text, lines, "title") == [] and of_kind(text, lines, "heading") == ["Bees"]
    article = parse_article("<title>Bees | Site</title><p>Crumbs.</p><h2>Hives</h2><p>Body.</p>".encode(), "b.html", "html")
    assert article.title == "Bees | Site"
    assert html_title("<p>No title here.</p>") == ""


def test_html_drops_page_furniture_and_code():
    source = (
        "<head><style>p { color: red }</style><script>var s = '<p>not text</p>';</script></head><body>"
        "<header><div>Site name</div></header><nav><ul><li>Home</li></ul></nav>"
        "<aside>Ad</aside><noscript>Enable JS</noscript><template><p>tpl</p></template>"
        "<form><label>Search</label><input name=q><button>Go</button></form>"
        "<svg><title>icon</title><text>svg text</text></svg><div hidden>Cookie banner</div>"
        "<p>Real text.</p><!-- a comment --><footer>Copyright</footer></body>"
    )
    text, lines = parse_html(source)
    assert text == "Real text."


INLINE_DROPPED = ["<script>track()</script>", "<style>p { color: red }</style>", "<noscript>Enable JS</noscript>",
                  "<svg><text>icon</text></svg>", "<button>Share</button>", "<span hidden>Cookie</span>",
                  "<template><p>tpl</p></template>", "<iframe>frame</iframe>", "<select><option>x</option></select>",
                  "<textarea>Type here</textarea>"]


@pytest.mark.parametrize("dropped", INLINE_DROPPED)
def test_html_inline_dropped_element_leaves_its_sentence_whole(dropped: str):
    text, lines = parse_html(f"<h1>T</h1><p>The treaty was signed {dropped} in 1949 by twelve nations.</p>")
    assert text == "T\n\nThe treaty was signed in 1949 by twelve nations."
    assert_lines_cover_text(text, lines)


def test_html_dropped_elements_end_a_line_only_when_they_are_blocks():
    source = ("<h2>Signed <script>x()</script> treaty</h2>"
              "<div>Top <nav>Menu</nav> tail <button>Go</button> end.</div><p>A <div hidden>Ad</div> B.</p>")
    text, lines = parse_html(source)
    assert text == "Signed treaty\n\nTop\n\ntail end.\n\nA\n\nB."
    assert of_kind(text, lines, "heading") == ["Signed treaty"]


def test_html_tags_no_bracket_closes_are_dropped_with_everything_after_them():
    text, lines = parse_html("<h1>T</h1><p>Kept text.</p><p>Also kept <a <a href='x")
    assert text == "T\n\nKept text.\n\nAlso kept"
    assert_lines_cover_text(text, lines)
    assert parse_html("<p>a < b and c<d</p>")[0] == "a < b and c"  # "<d</p" never closes
    assert parse_html("<p>5 < 6</p>")[0] == "5 < 6"


def test_html_a_comment_no_closing_marker_ends_hides_everything_after_it():
    source = ("<h1>Ferry</h1><!-- a note --><p>The first ferry leaves at seven.</p>\n"
              "<!-- draft: <h2>Night Ferry</h2> <p>A night ferry runs on Fridays.</p>\n</body>")
    text, lines = parse_html(source)
    assert text == "Ferry\n\nThe first ferry leaves at seven."
    assert_lines_cover_text(text, lines)
    assert parse_html("<p>a</p><!-- x --><p>b</p><!-- y --><p>c</p>")[0] == "a\n\nb\n\nc"


@pytest.mark.parametrize("middle", [
    "<!-->", "<!--->", "<!-- note --!>",  # comments a browser ends at once, or with "--!>"
    "<script>var s = '<!--';</script>", "<style>/* <!-- */</style>",  # raw text: "<!--" opens nothing
    "<p title='<!--'></p>", "<!--[if IE]><p>old</p><![endif]-->",
])
def test_html_what_opens_no_comment_in_a_browser_hides_nothing(middle: str):
    text, _ = parse_html(f"<h1>Ferry</h1>{middle}<p>The first ferry leaves at seven.</p>")
    assert text == "Ferry\n\nThe first ferry leaves at seven."
    assert parse_html("<title>A <!-- B</title><h1>Ferry</h1><p>Seven.</p>")[0] == "Ferry\n\nSeven."


def test_html_the_parser_rejects_keeps_its_text_before_that_once_and_names_the_file(caplog):
    article = parse_article(b"<h1>T</h1><p>Text here.</p><![foo[ bar ]]> <p>after</p>", "bad/page.html", "html")
    assert article.text == "T\n\nText here."  # closing the parser used to read it all again: twice
    assert "bad/page.html: the html parser stopped early" in caplog.text


# Pages a review built to stall the parser: each took from 23 s to over a minute, growing with the
# square of its size (Python 3.11's html.parser on unclosed tags; a join per cell; a list lookup
# per end tag inside dropped markup). Now each parses as fast as any page of its size.
@pytest.mark.parametrize("source, expected", [
    ("<h1>T</h1><p>Some real text.</p><p>x " + "<a " * 40_000, "T\n\nSome real text.\n\nx"),
    ("<h1>T</h1><table><tr>" + "<td>x" * 100_000, "T\n\n" + " | ".join(["x"] * 100_000)),
    ("<h1>T</h1><p>v</p><nav>" + "<div>" * 60_000 + "</p>" * 60_000, "T\n\nv"),
    ("<h1>T</h1><p>v</p>" + "<!-- x --!>" * 50_000 + "<!--" * 50_000, "T\n\nv"),  # comments read in one pass
])
def test_html_built_to_stall_the_parser_is_read_in_linear_time(source: str, expected: str):
    text, lines = parse_html(source)
    assert text == expected
    assert_lines_cover_text(text, lines)


def test_html_form_control_text_is_dropped_also_outside_a_form():
    text, _ = parse_html("<p>Comment below.</p><textarea>Write your comment here</textarea><p>Thanks.</p>")
    assert text == "Comment below.\n\nThanks."


def test_html_blocks_end_lines_and_inline_elements_join():
    source = (
        "<div>Top <span>inline</span><b>joined</b><p>Para   one\n  wraps.</p>tail</div>"
        "<ul><li>One</li><li>Two <a href='#'>link</a></li></ul>"
        "<p>Line<br>break &lt;tag&gt; &nbsp;&eacute;&#233;&#x41;</p>"
        "<table><tr><th>Name</th><th>Size</th></tr><tr><td>Box</td><td>40 cm</td></tr></table>"
        "<blockquote>Quoted.</blockquote><pre>  keep   this\n    indented</pre><p>End<br></p><p>New.</p>"
    )
    text, lines = parse_html(source)
    assert text == (
        "Top inlinejoined\n\nPara one wraps.\n\ntail\n\nOne\nTwo link\n\nLine\nbreak <tag> ééA\n\n"
        "Name | Size\nBox | 40 cm\n\nQuoted.\n\n  keep   this\n    indented\n\nEnd\n\nNew."
    )
    assert_lines_cover_text(text, lines)


def test_html_notice_and_navigation():
    source = (
        "<title>Bees</title><header><nav>Menu</nav></header><h1>Bees</h1>"
        "<p><em>📝 Note for Readers:</em> Verify   key facts.</p><p>Intro.</p><h2>Hives</h2><p>Boxes.</p>"
        "<p>See also: <a href='/w'>Wasps</a></p>"
    )
    text, lines = parse_html(source)
    assert of_kind(text, lines, "notice") == ["📝 Note for Readers: Verify key facts."]
    assert of_kind(text, lines, "nav") == ["See also: Wasps"]
    article = parse_article(source.encode(), "bees.html", "html")
    assert article.notice == "📝 Note for Readers: Verify key facts."
    assert all("Wasps" not in s.text and "Note for Readers" not in s.text for s in split_sections(article))


@pytest.mark.parametrize(
    "source",
    [
        "<p>Unclosed <b>bold <i>italic<p>Next paragraph",
        "</div></p></li>Stray end tags</span>",
        "<h2>Heading without end<p>Body after it.",
        "<script>never closed <p>hidden",
        "<!-- comment never closed <p>text",
        "<<<>>><p <a href='x>Broken attr</p>",
        "<![CDATA[ raw ]]><?php echo 1 ?><!DOCTYPE><p>After odd declarations.</p>",
        "<nav>Menu<p>Unclosed nav swallows</p></body><p>Recovered after body end.</p>",
        "<table><td>cell without row<td>second</table><li>orphan item",
        "&#xDFFF; &#0; &#99999999; &unknown; \x00\x01\x0b text",
        "",
    ],
)
def test_malformed_html_never_raises(source: str):
    text, lines = parse_html(source)
    assert_lines_cover_text(text, lines)


# ---------------------------------------------------------------- any input


MD_TOKENS = ["# ", "## ", "\n", "\n\n", "===", "---", "> ", "* ", "- ", "1. ", "**", "_", "`", "```", "[a](b)",
             "![i](j)", "<b>", "</b>", "<!--", "|", "|---|", "&amp;", "\\", "See also: x", "⚠️ Please note: n",
             "text", " ", "\t", "title: t", "    ", "<div>", "[r]: http://x"]
HTML_TOKENS = ["<p>", "</p>", "<div>", "</div>", "<h1>", "<h2>", "</h2>", "<br>", "<script>", "</script>", "<style>",
               "<nav>", "</nav>", "<pre>", "</pre>", "<table>", "<tr>", "<td>", "<li>", "<title>", "</title>",
               "<!--", "-->", "<![CDATA[", "<?", "<!DOCTYPE html>", "&amp;", "&#", "&", "<", ">", "'", '"', "=",
               "<a href='", "text", " ", "\n", "See also: x", "📝 Note for Readers: n", "<svg>", "<b hidden>", "\x00"]


def token_soup(tokens: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=200), st.lists(st.sampled_from(tokens), max_size=60).map("".join))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_soup(MD_TOKENS))
def test_any_markdown_gives_consistent_lines(source: str):
    text, lines = parse_markdown(source)
    assert_lines_cover_text(text, lines)
    _article_or_no_text(source, "md")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_soup(HTML_TOKENS))
def test_any_html_gives_consistent_lines(source: str):
    text, lines = parse_html(source)
    assert_lines_cover_text(text, lines)
    html_title(source)
    _article_or_no_text(source, "html")


def _article_or_no_text(source: str, fmt: str) -> None:
    try:
        article = parse_article(source.encode("utf-8", "surrogatepass"), f"x.{fmt}", fmt)
    except ArticleError:
        return
    for section in split_sections(article):
        assert article.text[section.start : section.end].strip()


# ---------------------------------------------------------------- the example articles


@pytest.fixture(scope="module")
def examples() -> dict[str, Article]:
    return {doc: read_article(FORMATS / doc, doc) for doc in EXAMPLES}


EXPECTED = {
    "home-composting.md": (
        "Home Composting: Turning Kitchen Scraps into Garden Gold",
        "⚠️ Please note: AI tools were used in crafting this content. For important matters, verify through trusted means.",
        ["", "Choosing a Bin and a Site", "Balancing Greens and Browns", "Turning and Moisture",
         "Troubleshooting Common Problems", "Using the Finished Compost"],
    ),
    "bicycle-maintenance.md": (
        "Bicycle Maintenance for Everyday Riders",
        "📝 Note for Readers:** This piece includes AI-assisted content. It's always a good idea to verify key facts "
        "from trusted sources.",
        ["", "Checking Tyre Pressure", "Cleaning and Lubricating the Chain", "Adjusting the Brakes",
         "Fixing a Flat Tyre", "Seasonal Service Schedule"],
    ),
    "city-water-supply.html": (
        "How a City Gets Its Drinking Water",
        "⚠️ Please note: AI tools were used in crafting this content. For important matters, verify through trusted means.",
        ["", "Sources: Rivers, Reservoirs and Aquifers", "Treatment at the Waterworks", "Storage and Distribution",
         "Leaks and Water Loss", "Testing Water Quality"],
    ),
    "sourdough-baking.html": (
        "Baking Sourdough Bread at Home",
        "📝 Note for Readers: This piece includes AI-assisted content. It's always a good idea to verify key facts "
        "from trusted sources.",
        ["", "Making a Starter", "Mixing and Bulk Fermentation", "Shaping and Proofing", "Baking in a Dutch Oven",
         "Troubleshooting a Dense Loaf"],
    ),
}


@pytest.mark.parametrize("doc", EXAMPLES)
def test_example_article_title_notice_and_sections(examples, doc: str):
    article = examples[doc]
    title, notice, headings = EXPECTED[doc]
    assert (article.title, article.notice) == (title, notice)
    sections = split_sections(article)
    assert [s.heading for s in sections] == headings
    assert_lines_cover_text(article.text, list(article.lines))
    navs = [article.text[ln.start : ln.end] for ln in article.lines if ln.kind == "nav"]
    assert len(navs) == 1 and navs[0].startswith("See also: ")
    for section in sections:
        assert notice not in section.text and "Note for Readers" not in section.text
        assert "See also" not in section.text
        assert article.text[section.start : section.end].startswith(section.text[:40])
        for span in section.sentences:
            assert section.start <= span.start < span.end <= section.end
    assert markup_left(article.text, list(article.lines)) == []


def test_messy_page_keeps_only_the_article(examples):
    text = examples["sourdough-baking.html"].text
    for furniture in ("Recipes", "About us", "Search", "cookies", "Subscribe", "Buy our flour", "Enable JavaScript",
                      "dataLayer", "All rights reserved", "Terms", "The Crumb Journal", "fake"):
        assert furniture not in text
    assert "at about 4°C, deepens the flavour" in text
    assert "discard half and feed it with fresh flour and water.\nThe starter is ready" in text


@pytest.mark.skipif(not CHECKER.is_file(), reason="the shared black-box checker is not beside this checkout")
def test_notices_equal_what_the_black_box_checker_derives(examples):
    spec = importlib.util.spec_from_file_location("check_api", CHECKER)
    check_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_api)
    corpus = check_api.Corpus(FORMATS)
    assert {doc: corpus.notice(doc) for doc in EXAMPLES} == {doc: examples[doc].notice for doc in EXAMPLES}


# ---------------------------------------------------------------- a real index of a mixed corpus


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory):
    """A real index of the example articles and one seed .txt, and a searcher over it."""
    import qa

    root = tmp_path_factory.mktemp("mixed")
    corpus = root / "corpus"
    shutil.copytree(FORMATS, corpus)
    write_corpus(corpus, {SEED_TXT: (SEED_CORPUS / SEED_TXT).read_bytes()})
    searcher = qa.load(build_index(corpus, root / "index"))
    yield corpus, searcher
    searcher.close()


@pytest.mark.parametrize(
    ("question", "doc", "section"),
    [
        ("How often should the compost heap be turned?", "home-composting.md", "Turning and Moisture"),
        ("What pressure should road bike tyres have?", "bicycle-maintenance.md", "Checking Tyre Pressure"),
        ("How is drinking water disinfected at the treatment plant?", "city-water-supply.html",
         "Treatment at the Waterworks"),
        ("How long should sourdough be baked with the lid on?", "sourdough-baking.html", "Baking in a Dutch Oven"),
        ("How does NATO respond to an attack on a member?", SEED_TXT, "NATO’s Collective Defense Mechanism"),
    ],
)
def test_mixed_corpus_cites_the_right_section_with_exact_spans(mixed, question: str, doc: str, section: str):
    corpus, searcher = mixed
    result = searcher.ask(question, k=5)
    top = result.passages[0]
    assert (top.citation.doc, top.citation.section) == (doc, section)
    for passage in result.passages:
        article = read_article(corpus / passage.citation.doc, passage.citation.doc)
        plain = article.text  # the plain text as our parser defines it
        assert plain[passage.answer.start : passage.answer.end] == passage.answer.text
        assert passage.citation.start <= passage.answer.start < passage.answer.end <= passage.citation.end
        assert passage.citation.title == article.title
    cited = list(dict.fromkeys(p.citation.doc for p in result.passages))
    expected = [(d, read_article(corpus / d, d).notice) for d in cited]
    assert [(n.doc, n.text) for n in result.notices] == [(d, n) for d, n in expected if n]


def test_notice_and_navigation_are_never_searchable(mixed):
    _, searcher = mixed
    result = searcher.ask("Please note AI tools were used in crafting this content, see also", k=20)
    for passage in result.passages:
        assert "Please note" not in passage.text and "See also" not in passage.text
        assert "Please note" not in passage.answer.text


def test_evaluation_over_the_example_articles(mixed):
    _, searcher = mixed
    questions = read_questions(FORMATS_QUESTIONS)
    assert len([q for q in questions if q.in_scope]) >= 15 and len([q for q in questions if not q.in_scope]) == 3
    assert {q.kind for q in questions if q.in_scope} == {"lexical", "keyword", "paraphrase", "typo"}
    metrics = evaluate(questions, lambda qs: searcher.ask_many(qs, k=10)).metrics()
    assert metrics["recall@5"] >= 0.8, metrics


def test_question_file_labels_match_the_example_articles(examples):
    """Every gold section and answer sentence exists exactly as the service splits the articles."""
    sentences = {
        (doc, s.heading): [a.text[sp.start : sp.end] for sp in s.sentences]
        for doc, a in examples.items()
        for s in split_sections(a)
    }
    for q in read_questions(FORMATS_QUESTIONS):
        for gold in q.gold:
            assert gold in sentences, q.id
        if q.answer_sentence is not None:
            assert any(q.answer_sentence in sentences[g] for g in q.gold), q.id
