"""Markdown and HTML layouts a review found misread: article headers, asides and page-wide forms
in HTML, navigation inside a paragraph or under a "See also:" label, and notices broken after
their label."""

from __future__ import annotations

import pytest

from qa.articles import parse_article
from qa.markup import parse_html, parse_markdown
from qa.models import Article, Line
from qa.sections import split_sections


def kinds_and_texts(text: str, lines: list[Line]) -> list[tuple[str, str]]:
    return [(ln.kind, text[ln.start : ln.end]) for ln in lines]


def article(source: str, fmt: str) -> Article:
    return parse_article(source.encode(), f"a.{fmt}", fmt)


def searchable(doc: Article) -> str:
    """All the text a question can match in the article."""
    return "\n".join(section.text for section in split_sections(doc))


# ---------------------------------------------------------------- HTML: header, aside, form

NOTICE = "⚠️ Please note: AI tools were used in crafting this content."


def test_html_header_inside_an_article_is_its_header_and_is_kept():
    source = (
        "<body><header><div>Site name</div><nav>Home</nav></header><article><header>"
        f"<h1>Urban Beekeeping Basics</h1><p class='notice'>{NOTICE}</p></header>"
        "<p>Keeping bees in a city is easy.</p><h2>Choosing a Hive</h2><p>A Langstroth hive suits rooftops.</p>"
        "</article><footer>Copyright</footer></body>"
    )
    text, lines = parse_html(source)
    assert kinds_and_texts(text, lines) == [
        ("title", "Urban Beekeeping Basics"),
        ("notice", NOTICE),
        ("body", "Keeping bees in a city is easy."),
        ("heading", "Choosing a Hive"),
        ("body", "A Langstroth hive suits rooftops."),
    ]
    doc = article(source, "html")
    assert (doc.title, doc.notice) == ("Urban Beekeeping Basics", NOTICE)
    assert "Please note" not in searchable(doc)


@pytest.mark.parametrize("container", ["section", "article"])
def test_html_header_inside_a_section_or_article_keeps_its_heading(container: str):
    source = (
        "<body><h1>Bees</h1><p>Intro.</p>"
        f"<{container}><header><h2>Feeding in Winter</h2><p>Updated March 2024</p></header>"
        f"<p>Fondant keeps a colony alive.</p></{container}><header>Late site banner</header></body>"
    )
    text, lines = parse_html(source)
    assert kinds_and_texts(text, lines) == [
        ("title", "Bees"),
        ("body", "Intro."),
        ("heading", "Feeding in Winter"),
        ("body", "Updated March 2024"),
        ("body", "Fondant keeps a colony alive."),
    ]


def test_html_notice_in_a_dropped_aside_is_the_notice_and_never_text():
    source = (
        "<title>Bees</title><h1>Bees</h1>"
        f"<aside class='disclaimer'><script>track()</script>{NOTICE}</aside>"
        "<p>Keeping bees is easy.</p><aside><h3>Recent posts</h3><p>Disclaimer: how we test hives</p></aside>"
        "<h2>Hives</h2><p>Boxes.</p>"
    )
    doc = article(source, "html")
    assert doc.notice == NOTICE
    assert kinds_and_texts(doc.text, list(doc.lines))[:3] == [("title", "Bees"), ("notice", NOTICE),
                                                              ("body", "Keeping bees is easy.")]
    assert "Please note" not in searchable(doc)
    assert "Recent posts" not in doc.text and "how we test" not in doc.text  # any other aside is still dropped


def test_html_page_wrapped_in_one_form_keeps_its_content():
    """ASP.NET WebForms puts the whole body in <form id="form1">; its controls are still dropped."""
    source = (
        "<html><head><title>Leave Policy</title></head><body><form id='form1' method='post'>"
        "<input type='hidden' name='__VIEWSTATE' value='x'><header>Intranet</header>"
        "<div class='content'><h1>Leave Policy</h1><p>Staff receive 25 days of annual leave.</p>"
        "<h2>Carry Over</h2><p>Up to five days may be carried over.</p></div>"
        "<button>Print</button></form></body></html>"
    )
    doc = article(source, "html")
    assert kinds_and_texts(doc.text, list(doc.lines)) == [
        ("title", "Leave Policy"),
        ("body", "Staff receive 25 days of annual leave."),
        ("heading", "Carry Over"),
        ("body", "Up to five days may be carried over."),
    ]


def test_html_small_form_on_a_page_with_text_stays_dropped():
    text, _ = parse_html(
        "<h1>Bees</h1><p>Keeping bees is easy.</p>"
        "<form><h3>Newsletter</h3><p>Subscribe for news.</p><input name=email></form>"
    )
    assert text == "Bees\n\nKeeping bees is easy."


# ---------------------------------------------------------------- navigation


def test_markdown_see_also_source_line_inside_a_paragraph_is_navigation():
    source = (
        "# Bicycle Care\n\n## Brakes\n\n"
        "Brake pads wear down with use and should be replaced when the groove is gone.\n"
        "See also: [Tyre Pressure Basics](tyres.md)\n\n## Chains\n\nOil the chain every month.\n"
    )
    text, lines = parse_markdown(source)
    assert kinds_and_texts(text, lines)[2:4] == [
        ("body", "Brake pads wear down with use and should be replaced when the groove is gone."),
        ("nav", "See also: Tyre Pressure Basics"),
    ]
    assert "Tyre" not in searchable(article(source, "md"))


@pytest.mark.parametrize("source", [
    "Brakes need care and you should\nsee also the chapter on pads.\n",
    "See also the chapter on brakes, which\nexplains the pads.\n",
    "Bikes need care.\nRelated stories are\nnot our topic here.\n",
])
def test_markdown_hard_wrapped_prose_is_not_cut_at_a_line_that_starts_like_navigation(source: str):
    text, lines = parse_markdown(source)
    assert [kind for kind, _ in kinds_and_texts(text, lines)] == ["body"]
    assert text == " ".join(source.split("\n")).strip()


@pytest.mark.parametrize(("source", "fmt"), [
    ("# Bicycle Care\n\nBrake pads wear down.\n\nSee also:\n\n- [Tyre Pressure](t.md)\n- [Chain Cleaning](c.md)\n"
     "\nOil the chain monthly.\n", "md"),
    ("# Bicycle Care\n\nBrake pads wear down.\n\n**See also:**\n- [Tyre Pressure](t.md)\n- [Chain Cleaning](c.md)\n"
     "\nOil the chain monthly.\n", "md"),
    ("<h1>Bicycle Care</h1><p>Brake pads wear down.</p><p>See also:</p><ul><li><a href=t>Tyre Pressure</a></li>"
     "<li><a href=c>Chain Cleaning</a></li></ul><p>Oil the chain monthly.</p>", "html"),
    ("<h1>Bicycle Care</h1><p>Brake pads wear down.</p><p><strong>See also:</strong></p><ul><li><a href=t>"
     "Tyre Pressure</a></li><li><a href=c>Chain Cleaning</a></li></ul><p>Oil the chain monthly.</p>", "html"),
])
def test_see_also_label_and_the_list_under_it_are_navigation(source: str, fmt: str):
    doc = article(source, fmt)
    kinds = kinds_and_texts(doc.text, list(doc.lines))
    assert [kind for kind, _ in kinds] == ["title", "body", "nav", "nav", "nav", "body"]
    assert kinds[-1] == ("body", "Oil the chain monthly.")  # the list ends the navigation
    assert searchable(doc) == "Brake pads wear down.\n\nOil the chain monthly."


def test_see_also_label_over_a_paragraph_leaves_the_paragraph_content():
    text, lines = parse_markdown("Intro.\n\nSee also:\n\nThe brake chapter explains pads.\n")
    assert kinds_and_texts(text, lines) == [("body", "Intro."), ("nav", "See also:"),
                                            ("body", "The brake chapter explains pads.")]


# ---------------------------------------------------------------- notices


@pytest.mark.parametrize(("source", "fmt", "notice"), [
    ("<html><head><title>T</title></head><body><h1>T</h1><p><strong>⚠️ Please note:</strong><br>"
     "AI tools were used in crafting this content.</p><p>Real body text.</p></body></html>", "html",
     "⚠️ Please note: AI tools were used in crafting this content."),
    ("# T\n\n**📝 Note for Readers:**\\\nThis piece includes AI-assisted content.\n\nReal body text.\n", "md",
     "📝 Note for Readers: This piece includes AI-assisted content."),
    ("<h1>T</h1><aside><b>⚠️ Disclaimer:</b><br>Prices change.</aside><p>Real body text.</p>", "html",
     "⚠️ Disclaimer: Prices change."),
])
def test_notice_label_followed_by_a_line_break_takes_in_the_next_line(source: str, fmt: str, notice: str):
    doc = article(source, fmt)
    assert doc.notice == notice
    assert kinds_and_texts(doc.text, list(doc.lines)) == [("title", "T"), ("notice", notice),
                                                          ("body", "Real body text.")]
    assert searchable(doc) == "Real body text."


def test_a_plain_please_note_label_does_not_take_in_the_pages_own_content():
    """Only the disclaimers' own form (an emoji first) takes in the line after its break."""
    doc = article("<h1>Opening Times</h1><p><b>Please note:</b><br>The museum is closed every Monday.</p>"
                  "<p>Tuesday to Sunday: 10am to 5pm.</p>", "html")
    assert doc.notice == "Please note:"
    assert "The museum is closed every Monday." in searchable(doc)


def test_a_site_header_in_main_and_a_site_alert_in_an_aside_stay_out():
    doc = article("<html><head><title>Renewing Your Passport</title></head><body>"
                  "<aside><p>Please note: our phone lines are closed on bank holidays.</p></aside>"
                  "<main><header><a href='/'>BeanCo</a><p>Fresh coffee, delivered weekly</p></header>"
                  "<h1>Renewing Your Passport</h1><p>⚠️ Please note: AI tools were used in crafting this content.</p>"
                  "<p>You can renew online if your passport was issued after 2005.</p></main></body></html>", "html")
    assert doc.title == "Renewing Your Passport"
    assert doc.notice == "⚠️ Please note: AI tools were used in crafting this content."
    assert searchable(doc) == "You can renew online if your passport was issued after 2005."


def test_a_header_without_a_heading_in_a_page_wrapped_in_a_section_is_the_sites():
    doc = article("<html><head><title>Visiting Hours - St Mary's Hospital</title></head><body><section>"
                  "<header><a href='/'>St Mary's Hospital</a><p>Switchboard: 020 7946 0000</p></header>"
                  "<h1>Visiting Hours</h1><p>General wards are open from 2pm to 8pm.</p></section></body></html>", "html")
    assert doc.title == "Visiting Hours"
    assert searchable(doc) == "General wards are open from 2pm to 8pm."


def test_an_aside_notice_label_takes_in_the_asides_next_line_whatever_its_form():
    doc = article("<article><h1>Remembering Jane Goodall</h1><aside><p>Editor's note:</p><p>This obituary was"
                  " updated.</p></aside><p>She transformed our understanding of chimpanzees.</p></article>", "html")
    assert doc.notice == "Editor's note: This obituary was updated."
    assert searchable(doc) == "She transformed our understanding of chimpanzees."


def test_read_more_over_a_list_and_a_wrapped_read_more_sentence_are_content():
    doc = article("<h1>Trailrunner Jacket</h1><p>A featherweight waterproof shell.</p><p>Read more</p>"
                  "<ul><li>Waterproof to 20,000 mm</li><li>Weighs 180 g</li></ul>", "html")
    assert "Waterproof to 20,000 mm" in searchable(doc)
    doc = article("# Four-Day Week\n\nProductivity held steady during the trial.\n"
                  "Read more about the trial in our full report, published by\nAutonomy in March.\n", "md")
    assert "Read more about the trial in our full report, published by Autonomy in March." in searchable(doc)


def test_notice_label_followed_by_a_new_paragraph_does_not_take_it_in():
    text, lines = parse_html("<p>Please note:</p><p>Bees sting.</p>")
    assert kinds_and_texts(text, lines) == [("notice", "Please note:"), ("body", "Bees sting.")]


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_later_line_repeating_the_notice_is_a_notice_line_too(fmt: str):
    paragraphs = ["⚠️ Please note: AI tools were used.", "Body text.", "⚠️ Please note: AI tools were used.",
                  "⚠️ Please note: the hive closes at six."]
    if fmt == "md":
        text, lines = parse_markdown("# Bees\n\n" + "\n\n".join(paragraphs) + "\n")
    else:
        text, lines = parse_html("<h1>Bees</h1>" + "".join(f"<p>{p}</p>" for p in paragraphs))
    assert kinds_and_texts(text, lines) == [
        ("title", "Bees"),
        ("notice", "⚠️ Please note: AI tools were used."),
        ("body", "Body text."),
        ("notice", "⚠️ Please note: AI tools were used."),
        # A different "Please note" line further down is the article's content, not its notice.
        ("body", "⚠️ Please note: the hive closes at six."),
    ]
