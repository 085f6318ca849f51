"""Fuzzing: schemathesis against the real server's OpenAPI schema, and hypothesis properties of sectioning."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from qa.aliases import other_names
from qa.articles import ArticleError, parse_article
from qa.models import Article, Section
from qa.sections import split_sections, split_sentences

from conftest import Server

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ["txt", "md", "html"] if (ROOT / "qa" / "markup.py").exists() else ["txt"]
EXAMPLES_PER_OPERATION = 50
"""Per operation and mode (valid, invalid): about 400 requests, well under a minute."""
TOKEN = "fuzz-admin-token"
CHECKS = [status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


# ---------------------------------------------------------------- the HTTP API against its schema


@pytest.fixture(scope="module")
def fuzz_server(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server with admin routes on, so they are fuzzed too (without the token: 401/403)."""
    srv = Server(seed_index, env={"QA_ADMIN_TOKEN": TOKEN}, log=tmp_path_factory.mktemp("fuzz") / "serve.log")
    yield srv
    srv.stop()


def test_every_route_answers_within_its_schema_and_never_5xx(fuzz_server: Server,
                                                            request: pytest.FixtureRequest) -> None:
    """Valid and invalid requests for every operation in /openapi.json: no 5xx, every response as documented.

    (schemathesis' own pytest plugin is not used: its lazy loader breaks under pytest 9.)
    """
    api = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    cases: Counter[str] = Counter()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, fuzz_server.url, cases)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\nschemathesis: {sum(cases.values())} cases over {len(operations)} operations ("
                            + ", ".join(f"{op}: {n}" for op, n in sorted(cases.items())) + ")")
    assert {op.label for op in operations} >= {"GET /ask", "POST /ask", "GET /healthz", "POST /admin/reload"}
    assert all(cases[op.label] > 0 for op in operations)


def _fuzz(operation, mode: GenerationMode, base_url: str, cases: Counter[str]) -> None:
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        cases[operation.label] += 1
        response = case.call(base_url=base_url, timeout=30)
        assert response.status_code < 500, (f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                            f"{response.text[:300]}")
        checks = CHECKS + [positive_data_acceptance] if mode is GenerationMode.POSITIVE else CHECKS
        case.validate_response(response, checks=checks)

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # an operation without inputs has no invalid request


# ---------------------------------------------------------------- sectioning over arbitrary text

WORDS = ["NATO", "the", "alliance", "Defense", "e.g.", "U.S.", "Mr.", "cooperation", "1.", "-", "•", "(a)",
         "Note", "See", "also", "…", "3.5", "J.", "\"Quoted.\"", "(aside)."]
SPECIAL_LINES = ["", " ", "\t", "⚠️ Please note: AI tools were used.", "📝 Note for Readers: verify this.",
                 "See also  Other Article", "Related articles: Foo", "- item one", "1. first", "Lead-in:",
                 "\ufeff", "\u00a0", "\u2028", "\x0c", "\x85", "...", "?!", "a.", "A. B.", "\r", "\r\n",
                 "." * 200]
LINE = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.sampled_from(list("aA. \t!?…\"')(-•1:eg\u00a0\u2028\x85\ufeff")), max_size=40),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(lambda w: " ".join(w).title()),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=10).map(lambda w: " ".join(w).capitalize() + "."),
    st.sampled_from(SPECIAL_LINES),
)
ARTICLE_TEXT = st.lists(LINE, max_size=25).map("\n".join)
MARKUP_TEXT = st.lists(st.sampled_from(
    list("#*-_[]()<>!`\n abcA=|~&;/:.\"'\t\r") + ["<h1>", "</h1>", "<p>", "<script>", "<!--", "-->", "&amp;",
    "&#0;", "&#xD800;", "---\n", "```", "<br>", "<title>", "<pre>", "\ufeff", "<h2 hidden>", "<td>", "&#99999999;"]
), max_size=80).map("".join)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(raw=st.binary(max_size=400), fmt=st.sampled_from(FORMATS))
def test_any_bytes_parse_or_raise_article_error(raw: bytes, fmt: str) -> None:
    try:
        article = parse_article(raw, "fuzz", fmt)
    except ArticleError as exc:
        assert str(exc).startswith("fuzz: ")
        return
    assert_sections_are_sound(article, split_sections(article))


@PROPERTY
@given(text=st.one_of(st.text(max_size=400), MARKUP_TEXT, ARTICLE_TEXT), fmt=st.sampled_from(FORMATS))
def test_any_text_parses_or_raises_article_error(text: str, fmt: str) -> None:
    try:
        article = parse_article(text.encode("utf-8", "surrogatepass"), "fuzz", fmt)
    except ArticleError:
        return
    assert_sections_are_sound(article, split_sections(article))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ARTICLE_TEXT)
def test_txt_sections_slice_back_and_lose_only_notices_and_navigation(text: str) -> None:
    try:
        article = parse_article(text.encode("utf-8", "surrogatepass"), "fuzz.txt", "txt")
    except ArticleError:
        return
    sections = split_sections(article)
    plain = article.text
    assert plain == text.replace("\r\n", "\n").replace("\r", "\n")
    assert_sections_are_sound(article, sections)
    for section in sections:
        span = plain[section.start : section.end]
        body = [ln for ln in article.lines if ln.kind == "body" and ln.start < section.end and section.start < ln.end]
        cut = [ln for ln in article.lines if ln.kind in ("nav", "notice") and section.start < ln.start < section.end]
        assert span.startswith(section.text[: min(40, len(plain[body[0].start : body[0].end].strip()))])
        # The text is the span less its notice and navigation lines: the same characters as its body lines.
        assert _squash(section.text) == "".join(_squash(plain[ln.start : ln.end]) for ln in body)
        if not cut:
            assert section.text == span
    # Nothing is lost: every non-blank line is a title, heading, notice or navigation line, or in a section.
    for ln in article.lines:
        if ln.kind == "body":
            lo, hi = _stripped(plain, ln.start, ln.end)
            assert any(s.start <= lo and hi <= s.end for s in sections), f"body line {plain[lo:hi]!r} lost"
    classified = {ln.end for ln in article.lines}
    # A title, heading or notice that a hard wrap broke is one Line over its lines.
    joined = [ln for ln in article.lines if "\n" in plain[ln.start : ln.end]]
    pos = 0
    for raw_line in plain.split("\n"):
        content = raw_line.lstrip("\ufeff") if pos == 0 else raw_line
        end = pos + len(raw_line)
        if content.strip():
            assert end in classified or any(ln.start <= end <= ln.end for ln in joined), \
                f"line {raw_line!r} neither content nor classified"
        pos = end + 1


@PROPERTY
@given(text=st.one_of(st.text(max_size=300), st.lists(LINE, max_size=6).map(" ".join)))
def test_sentences_are_non_empty_trimmed_ordered_spans(text: str) -> None:
    spans = split_sentences(text)
    previous = 0
    for span in spans:
        piece = text[span.start : span.end]
        assert piece.strip() and piece == piece.strip()
        assert previous <= span.start < span.end <= len(text)
        previous = span.end


def assert_sections_are_sound(article: Article, sections: list[Section]) -> None:
    """Spans inside the text and in order; sentences non-empty, inside their section, outside cut lines."""
    plain = article.text
    cut = [(ln.start, ln.end) for ln in article.lines if ln.kind in ("nav", "notice", "heading", "title")]
    end = 0
    for section in sections:
        assert end <= section.start < section.end <= len(plain)
        assert section.text.strip() and plain[section.start : section.end].strip()
        end = section.end
        previous = section.start
        for span in section.sentences:
            assert previous <= span.start < span.end <= section.end
            assert plain[span.start : span.end].strip()
            assert not any(lo <= span.start < hi for lo, hi in cut)
            previous = span.end


def _squash(text: str) -> str:
    return "".join(text.split())


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    return start + len(piece) - len(piece.lstrip()), end - (len(piece) - len(piece.rstrip()))


# ---------------------------------------------------------------- questions naming listed places and bodies

LISTED = sorted(name for name in other_names() if " " in name)  # the names whose words may be parted otherwise
SEPARATORS = [" ", "  ", "\t", "\n", "-", "\u2013", "\u00a0", "\u200b", " \u2028 ", "\u3000"]
FRAMES = ["Which countries are in {}?", "What did NATO do in {}", "Is {} part of the AU?", "{} troops", "how many {} ..."]


@st.composite
def questions_naming_places(draw: st.DrawFn) -> str:
    """A question naming a place or body of several words (`qa/data`), its words parted by any
    kind of space or dash, in any case."""
    name = draw(st.sampled_from(SEPARATORS)).join(draw(st.sampled_from(LISTED)).split())
    text = draw(st.sampled_from(FRAMES)).format(name)
    return draw(st.sampled_from([text, text.lower(), text.upper()]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(question=questions_naming_places())
def test_a_question_naming_listed_places_in_any_spacing_or_case_is_answered(searcher, question: str):
    """A place whose words were parted by two spaces or a newline raised KeyError (a 500 over
    HTTP), until the twenty-second stop."""
    try:
        response = searcher.ask(question, k=3)
    except ValueError:  # only what the API answers with 422: blank, too long
        assert not question.strip() or len(question) > 1000
        return
    assert response.passages
