"""Hard-wrapped plain text reads as the same article unwrapped: same title, notice, headings and
sentences, a sentence running across line breaks with its span still exact."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import qa
from conftest import build_index, write_corpus
from qa.articles import LIST_MARKER_RE, classify_txt_lines, parse_article
from qa.models import Article
from qa.sections import split_sections

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

CHAINS = ("Bicycle Care\n\n"
          "⚠️ Please note: AI tools helped write this article.\n\n"
          "Chains\n\n"
          "Most riders never check their chains, yet a chain that is not\n"
          "oiled wears out the cassette and the chainrings within a few\n"
          "months. A chain should be oiled every month, and more often\n"
          "when you ride in the rain.\n\n"
          "Tyres\n\n"
          "Check the pressure of your tyres every week with a gauge, since\n"
          "Schwalbe and most other makers print the range on the sidewall.\n")


def reading(article: Article) -> tuple:
    """Title, notice, and each section's heading with its sentences, whitespace collapsed."""
    return (article.title, article.notice,
            [(s.heading, [" ".join(article.text[x.start : x.end].split()) for x in s.sentences])
             for s in split_sections(article)])


def hard_wrapped(article: Article, width: int, every_line: bool = False) -> str:
    """The article's text with every body line (`every_line`: every line, title, notice and
    headings too) longer than `width` wrapped at it, as an editor does."""
    kinds = {ln.start: ln.kind for ln in article.lines}
    out, pos = [], 0
    for line in article.text.split("\n"):
        if (every_line or kinds.get(pos) == "body") and len(line) > width:
            marker = LIST_MARKER_RE.match(line.strip())
            out.append(textwrap.fill(line.strip(), width, subsequent_indent=" " * (marker.end() if marker else 0),
                                     break_long_words=False, break_on_hyphens=False))
        else:
            out.append(line)
        pos += len(line) + 1
    return "\n".join(out)


def kinds(text: str) -> dict[str, str]:
    """Each non-blank line's text (stripped) and its kind."""
    return {text[ln.start : ln.end].strip(): ln.kind for ln in classify_txt_lines(text)}


def sentences(text: str, fmt: str = "txt") -> list[str]:
    article = parse_article(text.encode(), f"a.{fmt}", fmt)
    return [article.text[x.start : x.end] for s in split_sections(article) for x in s.sentences]


@pytest.mark.parametrize("width", [60, 72, 80])
@pytest.mark.parametrize("doc", sorted(p.name for p in CORPUS.glob("*.txt")))
def test_the_corpus_wrapped_at_common_widths_reads_as_it_does_unwrapped(doc: str, width: int):
    article = parse_article((CORPUS / doc).read_bytes(), doc)
    wrapped = hard_wrapped(article, width)
    assert wrapped.count("\n") > article.text.count("\n") + 50  # it was wrapped
    assert reading(parse_article(wrapped.encode(), doc)) == reading(article)


@pytest.mark.parametrize("width", [72, 80, 90])
@pytest.mark.parametrize("doc", sorted(p.name for p in CORPUS.glob("*.txt")))
def test_the_corpus_wrapped_whole_reads_as_it_does_unwrapped(doc: str, width: int):
    """Every line wrapped, as an editor's "wrap all" leaves it: the notice, the Title Case headings
    and the `See also` lines too, whose broken-off ends were read as headings and as text."""
    article = parse_article((CORPUS / doc).read_bytes(), doc)
    wrapped = hard_wrapped(article, width, every_line=True)
    assert reading(parse_article(wrapped.encode(), doc)) == reading(article)


def test_a_sentence_runs_across_the_lines_of_a_wrapped_paragraph():
    got = sentences(CHAINS)
    assert got == [
        "Most riders never check their chains, yet a chain that is not\noiled wears out the cassette and the "
        "chainrings within a few\nmonths.",
        "A chain should be oiled every month, and more often\nwhen you ride in the rain.",
        # The line under starts with a name: the line above is as long as a wrapped line
        "Check the pressure of your tyres every week with a gauge, since\nSchwalbe and most other makers print "
        "the range on the sidewall.",
    ]


def test_lines_of_a_paragraph_that_ends_no_sentence_stay_apart():
    text = ("Camping\n\n"
            "What to bring\n\n"
            "a tent that holds two people and all of their gear\n"
            "sleeping bags rated for the coldest night expected\n"
            "stove and fuel\n")
    assert sentences(text) == ["a tent that holds two people and all of their gear",
                               "sleeping bags rated for the coldest night expected", "stove and fuel"]


def test_list_items_and_lines_after_a_full_stop_or_lead_in_start_anew():
    text = ("Packing\n\n"
            "You will need the following things for a weekend away:\n"
            "- a tent that holds two people and all of their gear\n"
            "- a sleeping bag rated for the coldest night expected.\n"
            "Each of them should be checked before you leave home\n"
            "because shops near the campsite close early.\n")
    assert sentences(text) == [
        "You will need the following things for a weekend away:",
        "a tent that holds two people and all of their gear",
        "a sleeping bag rated for the coldest night expected.",
        "Each of them should be checked before you leave home\nbecause shops near the campsite close early.",
    ]


def test_a_long_line_over_a_name_in_a_wrapped_paragraph_is_no_heading():
    text = ("Alliances\n\n"
            "Peacekeeping\n\n"
            "Another example is the role of the United Nations in disarming\n"
            "Iraq after 1991, when inspectors were sent in by the Security\n"
            "Council.\n")
    lines = kinds(text)
    assert lines["Another example is the role of the United Nations in disarming"] == "body"
    assert lines["Iraq after 1991, when inspectors were sent in by the Security"] == "body"
    assert lines["Peacekeeping"] == "heading"
    assert len(sentences(text)) == 1


def test_a_wrapped_line_starting_with_related_is_text_not_navigation():
    text = ("Security\n\n"
            "Cooperation\n\n"
            "Countries are engaging in cooperative efforts that are\n"
            "related to emerging domains such as space and artificial\n"
            "intelligence.\n\n"
            "See also: Space Law\n")
    lines = kinds(text)
    assert lines["related to emerging domains such as space and artificial"] == "body"
    assert lines["See also: Space Law"] == "nav"
    assert sentences(text) == ["Countries are engaging in cooperative efforts that are\nrelated to emerging domains "
                               "such as space and artificial\nintelligence."]


def test_markdown_and_html_list_items_are_never_joined():
    html = ("<h1>Packing</h1><h2>Bring</h2><ul><li>a tent that holds two people and all of their gear</li>"
            "<li>sleeping bags rated for the coldest night expected.</li></ul>")
    assert sentences(html, "html") == ["a tent that holds two people and all of their gear",
                                         "sleeping bags rated for the coldest night expected."]


def test_the_answer_to_a_question_on_a_wrapped_article_is_the_whole_sentence(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus", {"bikes.txt": CHAINS})
    searcher = qa.load(build_index(corpus, tmp_path / "index"))
    top = searcher.ask("How often should a bicycle chain be oiled?", k=1).passages[0]
    assert top.citation.section == "Chains"
    assert top.answer.text == "A chain should be oiled every month, and more often\nwhen you ride in the rain."
    assert CHAINS[top.answer.start : top.answer.end] == top.answer.text


@pytest.mark.parametrize("text, line, kind", [
    # A long sentence-case title over the notice, or over a standfirst, is still the title
    ("How to keep a sourdough starter alive while on holiday\n"
     "⚠️ Please note: AI tools helped write this article.\n\nFeed it well the morning you leave.\n",
     "How to keep a sourdough starter alive while on holiday", "title"),
    ("Council approves new cycle lanes for the city centre\n"
     "The £14m scheme will be finished by the spring of 2026.\n",
     "Council approves new cycle lanes for the city centre", "title"),
    # A long heading directly over a one-line answer, or over a paragraph wrapped wider than it
    ("Gym FAQ\n\nCan I freeze my membership if I go travelling abroad\nYes, for up to three months a year.\n",
     "Can I freeze my membership if I go travelling abroad", "heading"),
    ("Moving Abroad\n\nWhat happens to your pension if you move abroad later\n"
     "You can claim your state pension from anywhere in the world, and it is paid\n"
     "into a bank account in the country where you live or into an account at home\n"
     "in pounds, whichever you choose when you claim it.\n",
     "What happens to your pension if you move abroad later", "heading"),
    # A heading after a list item, or after a line ending on a comma, is no continuation of it
    ("Job\n\nWhat you will do\n- Improve the performance and cost of our cloud data warehouse\n"
     "What we are looking for\n- Five or more years of experience with Python and SQL\n"
     "- Experience with Airflow, dbt or similar orchestration tools\n",
     "What we are looking for", "heading"),
    ("Team Update\n\nThank you all for the hard work on the spring release,\nEspecially the Support Team\n"
     "The release went out on time.\n", "Especially the Support Team", "heading"),
    # Running text whose line broke after a sentence is no heading
    ("Storm Floods Coastal Towns\n\nHeavy rain caused flooding along the coast. In\n"
     "Whitby, the harbour road was closed after the\nRiver Esk burst its banks on Monday night.\n",
     "Heavy rain caused flooding along the coast. In", "body"),
])
def test_what_a_wrapped_line_is_not(text: str, line: str, kind: str):
    assert kinds(text)[line] == kind


def test_a_list_item_without_a_final_stop_is_not_joined_to_the_sentence_under_it():
    text = ("Festival Packing List\n\nPack these:\n"
            "A waterproof jacket and a warm fleece for the evenings\n"
            "Most people forget the basics like loo roll.\n")
    assert sentences(text)[-2:] == ["A waterproof jacket and a warm fleece for the evenings",
                                    "Most people forget the basics like loo roll."]


def test_a_wrapped_list_item_is_one_sentence_up_to_the_next_item():
    text = ("Changelog\n\n2.4.0\n"
            "- Fixed a crash that happened when opening very large\n"
            "  files from a network drive\n"
            "- Added dark mode to the settings page\n")
    assert sentences(text) == ["Fixed a crash that happened when opening very large\n  files from a network drive",
                               "Added dark mode to the settings page"]


def test_a_sentence_goes_on_after_a_semicolon_and_after_a_short_line_inside_a_paragraph():
    text = ("Kit List\n\n"
            "We tested the tent twice in heavy rain and high winds;\n"
            "it stayed dry both times. A steady 18 degrees is better than 5 and\n"
            "25.\n")
    assert sentences(text) == ["We tested the tent twice in heavy rain and high winds;\nit stayed dry both times.",
                               "A steady 18 degrees is better than 5 and\n25."]


def test_a_line_ending_on_an_abbreviation_goes_on_under_it():
    text = ("Parish Council Minutes\n\n"
            "The meeting in the village hall on Tuesday was chaired by Dr.\n"
            "Helen Moss, who opened it at 7pm.\n")
    assert sentences(text) == ["The meeting in the village hall on Tuesday was chaired by Dr.\n"
                               "Helen Moss, who opened it at 7pm."]


def test_a_wrapped_title_notice_heading_and_see_also_line_are_each_one_line():
    text = ("Enhancing Global Stability Through Effective International Security\n"
            "Cooperation\n"
            "⚠️ Please note: AI tools were used in crafting this content, so verify\n"
            "anything important through trusted means.\n"
            "The Role of International Security Cooperation in Modern Strategic\n"
            "Defense Initiatives\n"
            "International security cooperation plays a pivotal role in shaping\n"
            "modern strategic defense initiatives and in fostering collaboration.\n"
            "See also  Enhancing National Security through Strategic Defense Readiness\n"
            "Planning\n"
            "Key Frameworks Facilitating Global Security Partnerships\n"
            "Several frameworks facilitate global security partnerships among nations\n"
            "that share common threats.\n")
    article = parse_article(text.encode(), "a.txt")
    assert article.title == "Enhancing Global Stability Through Effective International Security Cooperation"
    assert article.notice == ("⚠️ Please note: AI tools were used in crafting this content, so verify "
                              "anything important through trusted means.")
    assert [s.heading for s in split_sections(article)] == [
        "The Role of International Security Cooperation in Modern Strategic Defense Initiatives",
        "Key Frameworks Facilitating Global Security Partnerships"]
    assert "Planning" not in split_sections(article)[0].text and "verify" not in split_sections(article)[0].text


def test_an_unwrapped_article_joins_no_heading_to_the_next():
    """Lines a paragraph long: nothing is wrapped, so two headings in a row stay two."""
    text = ("Project Notes\n\n"
            "Install the command-line tools before you start the tutorial on this page\n"
            "Configuring the Development Environment on Windows Machines\n"
            "Run the installer as an administrator, and restart the machine when it asks you to, "
            "which it will do at least once before the tools are ready for the first exercise.\n")
    assert [s.heading for s in split_sections(parse_article(text.encode(), "a.txt"))] == [
        "Configuring the Development Environment on Windows Machines"]


@pytest.mark.parametrize("text, expect", [
    # A notice with no final stop keeps the paragraph under it out of the notice
    ("Router Tips\n⚠️ Please note: AI tools were used in crafting this content 🤖\n"
     "Most people never change the settings of the router\ntheir provider sends them. A few changes help.\n\n"
     "Change the Password\nReplace the default password with a long passphrase.\n",
     {"notice": "⚠️ Please note: AI tools were used in crafting this content 🤖",
      "headings": ["", "Change the Password"]}),
    # Only the paragraphs are wrapped (the title is longer than them): a byline is no part of the title
    ("Heavy Rain Forces Evacuation of Homes as the River Bursts Its Banks\nBy Helen Carter\n\n"
     "More than two hundred homes were evacuated overnight\nafter the river rose above its flood defences.\n",
     {"title": "Heavy Rain Forces Evacuation of Homes as the River Bursts Its Banks"}),
    # ... nor a subheading part of the heading, nor a list item
    ("Garden Guide\n\nWhat to Grow in Your First Year When Space Is Limited\nEasy Crops for Beginners\n"
     "Salad leaves can be picked within four weeks of\nsowing, and radishes are ready in about a month.\n",
     {"headings": ["Easy Crops for Beginners"]}),
    ("Country Loaf\n\nWeigh every ingredient on a digital scale rather\nthan measuring by volume, since cups vary a lot."
     "\n\nIngredients and Equipment for a Classic Country Loaf\n- Bread Flour\n- Sea Salt\n"
     "Leave the dough somewhere warm for four hours.\n",
     {"headings": ["", "Ingredients and Equipment for a Classic Country Loaf"]}),
    # A paragraph under a See-also line is no part of it
    ("Botanic Garden\n\nThe glasshouses hold more than four thousand plants\nfrom the tropics and the deserts of the world."
     "\n\nSee also  Seasonal Highlights in the Glasshouses This Spring\n"
     "Guided tours leave from the main gate every day at\neleven, and they last about an hour and a half.\n",
     {"sentence": "Guided tours leave from the main gate every day at\neleven, and they last about an hour and a half."}),
])
def test_lines_the_wrap_did_not_break_stay_apart(text: str, expect: dict):
    """Cases a regression hunt found joined: each next line was a line of its own."""
    article = parse_article(text.encode(), "a.txt")
    sections = split_sections(article)
    if "notice" in expect:
        assert article.notice == expect["notice"]
    if "title" in expect:
        assert article.title == expect["title"]
    if "headings" in expect:
        assert [s.heading for s in sections] == expect["headings"]
    if "sentence" in expect:
        assert expect["sentence"] in [article.text[x.start : x.end] for s in sections for x in s.sentences]
