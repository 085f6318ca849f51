"""The web page at `/`, driven by a real Chromium (Debian's, via Playwright) against a real server.

Screenshots land in each test's tmp_path (desktop and 375 px phone width) for a person to look at.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Route, sync_playwright

from conftest import Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}

NATO_QUESTION = "What does Article 5 of NATO say?"
NATO_SECTION = "NATO’s Collective Defense Mechanism"
OFF_TOPIC = ["How long should I boil an egg?", "How do I bake sourdough bread?",
             "What is the capital of France?", "How do I resolve a merge conflict in git?"]
LOW_CONFIDENCE_TEXT = "The articles probably don't answer this"
SCRIPT_QUESTION = "<script>window.__pwned=1</script> NATO Article 5"
# The shipped article whose notice starts with 📝: one code point (the API's unit) but two UTF-16 units (JavaScript's).
ASTRAL_DOC = "000_ccd1cb8f005a164f.txt"
ASTRAL_QUESTION = "What roles do military personnel play in international cooperation initiatives?"
ASTRAL_SECTION = "Roles of Military Personnel in International Cooperation Initiatives"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}; install it with `apt-get install -y chromium` "
                    "(.ci/run does this). The web page tests need a real browser.")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Tab:
    """A browser page on the server, recording script errors and any request that leaves it."""

    def __init__(self, browser: Browser, server: Server, viewport: dict[str, int]) -> None:
        self.server = server
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.external: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", self._console)
        self.page.on("dialog", self._dialog)
        self.context.route("**/*", self._only_this_server)

    def _console(self, message: ConsoleMessage) -> None:
        # 4xx answers from the API are expected in some tests; anything else (CSP violations) is not.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(message.text)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _only_this_server(self, route: Route) -> None:
        if route.request.url.startswith(self.server.url + "/"):
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def open(self, path: str = "/") -> None:
        self.page.goto(self.server.url + path)

    def ask(self, question: str) -> None:
        """Type a question and press Enter, as a keyboard user would; wait for the answer to render."""
        box = self.page.locator("#q")
        box.fill(question)
        box.press("Enter")
        self.wait_for_answer(question)

    def wait_for_answer(self, question: str) -> None:
        self.page.locator(".results-title .asked", has_text=question).wait_for()

    def shot(self, path: Path, full_page: bool = False) -> None:
        self.page.screenshot(path=str(path), full_page=full_page)

    def no_horizontal_scroll(self) -> bool:
        return self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    def close(self) -> None:
        self.context.close()
        assert not self.errors, self.errors
        assert not self.external, f"the page reached outside its server: {self.external}"


@pytest.fixture
def desktop(browser: Browser, server: Server) -> Iterator[Tab]:
    tab = Tab(browser, server, DESKTOP)
    yield tab
    tab.close()


@pytest.fixture
def phone(browser: Browser, server: Server) -> Iterator[Tab]:
    tab = Tab(browser, server, PHONE)
    yield tab
    tab.close()


def api_answer(server: Server, question: str, k: int = 5) -> dict:
    status, body = server.get_json("/ask?" + urllib.parse.urlencode({"q": question, "k": k}))
    assert status == 200, body
    return body


def flagged_off_topic_question(server: Server) -> str:
    """An off-topic question the server flags low_confidence today (the rule is tuned elsewhere)."""
    for question in OFF_TOPIC:
        if api_answer(server, question)["low_confidence"]:
            return question
    pytest.fail(f"the server flags none of {OFF_TOPIC} as low_confidence; the banner can't be tested")


# ---------------------------------------------------------------- serving the page


def test_page_is_served_with_a_strict_policy_and_cache_headers(server: Server) -> None:
    status, body, headers = server.request("GET", "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert headers["cache-control"] == "no-cache"
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    html = body.decode()
    assert 'href="/docs"' in html
    assert "http://" not in html and "https://" not in html  # no CDN, nothing fetched from elsewhere


def test_the_api_docs_render_with_nothing_fetched_from_elsewhere(desktop: Tab) -> None:
    """/docs is Swagger UI served by the server itself (the Tab fails on any outside request)."""
    desktop.open("/docs")
    operation = desktop.page.locator(".opblock-summary-path", has_text="/ask").first
    operation.wait_for()
    assert desktop.page.locator(".opblock-summary-path").count() >= 4


def test_assets_are_versioned_and_cached_and_only_known_names_are_served(server: Server) -> None:
    html = server.request("GET", "/")[1].decode()
    for name in ("app.css", "app.js", "icon.svg"):
        start = html.index(f"/static/{name}?v=")
        url = html[start:html.index('"', start)]
        status, _, headers = server.request("GET", url)
        assert status == 200, url
        assert "immutable" in headers["cache-control"]
        status, _, headers = server.request("GET", f"/static/{name}")
        assert status == 200 and headers["cache-control"] == "no-cache"
    for path in ("/static/index.html.bak", "/static/..%2Fweb.py", "/static/../web.py", "/static/%2e%2e%2fapp.py"):
        status, body, _ = server.request("GET", path)
        assert status == 404, path
        assert "import" not in body.decode("utf-8", "replace")


# ---------------------------------------------------------------- asking from the page


def test_in_scope_question_shows_section_highlighted_answer_and_notice(desktop: Tab, tmp_path: Path) -> None:
    expected = api_answer(desktop.server, NATO_QUESTION)
    page = desktop.page
    desktop.open("/")
    assert page.evaluate("document.activeElement.id") == "q", "the question box should have focus on load"
    desktop.shot(tmp_path / "desktop-start.png")
    desktop.ask(NATO_QUESTION)

    cards = page.locator(".passage")
    assert cards.count() == len(expected["passages"])
    first = cards.first
    assert first.locator("h2").inner_text() == NATO_SECTION == expected["passages"][0]["citation"]["section"]
    answer = first.locator("mark.answer")
    assert answer.inner_text() == expected["passages"][0]["answer"]["text"]
    assert "Article 5" in answer.inner_text()
    assert expected["passages"][0]["citation"]["title"] in first.inner_text()
    assert f"{expected['passages'][0]['score']:.2f}" in first.inner_text()
    notices = page.locator(".notices")
    for notice in expected["notices"]:
        assert notices.get_by_text(notice["text"], exact=True).is_visible()
    assert page.locator("#low-confidence").count() == (1 if expected["low_confidence"] else 0)
    assert urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query) == {"q": [NATO_QUESTION], "k": ["5"]}
    assert page.locator(".results-title").is_visible()
    desktop.shot(tmp_path / "desktop-in-scope.png", full_page=True)

    # The keyboard path: Tab moves on from the box with a visible focus ring.
    page.locator("#q").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "k"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"


def test_every_answer_is_highlighted_inside_its_passage(desktop: Tab) -> None:
    expected = api_answer(desktop.server, "NATO peacekeeping missions", k=10)
    desktop.open("/?" + urllib.parse.urlencode({"q": "NATO peacekeeping missions", "k": 10}))
    desktop.wait_for_answer("NATO peacekeeping missions")
    marks = desktop.page.locator(".passage mark.answer")
    assert marks.all_inner_texts() == [p["answer"]["text"] for p in expected["passages"]]


def test_off_topic_question_shows_the_low_confidence_banner(desktop: Tab, tmp_path: Path) -> None:
    question = flagged_off_topic_question(desktop.server)
    desktop.open("/")
    desktop.ask(question)
    banner = desktop.page.locator("#low-confidence")
    assert banner.is_visible()
    assert LOW_CONFIDENCE_TEXT in banner.inner_text()
    # The banner comes before the passages, so it is read first.
    assert desktop.page.evaluate(
        "document.querySelector('#low-confidence').compareDocumentPosition(document.querySelector('.passage'))"
        " & Node.DOCUMENT_POSITION_FOLLOWING") != 0
    desktop.shot(tmp_path / "desktop-off-topic.png")


def test_banner_appears_exactly_when_the_api_says_low_confidence(desktop: Tab) -> None:
    for question in [NATO_QUESTION, *OFF_TOPIC[:2]]:
        flagged = api_answer(desktop.server, question)["low_confidence"]
        desktop.open("/?" + urllib.parse.urlencode({"q": question}))
        desktop.wait_for_answer(question)
        assert desktop.page.locator("#low-confidence").count() == int(flagged), question


def test_markup_in_a_question_is_shown_as_text_and_never_runs(desktop: Tab) -> None:
    page = desktop.page
    desktop.open("/")
    desktop.ask(SCRIPT_QUESTION)
    assert page.locator(".results-title .asked").inner_text() == SCRIPT_QUESTION
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('script').length") == 1  # only app.js

    sneaky = '<img src=x onerror="window.__pwned=2;alert(1)">'
    desktop.open("/?" + urllib.parse.urlencode({"q": sneaky}))
    desktop.wait_for_answer(sneaky)
    assert page.locator(".results-title .asked").inner_text() == sneaky
    assert page.locator("#view img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert desktop.dialogs == []


def test_question_in_the_url_runs_on_load_and_back_returns_to_it(desktop: Tab) -> None:
    page = desktop.page
    desktop.open("/?" + urllib.parse.urlencode({"q": NATO_QUESTION, "k": 3}))
    desktop.wait_for_answer(NATO_QUESTION)
    assert page.locator("#q").input_value() == NATO_QUESTION
    assert page.locator("#k").input_value() == "3"
    assert page.locator(".passage").count() == 3

    desktop.ask("cyber defence cooperation")
    assert "cyber+defence+cooperation" in page.url
    page.go_back()
    desktop.wait_for_answer(NATO_QUESTION)
    assert page.locator("#q").input_value() == NATO_QUESTION
    assert page.locator(".passage").count() == 3
    assert page.locator(".passage h2").first.inner_text() == NATO_SECTION


def test_api_errors_are_shown_as_a_readable_message(desktop: Tab, tmp_path: Path) -> None:
    page = desktop.page
    desktop.open("/?q=hello&k=99")
    error = page.locator(".message.error")
    error.wait_for()
    status, body = desktop.server.get_json("/ask?q=hello&k=99")
    assert status == 422
    assert body["detail"] in error.inner_text()
    assert page.locator(".passage").count() == 0

    desktop.open("/?" + urllib.parse.urlencode({"q": "x" * 1001}))
    page.locator(".message.error", has_text="1000").wait_for()
    desktop.shot(tmp_path / "desktop-error.png")


def test_a_citation_opens_the_article_at_the_answer(desktop: Tab, tmp_path: Path) -> None:
    expected = api_answer(desktop.server, NATO_QUESTION)["passages"][0]
    page = desktop.page
    desktop.open("/?" + urllib.parse.urlencode({"q": NATO_QUESTION}))
    desktop.wait_for_answer(NATO_QUESTION)
    page.locator(".passage").first.get_by_role("link", name="Read in the article").click()
    cited = page.locator("#cited")
    cited.wait_for()
    assert cited.inner_text() == expected["answer"]["text"]
    assert page.locator(".doc-title").inner_text() == expected["citation"]["title"]
    assert page.locator(".doc-section.cited h2").inner_text() == NATO_SECTION
    assert page.locator(".doc-notice").is_visible()
    desktop.shot(tmp_path / "desktop-article.png")
    page.get_by_role("link", name="Back to results").click()
    desktop.wait_for_answer(NATO_QUESTION)


def test_offsets_count_code_points_in_an_article_with_emoji(desktop: Tab) -> None:
    """API offsets are Python string indices; the page must not slice them as UTF-16 units."""
    server, page = desktop.server, desktop.page
    status, article = server.get_json("/documents/" + ASTRAL_DOC)
    assert status == 200, article
    text = article["text"]
    expected = api_answer(server, ASTRAL_QUESTION)
    passage = next(p for p in expected["passages"] if p["citation"]["section"] == ASTRAL_SECTION)
    citation, answer = passage["citation"], passage["answer"]
    assert citation["doc"] == ASTRAL_DOC
    assert any(ord(c) > 0xFFFF for c in text[:citation["start"]]), "the test needs an emoji before the section"
    assert text[answer["start"]:answer["end"]] == answer["text"]

    desktop.open("/?" + urllib.parse.urlencode({"q": ASTRAL_QUESTION}))
    desktop.wait_for_answer(ASTRAL_QUESTION)
    card = page.locator(".passage", has=page.locator("h2", has_text=ASTRAL_SECTION)).first
    assert card.locator("mark.answer").text_content() == answer["text"]
    assert card.locator(".passage-text").text_content() == passage["text"]
    card.get_by_role("link", name="Read in the article").click()
    cited = page.locator("#cited")
    cited.wait_for()
    assert cited.text_content() == answer["text"]
    assert page.locator(".doc-section.cited h2").text_content() == ASTRAL_SECTION
    assert page.locator(".doc-section.cited .doc-text").text_content() == text[citation["start"]:citation["end"]]
    # Every section of the article shows exactly its span of the API's plain text.
    shown = page.locator(".doc-section .doc-text").all_text_contents()
    assert shown == [text[s["start"]:s["end"]] for s in article["sections"]]


@pytest.mark.parametrize("doc", ["../../etc/passwd", "..", "."])
def test_unknown_article_in_the_url_shows_the_404_detail(desktop: Tab, doc: str) -> None:
    desktop.open("/?" + urllib.parse.urlencode({"doc": doc}))
    error = desktop.page.locator(".message.error")
    error.wait_for()
    assert "no indexed article" in error.inner_text()  # ".." fetched the page itself, read as an article


# ---------------------------------------------------------------- phone width


def test_phone_width_has_no_horizontal_scroll(phone: Tab, tmp_path: Path) -> None:
    phone.open("/")
    assert phone.no_horizontal_scroll()
    phone.shot(tmp_path / "phone-start.png")
    phone.ask(NATO_QUESTION)
    assert phone.no_horizontal_scroll()
    phone.shot(tmp_path / "phone-in-scope.png")
    phone.shot(tmp_path / "phone-in-scope-full.png", full_page=True)

    question = flagged_off_topic_question(phone.server)
    phone.ask(question)
    assert phone.page.locator("#low-confidence").is_visible()
    assert phone.no_horizontal_scroll()
    phone.shot(tmp_path / "phone-off-topic.png")

    long_word = "Supercalifragilistic" * 8
    phone.ask(long_word)
    assert phone.no_horizontal_scroll()

    phone.page.locator(".passage a.open").first.click()
    phone.page.locator("#cited").wait_for()
    assert phone.no_horizontal_scroll()
    phone.shot(tmp_path / "phone-article.png")

