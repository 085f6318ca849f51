"""Plain-text layout: wrapped paragraphs, underlined headings and rules, question and numbered
headings, emoji headings, navigation lists, notices split over two lines, unreadable input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.articles import ArticleError, Skipped, classify_txt_lines, corpus_files, is_nav, iter_corpus, parse_article
from qa.sections import split_sections


def kinds(text: str) -> dict[str, str]:
    """Each non-blank line's text (stripped) and its kind."""
    return {text[ln.start : ln.end].strip(): ln.kind for ln in classify_txt_lines(text)}


def sections(text: str) -> dict[str, str]:
    """Heading -> searchable text of every section of the article."""
    return {s.heading: s.text for s in split_sections(parse_article(text.encode(), "a.txt"))}


def test_hard_wrapped_paragraph_lines_are_body_not_headings():
    text = ("Bicycle Care\n\n"
            "Most riders never check their tyres, yet a tyre\n"
            "at the wrong pressure wears out twice as fast.\n"
            "Pumps with a gauge cost little and last for\n"
            "years if they are kept dry.\n\n"
            "Brakes\n"
            "Brake pads wear down with use and should be\n"
            "replaced when the groove is gone.\n")
    got = kinds(text)
    assert got["Most riders never check their tyres, yet a tyre"] == "body"  # next line in lower case
    assert got["Pumps with a gauge cost little and last for"] == "body"
    assert got["Brake pads wear down with use and should be"] == "body"
    assert list(sections(text)) == ["", "Brakes"]


@pytest.mark.parametrize("heading, under", [
    ("Things you will need for the campsite", "tent and footprint\na head torch"),  # ends no sentence
    ("Where to download the latest release", "https://example.org/releases"),
    ("Popular budgeting methods you can start with", "The 50/30/20 rule splits income three ways."),
    ("Common mistakes to watch out for", "Skipping the receipt is the first."),
])
def test_a_long_sentence_case_heading_is_not_taken_for_a_wrapped_line(heading: str, under: str):
    text = f"Guide\n\nA short introduction.\n\n{heading}\n{under}\n"
    assert kinds(text)[heading] == "heading"


def test_a_title_case_heading_over_lower_case_items_stays_a_heading():
    text = "Bread\n\nIngredients\nflour\nwater\nsalt\n"
    assert kinds(text)["Ingredients"] == "heading"


def test_underlined_headings_and_rules_are_not_content():
    text = ("Bicycle Care\n============\n\nIntro about bicycles.\n\n"
            "Brakes\n------\nBrake pads wear down with use.\n\n* * *\n\n"
            "Chains\n------\nOil the chain monthly.\n_ _ _\nWipe it after.\n")
    article = parse_article(text.encode(), "a.txt")
    assert article.title == "Bicycle Care"
    got = split_sections(article)
    assert [(s.heading, s.text) for s in got] == [
        ("", "Intro about bicycles."), ("Brakes", "Brake pads wear down with use."),
        ("Chains", "Oil the chain monthly.\nWipe it after.")]
    for section in got:
        for span in section.sentences:
            assert not set(article.text[span.start : span.end]) <= set("-=*_ ")


def test_a_question_title_above_the_notice_and_a_title_case_question_heading():
    text = ("Is Coffee Good for You?\n\n⚠️ Please note: AI tools were used in crafting this content.\n\n"
            "Coffee is one of the most widely drunk beverages in the world.\n\n"
            "How Much Is Too Much?\nMost adults can safely drink up to four cups a day.\n\n"
            "Is it safe to drink at night?\nIt may keep you awake.\n")
    article = parse_article(text.encode(), "a.txt")
    assert article.title == "Is Coffee Good for You?"
    assert list(sections(text)) == ["", "How Much Is Too Much?"]  # the sentence-case question is body


def test_numbered_title_case_lines_standing_alone_are_headings_but_numbered_lists_are_not():
    text = ("Home Solar Power Guide\n\nSolar panels cut bills.\n\n"
            "1. Choosing Panels\nMonocrystalline panels are the most efficient.\n\n"
            "2. Inverters\nA string inverter converts direct current.\n\n"
            "Steps\nDo these in order.\n\n1. Measure The Roof\n2. Order The Panels\n")
    got = kinds(text)
    assert got["1. Choosing Panels"] == got["2. Inverters"] == "heading"
    assert got["1. Measure The Roof"] == got["2. Order The Panels"] == "body"


def test_headings_may_start_with_an_emoji_or_a_word_like_iphone_but_a_checklist_is_body():
    text = ("Bicycle Care\n\nIntro about bicycles.\n\n🔧 Tools You Need\nA pump, hex keys and a rag.\n\n"
            "iPhone Cycling Apps\nStrava records every ride.\n\n✅ Pump Up\n✅ Oil Chain\nDone.\n")
    got = kinds(text)
    assert got["🔧 Tools You Need"] == got["iPhone Cycling Apps"] == "heading"
    assert got["✅ Pump Up"] == got["✅ Oil Chain"] == "body"


def test_lines_that_start_with_a_symbol_or_a_name_but_are_no_title_stay_content():
    text = ("Trailrunner 3\n\nOur lightest running shoe yet.\n\nWhy you'll love it\n"
            "🌱 Made from 60% recycled materials\n🪶 Weighs just 240 grams\n\nAvailable from today.\n\n"
            "Compatible devices\niPhone 12 and later\niPad Air (4th generation)\nmost Android phones\n")
    assert sections(text)["Why you'll love it"].startswith("🌱 Made from 60% recycled materials\n🪶 Weighs")
    assert sections(text)["Compatible devices"] == "iPhone 12 and later\niPad Air (4th generation)\nmost Android phones"


def test_what_follows_see_also_stops_at_the_first_heading_with_a_paragraph():
    text = ("Hadrian's Wall\nHadrian's Wall was begun in AD 122.\nSee also\nAntonine Wall\nLegacy\n"
            "The wall became a World Heritage Site in 1987.\n")
    assert sections(text)["Legacy"] == "The wall became a World Heritage Site in 1987."
    assert kinds(text)["Antonine Wall"] == "nav"


def test_read_more_over_a_list_and_a_plain_please_note_are_the_pages_own_content():
    text = ("Trailrunner Jacket\n\nPlease note:\nOrders placed after 2pm ship the next business day.\n\n"
            "A featherweight waterproof shell.\n\nRead more\n- Waterproof to 20,000 mm\n- Weighs 180 g\n")
    article = parse_article(text.encode(), "a.txt")
    assert article.notice == "Please note:"
    intro = sections(text)[""]
    assert "Orders placed after 2pm ship the next business day." in intro  # not taken in by the label
    assert "- Waterproof to 20,000 mm" in intro


@pytest.mark.parametrize("label", ["See also", "See also:", "Related articles", "Related reading:"])
def test_a_bare_see_also_label_and_the_lines_under_it_are_navigation(label: str):
    text = (f"Bicycle Care\n\nIntro about bicycles.\n\nBrakes\nBrake pads wear down.\n\n"
            f"{label}\nTyre Pressure Basics\n- Chain Cleaning Guide\n\nSee also: Wheel Truing.\n")
    got = kinds(text)
    assert got[label] == got["Tyre Pressure Basics"] == got["- Chain Cleaning Guide"] == "nav"
    assert got["See also: Wheel Truing."] == "nav"
    assert sections(text) == {"": "Intro about bicycles.", "Brakes": "Brake pads wear down."}
    assert is_nav(label)  # markup.py relies on it for Markdown and HTML


def test_a_sentence_that_starts_like_navigation_is_still_text():
    assert not is_nav("Read more about it in the chapter above.")  # no ":" or dash after the label


def test_a_notice_label_takes_the_line_under_it_and_a_repeat_of_the_notice_is_not_searchable():
    text = ("Urban Beekeeping\n\n⚠️ Please note:\nAI tools were used in crafting this content.\n\n"
            "Keeping bees is easy.\n\nHives\nA hive holds bees.\nAI tools were used in crafting this content.\n")
    article = parse_article(text.encode(), "a.txt")
    assert article.notice == "⚠️ Please note:"  # SPEC.md: the disclaimer line, verbatim
    assert sections(text) == {"": "Keeping bees is easy.", "Hives": "A hive holds bees."}


def test_a_notice_repeated_at_the_end_is_not_searchable():
    notice = "📝 Note for Readers: This piece includes AI-assisted content."
    text = f"Bees\n\n{notice}\n\nHives\nA hive holds bees.\n\n{notice}\n"
    article = parse_article(text.encode(), "a.txt")
    assert article.notice == notice
    assert all(notice not in s.text for s in split_sections(article))


def test_non_utf8_names_the_line_and_the_byte():
    with pytest.raises(ArticleError, match=r"bad\.txt: not valid UTF-8 \(line 3, byte 18\)"):
        parse_article(b"Title\r\n\r\ncaf\xc3\xa9 caf\xe9\n", "bad.txt")  # CRLF counts once


def test_an_unreadable_folder_is_skipped_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for folder in ("", "locked/", "open/"):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / "a.txt").write_text("Title\n\nHeading\nBody.\n")
    scandir = os.scandir

    def refusing(path: str | os.PathLike[str] = ".") -> object:  # root reads anything: refuse by hand
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    items = list(iter_corpus(tmp_path))
    assert [i.doc for i in items if not isinstance(i, Skipped)] == ["a.txt", "open/a.txt"]
    assert [(i.doc, i.reason) for i in items if isinstance(i, Skipped)] == \
        [("locked/", "cannot read folder (Permission denied)")]


def test_a_link_to_a_corpus_folder_does_not_take_over_its_files_ids(tmp_path: Path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x.txt").write_text("X\n\nBody text here.\n")
    (tmp_path / "a_link").symlink_to("real", target_is_directory=True)  # sorts before "real"
    outside = tmp_path.parent / f"{tmp_path.name}_outside"
    outside.mkdir()
    (outside / "y.txt").write_text("Y\n\nMore text.\n")
    (tmp_path / "shared").symlink_to(outside, target_is_directory=True)
    assert [doc for doc, _ in corpus_files(tmp_path)] == ["real/x.txt", "shared/y.txt"]


@pytest.mark.parametrize("heading, first_line", [
    ("What to do", "The paragraph starts here."),  # ends on "do", yet short: a heading
    ("Who we are", "We are a small team."),
    ("Things to pack", "sunscreen"),  # a list without markers under a sentence-case heading
])
def test_a_short_sentence_case_heading_is_not_taken_for_a_wrapped_line(heading: str, first_line: str):
    text = f"Title Here\n\nIntro text here.\n\n{heading}\n{first_line}\nwater\n\nNext Heading\nMore text.\n"
    assert ("heading", heading) in [(ln.kind, text[ln.start : ln.end]) for ln in classify_txt_lines(text)]


def test_a_copyright_footer_is_no_heading():
    text = "Soup\n\nA quick soup.\n\nMethod\nSimmer for 20 minutes.\n\n© 2024 Kitchen Notes\nRecipes may be shared with credit\n"
    assert kinds(text)["© 2024 Kitchen Notes"] == "body"
