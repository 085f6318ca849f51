"""Other names of places and bodies: what a question's short names are read as."""

from __future__ import annotations

import pytest

from qa.aliases import is_other_name, mentions, other_names, short_names, with_meanings
from qa.confidence import unknown_names


@pytest.mark.parametrize(("question", "read_as"), [
    ("Does the Atlantic alliance train together?", "Does the Atlantic alliance (NATO) train together?"),
    ("Do blue helmets volunteer?", "Do blue helmets (peacekeepers) volunteer?"),
    ("a stint as a blue helmet", "a stint as a blue helmet (peacekeepers)"),
    ("Where do blue-helmet troops go?", "Where do blue-helmet (peacekeepers) troops go?"),
    ("Is the blue\u2010helmet mission over?", "Is the blue\u2010helmet (peacekeepers) mission over?"),
    ("Is the US in the EU?", "Is the US (United States) in the EU (European Union)?"),
    ("What does the AU do?", "What does the AU (African Union) do?"),
    ("Tell me about the AU.", "Tell me about the AU (African Union)."),
    ("What is the AU's role?", "What is the AU (African Union)'s role?"),
    ("AU", "AU (African Union)"),  # a keyword query in capitals
    ("TELL US ABOUT BLUE HELMETS", "TELL US ABOUT BLUE HELMETS (peacekeepers)"),
    # Once each, the first time: the encoder reads 256 word pieces at most
    ("Did the US, the USA and the US again agree?", "Did the US (United States), the USA and the US again agree?"),
])
def test_a_short_name_is_read_with_what_it_stands_for(question: str, read_as: str):
    assert with_meanings(question) == read_as


@pytest.mark.parametrize("question", [
    "TELL US ABOUT THE AU",  # a sentence in capitals: "US" may be the word
    "Does the AU.x protocol apply?",  # part of another token
    "Is NATO based in Brussels?",  # a capital: the seat may be what is asked
    "Tell us about helmets",
    "Did the us army train?",  # an acronym counts only as written
    "Does the AU (African Union) help?",  # explained already
    "How do the Atlantic alliance and NATO differ?",  # says what it stands for
])
def test_words_that_are_no_short_name_or_are_explained_are_left_alone(question: str):
    assert with_meanings(question) == question


def test_spelling_out_is_done_once():
    once = with_meanings("Does the Atlantic alliance train?")
    assert with_meanings(once) == once


def test_capitals_are_other_names_but_not_short_names():
    assert other_names()["Pyongyang"] == ("North Korea", "DPRK")
    assert "Pyongyang" not in short_names()
    assert set(short_names()) <= set(other_names())
    assert [m.text for m in mentions("Did Pyongyang and the Blue-Helmets comply?")] == ["Pyongyang", "Blue-Helmets"]
    assert [m.text for m in mentions("Did Pyongyang comply?", places=False)] == []
    assert is_other_name("blue helmets") and is_other_name("Addis Ababa") and not is_other_name("nato force")


@pytest.mark.parametrize("question", ["What do Blue Helmets do?", "What do Blue helmets do?",
                                      "What risks do Blue-Helmet troops face?"])
def test_a_short_name_in_any_case_is_known_when_the_passages_name_its_meaning(question: str, searcher):
    lexical = searcher.retriever.lexical
    assert unknown_names(question, lexical, "Peacekeepers patrol the zone.") == []
    assert unknown_names(question, lexical, "Troops patrol the zone.") != []


def test_an_acronym_the_corpus_uses_is_left_as_it_is():
    uses_au = {"au"}.__contains__
    assert with_meanings("What does the AU do?", lambda word: uses_au(word.lower())) == "What does the AU do?"
    assert with_meanings("Do blue helmets and the AU help?", lambda word: uses_au(word.lower())) == (
        "Do blue helmets (peacekeepers) and the AU help?")


def test_the_searcher_spells_out_only_what_the_corpus_lacks(searcher):
    lexical = searcher.retriever.lexical
    assert lexical.has("NATO") and lexical.has("nato") and not lexical.has("AU") and not lexical.has("Natos")
    assert searcher._as_encoded("Does the AU work with NATO?") == "Does the AU (African Union) work with NATO?"


@pytest.mark.parametrize("between", ["  ", "\t", "-", "\u2013", " \n "])
def test_a_name_whose_words_are_parted_otherwise_means_what_it_means_listed(between: str):
    for name, meanings in other_names().items():
        parted = between.join(name.split())
        found = mentions(f"What about {parted} now?")
        assert [m.meanings for m in found if m.text == parted] == [meanings], parted


def test_a_question_naming_a_place_with_odd_spaces_is_answered_as_the_plain_one(searcher):
    plain = searcher.ask("Which countries are in the Horn of Africa?")
    odd = searcher.ask("Which countries are in the Horn  of \t Africa?")
    assert [p.citation for p in odd.passages] == [p.citation for p in plain.passages]
    assert odd.low_confidence == plain.low_confidence
