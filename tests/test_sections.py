"""Sentence splitting and section grouping."""

from __future__ import annotations

from qa.articles import parse_article
from qa.sections import MAX_SENTENCE_CHARS, split_sections, split_sentences


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def test_splits_plain_sentences():
    assert sentences("One thing. Another thing! A third? Yes.") == ["One thing.", "Another thing!", "A third?", "Yes."]


def test_abbreviations_do_not_end_sentences():
    text = "The U.S. and the U.K. signed it, e.g. in 1999. Dr. Smith agreed, i.e. fully. Next one."
    assert sentences(text) == ["The U.S. and the U.K. signed it, e.g. in 1999.", "Dr. Smith agreed, i.e. fully.",
                               "Next one."]


def test_decimals_and_initials_stay_whole():
    assert sentences("Growth was 3.5 percent. J. R. Smith wrote it.") == ["Growth was 3.5 percent.",
                                                                           "J. R. Smith wrote it."]


def test_list_markers_are_not_part_of_the_sentence():
    for item in ("- United Nations forces, coordinating missions.", "  1. NATO’s mechanism.", "• A bullet item",
                 "2) Second item."):
        (only,) = sentences(item)
        assert only[0].isupper() and item.endswith(only)


def test_quotes_and_brackets_close_sentences():
    assert sentences('He said "stop." Then left. (A note.) Fine.') == ['He said "stop."', "Then left.", "(A note.)",
                                                                      "Fine."]


def test_sentence_spans_index_the_article_text():
    text = "Title Here\n\nHeading One\nFirst sentence. Second sentence.\n\nThird sentence here.\n"
    article = parse_article(text.encode(), "t.txt")
    (section,) = split_sections(article)
    got = [text[s.start : s.end] for s in section.sentences]
    assert got == ["First sentence.", "Second sentence.", "Third sentence here."]


def test_heading_without_body_makes_no_section():
    text = "Title Here\n\nEmpty Heading\nFull Heading\nBody text here.\n"
    article = parse_article(text.encode(), "t.txt")
    assert [s.heading for s in split_sections(article)] == ["Full Heading"]


def test_navigation_inside_a_section_is_cut_from_its_text_but_not_its_span():
    text = "Title Here\n\nHeading\nFirst paragraph.\n\nSee also  Some Other Article\n\nSecond paragraph.\n"
    article = parse_article(text.encode(), "t.txt")
    (section,) = split_sections(article)
    assert section.text == "First paragraph.\n\nSecond paragraph."
    assert text[section.start : section.end] == "First paragraph.\n\nSee also  Some Other Article\n\nSecond paragraph."


def test_a_section_of_very_many_sentences_keeps_about_2048_units_covering_them_all():
    """A review's 1.2 million one-word lines took 4.2 GB to index and 7 s to answer."""
    words = [f"w{n}" for n in range(30_000)]
    lines = words[:15_000] + ["See also: elsewhere"] + words[15_000:]  # a nav line, cut from the text
    article = parse_article(("Title Line\n\nLong List\n" + "\n".join(lines) + "\n").encode(), "long.txt")
    [section] = split_sections(article)
    spans = section.sentences
    assert 1900 <= len(spans) <= 2060
    pieces = [article.text[s.start : s.end] for s in spans]
    assert " ".join(" ".join(p.split()) for p in pieces) == " ".join(words)  # every word, in order, once
    assert not any("See also" in p for p in pieces)  # no unit runs across the cut line
    sentences = " ".join(f"Sentence number {n} ends here." for n in range(2000))  # a long real section
    long = parse_article(f"Title Line\n\nLong Section\n{sentences}\n".encode(), "long.txt")
    assert len(split_sections(long)[0].sentences) == 2000  # each its own unit


def test_a_sentence_longer_than_the_model_reads_is_cut_into_pieces_at_spaces():
    """A 5 MB article of one run of words was one sentence: the answer to every question about it."""
    words = [f"W{n}" for n in range(2_000)]
    text = "It starts here. " + " ".join(words) + " and it ends. Then one more."
    got = sentences(text)
    assert got[0] == "It starts here." and got[-1] == "Then one more."
    assert all(len(s) <= MAX_SENTENCE_CHARS for s in got) and len(got) > 3
    assert " ".join(got[1:-1]).split() == [*words, "and", "it", "ends."]  # every word, in order, once
    assert all(not s[0].isspace() and not s[-1].isspace() for s in got)
    unbroken = "x" * (2 * MAX_SENTENCE_CHARS + 5)  # no space to cut at
    assert sentences(unbroken) == ["x" * MAX_SENTENCE_CHARS] * 2 + ["x" * 5]
