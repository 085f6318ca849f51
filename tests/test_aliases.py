"""Other names of places and bodies: what a question's short names are read as."""

from __future__ import annotations

import pytest

from qa.aliases import other_names, short_names, with_meanings


@pytest.mark.parametrize(("question", "read_as"), [
    ("Does the Atlantic alliance train together?", "Does the Atlantic alliance (NATO) train together?"),
    ("Do blue helmets volunteer?", "Do blue helmets (peacekeepers) volunteer?"),
    ("a stint as a blue helmet", "a stint as a blue helmet (peacekeepers)"),
    ("Where do blue-helmet troops go?", "Where do blue-helmet (peacekeepers) troops go?"),
    ("Is the US in the EU?", "Is the US (United States) in the EU (European Union)?"),
    ("What does the AU do?", "What does the AU (African Union) do?"),
])
def test_a_short_name_is_read_with_what_it_stands_for(question: str, read_as: str):
    assert with_meanings(question) == read_as


@pytest.mark.parametrize("question", [
    "TELL US ABOUT THE AU",  # shouted: "US" may be the word
    "Does the AU.x protocol apply?",  # part of another token
    "Is NATO based in Brussels?",  # a capital: the seat may be what is asked
    "Tell us about helmets",
    "Did the us army train?",  # an acronym counts only as written
])
def test_words_that_are_no_short_name_are_left_alone(question: str):
    assert with_meanings(question) == question


def test_capitals_are_other_names_but_not_short_names():
    assert other_names()["Pyongyang"] == ("North Korea", "DPRK")
    assert "Pyongyang" not in short_names()
    assert set(short_names()) <= set(other_names())
    assert other_names()["AU"] == ("African Union",)
