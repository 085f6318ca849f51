"""Reading articles: titles, notices, headings versus body, navigation, spans."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.articles import ArticleError, classify_txt_lines, iter_corpus, parse_article, read_article, Skipped
from qa.sections import split_sections

from conftest import SEED_CORPUS

SEED_A = "000_ccd1cb8f005a164f.txt"
SEED_B = "003_5980fc8c05fdc981.txt"


def seed(doc: str):
    return read_article(SEED_CORPUS / doc, doc)


def test_seed_without_title_line_has_introduction_and_18_headed_sections():
    article = seed(SEED_A)
    sections = split_sections(article)
    assert sections[0].heading == ""
    assert len([s for s in sections if s.heading]) == 18
    assert not any(line.kind == "title" for line in article.lines)
    assert article.title  # a readable fallback
    assert article.title != SEED_A


def test_seed_with_title_line_has_introduction_and_16_headed_sections():
    article = seed(SEED_B)
    sections = split_sections(article)
    assert article.title == "Enhancing Global Stability Through Effective International Security Cooperation"
    assert sections[0].heading == ""
    assert len([s for s in sections if s.heading]) == 16
    assert all(s.heading != article.title for s in sections)


@pytest.mark.parametrize("doc, prefix", [(SEED_A, "📝 Note for Readers:"), (SEED_B, "⚠️ Please note:")])
def test_notice_is_metadata_and_never_searchable(doc: str, prefix: str):
    article = seed(doc)
    assert article.notice is not None and article.notice.startswith(prefix)
    assert article.notice in article.text  # verbatim
    for section in split_sections(article):
        assert article.notice not in section.text
        assert "Note for Readers" not in section.text and "Please note" not in section.text


def test_see_also_lines_are_not_content():
    article = seed(SEED_B)
    nav = [article.text[ln.start : ln.end] for ln in article.lines if ln.kind == "nav"]
    assert len(nav) == 3 and all(line.startswith("See also") for line in nav)
    for section in split_sections(article):
        assert "See also" not in section.text
        for line in nav:
            assert line not in section.text


@pytest.mark.parametrize("doc", [SEED_A, SEED_B])
def test_every_span_slices_back_to_its_section(doc: str):
    article = seed(doc)
    plain = (SEED_CORPUS / doc).read_text(encoding="utf-8")
    assert article.text == plain
    for section in split_sections(article):
        span = plain[section.start : section.end]
        assert span == section.text or ("See also" in span and span.startswith(section.text[:40]))
        assert span == span.strip()
        for sentence in section.sentences:
            assert section.start <= sentence.start < sentence.end <= section.end
            assert plain[sentence.start : sentence.end].strip() == plain[sentence.start : sentence.end]


def test_lead_in_lines_and_list_items_are_body_not_headings():
    text = (
        "Title Of The Piece\n\n"
        "First Heading\n"
        "Some organisations include:\n"
        "United Nations\n"
        "African Union\n"
        "- NATO, the alliance\n"
        "1. A numbered item\n"
        "  • An indented bullet\n"
        "A closing paragraph that ends properly.\n"
        "Second Heading\n"
        "More text here.\n"
    )
    lines = classify_txt_lines(text)
    kinds = {text[ln.start : ln.end].strip(): ln.kind for ln in lines}
    assert kinds["Title Of The Piece"] == "title"
    assert kinds["First Heading"] == "heading"
    assert kinds["Second Heading"] == "heading"
    assert kinds["Some organisations include:"] == "body"
    assert kinds["United Nations"] == "body"
    assert kinds["African Union"] == "body"
    assert kinds["- NATO, the alliance"] == "body"
    assert kinds["1. A numbered item"] == "body"
    assert kinds["• An indented bullet"] == "body"


def test_heading_after_a_bulleted_list_is_still_a_heading():
    text = "Intro text here.\nKey points:\n  • one point.\n  • another point.\nNext Section\nBody text.\n"
    kinds = {text[ln.start : ln.end].strip(): ln.kind for ln in classify_txt_lines(text)}
    assert kinds["Next Section"] == "heading"


def test_crlf_is_normalised_and_offsets_index_the_normalised_text():
    article = parse_article("A Title\r\n\r\nHeading\r\nBody sentence one. Body two.\r\n".encode(), "x.txt")
    assert "\r" not in article.text
    (section,) = [s for s in split_sections(article) if s.heading == "Heading"]
    assert article.text[section.start : section.end] == "Body sentence one. Body two."


def test_unreadable_inputs_raise_article_error_naming_the_file():
    with pytest.raises(ArticleError, match="bad.txt"):
        parse_article(b"caf\xe9 not utf-8 \xff", "bad.txt")  # (\xff\xfe first would be a UTF-16 mark)
    with pytest.raises(ArticleError, match="bin.txt"):
        parse_article(b"\x00\x01\x02binary", "bin.txt")
    with pytest.raises(ArticleError, match="empty.txt"):
        parse_article(b"   \n\n", "empty.txt")


def test_corpus_walk_skips_unsupported_and_hidden_files(tmp_path: Path):
    (tmp_path / "a.txt").write_text("Title\n\nHeading\nBody.\n")
    (tmp_path / ".hidden.txt").write_text("Secret\n\nHeading\nBody.\n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("Other\n\nHeading\nBody.\n")
    items = list(iter_corpus(tmp_path))
    docs = [i.doc for i in items if not isinstance(i, Skipped)]
    assert docs == ["a.txt", "sub/b.txt"]
    assert [i.doc for i in items if isinstance(i, Skipped)] == ["image.png"]


def test_heading_after_a_blank_line_ends_an_unmarked_list():
    text = (
        "The Alliance Today\n"
        "\n"
        "Main Points\n"
        "The alliance focuses on three areas:\n"
        "Defense Planning\n"
        "Crisis Management\n"
        "Cooperative Security\n"
        "\n"
        "Budget Considerations\n"
        "Member states contribute funds according to an agreed formula. They pay yearly.\n"
    )
    article = parse_article(text.encode(), "alliance.txt")
    sections = {s.heading: s for s in split_sections(article)}
    assert list(sections) == ["Main Points", "Budget Considerations"]
    assert "Defense Planning" in sections["Main Points"].text
    assert sections["Budget Considerations"].text.startswith("Member states contribute funds")


def test_blank_line_between_a_lead_in_and_its_unmarked_items_keeps_them_body():
    text = "Title Here\n\nIntro text.\nMember bodies include:\n\nUnited Nations\nAfrican Union\n\nClosing Remarks\nEnd.\n"
    kinds = {text[ln.start : ln.end]: ln.kind for ln in classify_txt_lines(text)}
    assert kinds["United Nations"] == kinds["African Union"] == "body"
    assert kinds["Closing Remarks"] == "heading"


def test_file_name_not_valid_utf8_is_skipped_naming_it(tmp_path: Path):
    (tmp_path / "ok.txt").write_text("Ok\n\nHeading\nBody.\n")
    (tmp_path / os.fsdecode(b"bad\xffname.txt")).write_text("Bad\n\nHeading\nBody. Two.\n")
    (tmp_path / os.fsdecode(b"dir\xfe")).mkdir()
    (tmp_path / os.fsdecode(b"dir\xfe") / "inner.txt").write_text("Inner\n\nHeading\nBody.\n")
    items = list(iter_corpus(tmp_path))
    assert [i.doc for i in items if not isinstance(i, Skipped)] == ["ok.txt"]
    skipped = {i.doc: i.reason for i in items if isinstance(i, Skipped)}
    assert sorted(skipped) == ["bad\\xffname.txt", "dir\\xfe/inner.txt"]
    assert all("not valid UTF-8" in reason for reason in skipped.values())
    for doc in skipped:
        doc.encode("utf-8")  # printable and storable: no surrogates left


@pytest.mark.parametrize("name, shown", [("new\nline.txt", "new\\nline.txt"), ("esc\x1b[31m.txt", "esc\\x1b[31m.txt"),
                                         ("tab\there.txt", "tab\\there.txt")])
def test_file_name_with_a_control_character_is_skipped_naming_it(tmp_path: Path, name: str, shown: str):
    (tmp_path / "ok.txt").write_text("Ok\n\nHeading\nBody.\n")
    (tmp_path / name).write_text("Bad\n\nHeading\nBody. Two.\n")
    items = list(iter_corpus(tmp_path))
    assert [i.doc for i in items if not isinstance(i, Skipped)] == ["ok.txt"]
    [skipped] = [i for i in items if isinstance(i, Skipped)]
    assert skipped.doc == shown
    assert "control character" in skipped.reason and "URL" in skipped.reason


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_utf16_or_utf32_with_a_byte_order_mark_reads_as_its_utf8_twin(encoding: str):
    source = "Bees Today\n\n⚠️ Please note: written with care.\n\nHives\nA hive holds 50,000 bees. 🐝 Queens rule.\n"
    raw = source.encode(encoding)
    if encoding.endswith("-be"):
        raw = "\ufeff".encode(encoding) + raw  # the codec without the endian suffix writes the mark itself
    utf16, utf8 = parse_article(raw, "bees.txt"), parse_article(source.encode("utf-8"), "bees.txt")
    assert (utf16.text, utf16.title, utf16.notice) == (utf8.text, utf8.title, utf8.notice)
    assert [(s.heading, s.start, s.end) for s in split_sections(utf16)] == \
        [(s.heading, s.start, s.end) for s in split_sections(utf8)]


def test_utf16_without_a_mark_is_still_binary_and_a_broken_one_names_the_encoding():
    with pytest.raises(ArticleError, match="binary"):
        parse_article("Bees\n\nHives\nText.\n".encode("utf-16-le"), "bees.txt")
    with pytest.raises(ArticleError, match="not valid UTF-16"):
        parse_article(b"\xff\xfe" + "Bees\n".encode("utf-16-le") + b"\x00\xd8\x41", "bees.txt")
    with pytest.raises(ArticleError, match="binary"):  # a mark, then bytes that are no text in its encoding
        parse_article(b"\xfe\xff" + "\x00\x00Bees\nHives\n".encode("utf-16-be"), "bees.txt")


@pytest.mark.parametrize("fmt, source", [
    ("md", "# " + "word " * 400_000 + "\n\n## Section\n\nBody text here.\n"),
    ("html", "<title>" + "word " * 400_000 + "</title><h2>Section</h2><p>Body text here.</p>"),
])
def test_a_title_of_megabytes_is_cut_short_but_the_text_and_spans_stay_whole(fmt: str, source: str):
    """Every citation repeats the title: a 2 MB <h1> made a 50-passage answer 100 MB."""
    article = parse_article(source.encode(), f"huge.{fmt}", fmt)
    assert len(article.title) <= 300 and article.title.endswith("word…")
    sections = split_sections(article)
    assert [s.heading for s in sections] == ["Section"]
    assert all(article.text[s.start : s.end] == s.text for s in sections)


@pytest.mark.parametrize("fmt, raw", [
    ("md", b"# Guide\n\n## Mooring\n\n## Fuel\n"),
    ("html", b"<title>Guide</title><h1>Guide</h1><h2>Mooring</h2><nav>See also: Fuel</nav>"),
])
def test_headings_with_no_text_under_them_are_skipped_by_name(fmt: str, raw: bytes):
    """No section could be made of it: say so, instead of indexing an article nothing can find."""
    with pytest.raises(ArticleError, match=rf"guide\.{fmt}: headings but no text under any of them"):
        parse_article(raw, f"guide.{fmt}", fmt)
