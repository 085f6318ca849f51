"""`low_confidence`: what a question asks for against what the best passage holds, and the
calibration files it was set on (tests/data/own.jsonl, oos.jsonl) on the real seed index."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from qa.confidence import (answered_generically, asks_amount, names_in, no_new_name, no_person, no_place,
                           uncounted, undated, undefined_name, unexplained, unnamed_document, unexpanded, unknown_names, unmeasured, unmentioned_name,
                           unmentioned_phrase, unmet_need, unnamed_country, unnamed_kind, truecased, MOST_SEEN)
from qa.evaluation import evaluate, read_questions
from qa.searcher import Searcher

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("question, passage, need", [
    ("When was the alliance founded?", "It was founded to deter aggression.", "date"),
    ("Tell me where and when the treaty was signed", "The treaty binds its members.", "date"),
    ("In which years were sanctions imposed?", "Sanctions were imposed in 2006 and 2017.", None),
    ("In which years were sanctions imposed?", "Sanctions curb weapons programmes.", "date"),
    ("What is the European Defence Agency's annual budget?", "Its drills are common.", "number"),  # a possessive
    ("What is NATO's budget?", "NATO's budget is 3.8 billion euros.", None),
    ("What is NATO's role?", "NATO leads missions.", None),
    ("What is the UN's annual peacekeeping budget?", "Peacekeeping relies on funding.", "number"),
    ("What is the main cost of joint missions?", "Joint missions strain resources.", None),  # a drawback
    ("When was the alliance founded?", "It was founded in 1949.", None),
    ("Has Article 5 ever been invoked, and when?", "Article 5 binds every member.", "date"),
    ("What happens when funding is tight?", "Budgets constrain joint missions.", None),
    ("When did the alliance expand?", "It grew after the cold war.", "date"),
    ("When do disc pads need replacing?", "Replace pads thinner than the wear line.", None),
    ("When should a mission hand over to local forces?", "Once elections have been held.", None),
    ("When are peacekeepers deployed?", "Where political solutions are fragile.", None),
    ("When is the next summit?", "Summits bring leaders together.", "date"),
    ("When troops are sent in, what do they protect?", "They protect civilians.", None),  # a condition first
    ("When there's a break-in, do allies react together?", "Allies respond jointly.", None),
    ("When did the mission start, and who led it?", "The mission helped.", "date"),
    ("When did KFOR deploy, who led it?", "KFOR helped.", "date"),  # the past asks for a date
    ("Which treaty set it up, and when was it signed?", "A treaty set it up.", "date"),
    ("Which treaty set it up, and when was it signed?", "A treaty set it up in 1946.", None),
    ("What do allies do, and when do they act?", "They act together.", None),  # a condition again
    ("How many warheads does it hold?", "Several states hold many weapons.", "number"),
    ("How many members does it have?", "It has thirty-two members.", None),
    ("What was the total annual budget last year?", "Budgets constrain joint missions.", "number"),
    # A year, a label or a name is no amount; a year does say how long
    ("What was the total annual budget of KFOR?", "KFOR has served since 1999, as the Five Eyes share.", "number"),
    ("What were the total costs?", "Costs rose.", "number"),
    ("How long has KFOR been active?", "KFOR has kept the peace since 1999.", None),
    ("Could you tell me how long a deployment lasts?", "Deployments vary.", None),  # unmeasured's: a length
    ("What was the range of roles personnel play?", "Roles vary.", None),
    ("How far is the base from the border?", "It lies near the region.", "number"),
    ("How far have missions succeeded?", "They stabilised the region.", None),  # a degree
    ("How far back does KFOR's mission go?", "KFOR has served since 1999.", None),  # a year says how long
    ("What's the budget of KFOR?", "KFOR keeps the peace.", "number"),
    ("What are the costs of uneven funding?", "Uneven funding strains trust.", None),  # drawbacks, not money
    ("What are the total costs of the missions?", "Missions strain budgets.", "number"),
    ("Who decides how far a mission can go?", "The council sets its mandate.", None),  # a degree, inside
    ("Who sets the mandate, and how long does it last?", "The council sets its mandate.", None),  # unmeasured's
    ("How often do they meet?", "They meet annually in Brussels.", None),
    ("How often do they meet?", "They meet in Brussels.", "frequency"),
    ("Which has more member states, the African Union or the OAS?", "Both promote security.", "number"),
    ("Does NATO or the AU have more troops?", "Both deploy forces.", "number"),
    ("Does NATO or the AU have more troops?", "NATO can call on 300,000 troops.", None),
    ("Do larger or smaller countries gain more members' trust?", "All gain trust.", None),  # no two named
    ("Which has more influence, NATO or the UN?", "Both shape security.", None),  # nothing counted
    ("NATO annual common budget amount", "Funding relies on members.", "number"),  # a keyword query
    ("NATO annual common budget amount", "The common budget is 3.5 billion euros.", None),
    ("UN peacekeeping budget total", "Peacekeeping relies on funding.", "number"),
    ("challenges in multinational military operations total", "Firstly, coordination suffers.", None),  # a list's size
    ("Who supplies more troops, member states or the Security Council?", "Member states contribute them.",
     None),  # answered in words
    ("How is the budget amount decided?", "Members agree on it.", None),  # asks how, not how much
    ("Which sanctions were imposed, and in what year?", "Sanctions were imposed.", "date"),  # a year asked last
    ("Which sanctions were imposed, and in what year?", "Sanctions were imposed in 2006.", None),
])
def test_a_question_needs_what_the_passage_lacks(question: str, passage: str, need: str | None):
    assert unmet_need(question, passage) == need


@pytest.mark.parametrize("question, passages, dated", [
    # the one year of a passage says when something else happened
    ("Which sanctions did the UN impose on North Korea, and in what year?",
     "Diplomatic efforts alongside UN sanctions have fostered progress in North Korea.\n"
     "The Kosovo Force has kept the peace in the Balkans since 1999.", False),
    ("When did the UN impose sanctions on North Korea?",
     "The United Nations imposed sanctions on North Korea in 2006.", True),  # "UN" spelt out
    ("When did KFOR deploy to Kosovo?", "The Kosovo Force has kept the peace since 1999.", True),
    ("When was the Five Eyes partnership set up?",
     "The Five Eyes alliance shares intelligence. It was set up in 1946.", True),  # named just before
    ("When was the Five Eyes partnership set up?",
     "The Five Eyes alliance shares intelligence.\nKFOR has served since 1999.", False),
    ("When was the alliance founded?", "KFOR has served since 1999.", True),  # no name to date: unmet_need's
    ("What does the UN do in North Korea?", "Sanctions since 2006.", True),  # asks no date
])
def test_a_question_asking_when_something_named_happened_needs_a_date_said_of_it(question: str, passages: str,
                                                                                dated: bool):
    assert undated(question, passages) is not dated


@pytest.mark.parametrize("question, passages, explained", [
    ("Why did the war in Kosovo break out in the late 1990s?",
     "The Kosovo Force has kept the peace in the Balkans since 1999.", False),
    ("What caused the Kosovo conflict?", "Ethnic tensions led to the conflict in Kosovo.", True),
    ("Why did NATO bomb Serbia?", "Peacekeeping needs partners.\nNATO acted in response to atrocities.", True),
    ("Why did NATO bomb Serbia?", "NATO keeps the peace.\nSanctions were imposed because of tests.", False),
    ("Why did UN peacekeepers fail in Rwanda?", "UN peacekeepers protect civilians.", False),
    ("Why did the crisis collapse?", "Too little trust leaves it fragile.", True),  # names nothing
    # what a body did, or what it is for, may say why: only a war, a crisis or a failure needs a cause
    ("Why was the NATO-led Kosovo Force considered a success?", "KFOR has kept the peace since 1999.", True),
    ("Why were UN peacekeeping forces deployed in conflict zones?", "UN forces deploy where peace is fragile.", True),
    ("Why do allies hold joint exercises?", "Exercises build trust among allies.", True),
])
def test_a_question_asking_why_something_named_happened_needs_a_cause_said_of_it(question: str, passages: str,
                                                                                explained: bool):
    assert unexplained(question, passages) is not explained


@pytest.mark.parametrize("question, passages, named", [
    ("Name the treaty that created the African Union", "The African Union promotes security.", False),
    ("Name the treaty that created the African Union", "The Constitutive Act founded it.\nSee the NATO Charter.",
     False),  # a treaty, but not said of the African Union
    ("Which treaty founded ASEAN?", "ASEAN promotes regional security.", False),
    ("Which treaty founded ASEAN?", "The Bangkok Declaration founded ASEAN.", False),  # no treaty's name
    ("What peace agreement ended the war?", "The Dayton Agreement ended it.", True),  # names nothing: any
    # a kind of agreement may answer: "the implementation of ceasefire agreements"
    ("Which agreement do UN peacekeepers help implement?", "They support ceasefire agreements.", True),
    ("What agreement underpins NATO's collective defense?", "Allies share a commitment.", True),
    ("Name the treaty type that bilateral agreements often include.", "They include mutual defense treaties.", True),
    ("Which resolution authorised the mission?", "Resolution 1244 authorised it.", True),
    ("Which agreements help allies share intelligence?", "Bilateral agreements do.", True),  # kinds may answer
    ("What role does the treaty play?", "It binds members.", True),  # asks no name
    ("Which UN Security Council resolutions imposed sanctions on North Korea?",
     "Diplomatic efforts alongside UN sanctions on North Korea have fostered progress.", False),  # none by number
    ("Which UN Security Council resolutions imposed sanctions on North Korea?",
     "Resolution 1718 imposed UN sanctions on North Korea.", True),
])
def test_a_question_asking_which_treaty_needs_passages_that_name_one(question: str, passages: str, named: bool):
    assert unnamed_document(question, passages) is not named


@pytest.mark.parametrize("question, answer, unnamed", [
    ("Which countries belong to the Five Eyes?", "Alliances like the Five Eyes share intelligence.", True),
    ("Which countries belong to the Five Eyes?", "It joins Australia, Canada, New Zealand, the UK and the US.", False),
    ("In what country did the mission serve?", "The mission served in Somalia.", False),
    ("Which NATO member spends the most?", "Members fund joint missions.", True),  # a member of a body
    ("Which NATO allies joined?", "Norway and Canada joined.", False),
    ("List the founding members of the Organization of American States.", "The OAS promotes security.", True),
    ("Which founding members signed it?", "Belgium, France and the Netherlands signed it.", False),
    ("Which members of the alliance train together?", "All of them train together.", False),  # not founding
    ("Which nation leads it?", "It is led by us, the members.", True),  # "us" is not the US
    ("Which nations joined in the Americas?", "Nations of the Americas joined.", True),
    ("Which alliance protects Europe?", "An alliance protects it.", False),  # not asking for a country
    ("Which five countries signed the declaration?", "The declaration created ASEAN.", True),  # a word between
    ("What other nations sent troops?", "Troops came from Ghana and Nepal.", False),
    ("What do countries gain from exercises?", "Exercises build trust.", False),  # asks no country
    ("Which United Nations body authorizes missions?", "The Security Council does.", False),
    ("Which countries sent the most troops to Mali?", "The missions in Mali succeeded.", True),  # the question's own
    ("Which countries have left the alliance?", "The NATO-led Kosovo Force keeps the peace.", True),  # a body
    ("Which countries sent troops?", "Troops came to Kosovo. The Kosovo Force helped.", False),
    # A question that ranks is answered only by a sentence that ranks
    ("Which countries sent the most troops to Mali?", "Missions in Liberia and Mali succeeded.", True),
    ("Which countries became more stable after UN missions?", "Missions helped Liberia and Mali.", False),  # ranks nothing
    ("Which country is the African Union headquartered in?", "The African Union’s efforts in Somalia.", True),
    ("Which country is KFOR in?", "The NATO-led Kosovo Force keeps the peace.", False),  # the body it asks about
    ("which country is kfor in?", "The NATO-led Kosovo Force keeps the peace.", False),  # typed in lower case
    ("Which country leads KFOR?", "The NATO-led Kosovo Force keeps the peace.", True),  # who acts, not where
    ("Which countries sent the most troops to Mali?", "Missions in Mali succeeded.\nChad and Niger sent the "
                                                       "largest contingents.", False),
    ("Which country was the most recent to join?", "Finland joined in 2023, the latest member.", False),
    ("Which country was the most recent to join?", "Troops have served in Kosovo since 1999.", True),
    ("Which countries sent troops to Mali?", "Troops from Chad served in Mali.", False),
    # One that asks who leads is answered only by a sentence that says who leads
    ("Which nation leads the African Union's mission?", "The African Union’s efforts in Somalia.", True),
    ("Which nation leads the African Union's mission?", "The mission in Somalia is led by Uganda.", False),
    ("Which country chaired the summit?", "Kenya hosted the summit.", True),
    ("Which nation leads the African Union's mission?", "The mission is headquartered in Mogadishu, Somalia.", True),
    ("Which nation leads the African Union's mission?", "The President of Kenya visited the mission.", True),
    ("Which country headed the coalition?", "The coalition was spearheaded by France.", False),
    # ... but a question that only mentions leading asks no leader
    ("Which countries contributed troops to the AU-led mission?", "Uganda and Kenya contributed troops.", False),
    ("Which country's invasion led to Finland joining NATO?", "Russia's invasion of Ukraine prompted it.", False),
    ("Which country hosted the meeting of NATO heads of state?", "Lithuania hosted the summit.", False),
    ("Which countries are under NATO's regional commands?", "Poland and the Baltic states host forces.", False),
])
def test_a_question_asking_which_country_needs_an_answer_that_names_one(question: str, answer: str,
                                                                       unnamed: bool):
    assert unnamed_country(question, answer) is unnamed


@pytest.mark.parametrize("question, passages, unmentioned", [
    ("How does the Partnership for Peace work?", "Partnerships keep the peace.", True),
    ("What is NATO’s Partnership for Peace programme?", "Partnerships keep the peace.", True),
    ("How does the Organization of American States help?", "The Organization of American States helps.", False),
    ("What does the Organisation of American States do?", "The Organization of American States acts.", False),
    ("Liberia Mali UN missions", "Missions in Liberia.", False),  # names side by side are no joined name
    ("Why does NATO train?", "Training.", False),  # one-word names are judged elsewhere
    ("In the Horn of Africa, did troops help?", "Troops helped in Somalia.", False),  # a place, not a thing asked about
    ("How important is NATO for European security?", "NATO protects Europe.", False),  # an acronym, then "for"
    ("Which of NATO's missions succeeded?", "Missions succeeded.", False),
])
def test_a_question_naming_something_in_joined_words_needs_passages_that_mention_it(
        question: str, passages: str, unmentioned: bool):
    assert unmentioned_name(question, passages) is unmentioned


@pytest.mark.parametrize("question, passages, unmentioned", [
    ("How many troops can the NATO Response Force put on standby?", "The NATO force responds fast.", True),
    ("What does the Tallinn Manual say?", "Manuals from Tallinn.", True),
    ("What has the African Union done for peace?", "The African Union’s peacekeeping in Somalia.", False),
    ("What does NATO's Article 5 say?", "Article 5 of the NATO treaty.", False),  # a possessive ends a name
    ("Liberia Mali UN missions", "Missions in Liberia.", False),  # a keyword query lists names side by side
    ("Kosovo Force troops", "Troops in Kosovo.", False),
    ("Does the Indo-Pacific matter?", "The Pacific matters.", False),  # one word, judged elsewhere
    ("Why does NATO train?", "Training.", False),
    ("NATO Response Force, what is it for?", "Forces respond.", True),  # the first word counts from the second
    ("Did troops from Addis Ababa help?", "Ethiopian troops helped.", False),  # a capital: unknown_names judges it
    # An acronym ends a name, as a possessive does: "KFOR Mission" is KFOR and a mission
    ("How long has the KFOR Mission been active?", "The Kosovo Force has served since 1999.", False),
    ("What did UN Missions in Liberia achieve?", "United Nations missions in Liberia.", False),
    ("Where is NATO Article 5 written?", "Article 5 of the NATO Charter.", False),
    # A stop word or a compass word breaks a name; a name of three words may drop its first or last
    ("What is the Role Of The African Union in Somalia?", "The African Union’s peacekeeping in Somalia.", False),
    ("Which East Asian country did the UN disarm?", "The UN disarmed North Korea.", False),
    ("What does the Five Eyes Alliance do?", "The Five Eyes intelligence alliance shares data.", False),
    ("Which UN missions in West Africa succeeded?", "Missions in Liberia and Mali.", False),  # a place
    ("What does the Supreme Allied Commander Europe do?", "NATO commands forces.", True),
    # Four capitalised words or more may be a question in title case: each word somewhere is enough
    ("Why do Joint Exercises Improve Interoperability?", "Allies train in joint drills. Such exercises "
                                                         "improve their interoperability.", False),
    ("Why do Joint Exercises Improve Interoperability?", "Allies train in joint drills.", True),
])
def test_a_question_naming_something_in_capitalised_words_needs_passages_that_mention_it(
        question: str, passages: str, unmentioned: bool):
    assert unmentioned_phrase(question, passages) is unmentioned


@pytest.mark.parametrize("question, answers, missing", [
    ("Who was the first head of the UN mission in Liberia?", "The United Nations missions in Liberia and Mali.", True),
    ("Who is the current Secretary General of NATO?", "Jens Stoltenberg leads NATO.", False),
    ("Who was NATO's first Supreme Allied Commander?", "The African Union and NATO Allied Command.", True),  # bodies
    ("Who is the secretary-general of the UN?", "António Guterres leads it.", False),
    ("Who is the president of the commission?", "Ursula von der Leyen chairs it.", False),
    ("Who was the secretary-general of the UN?", "Kofi A. Annan led it.", False),  # an initial is no body
    ("Who is the leader in international peacekeeping?", "The United Nations leads.", False),  # a body may answer
    ("Who is the chief provider of peacekeeping forces?", "The United Nations.", False),
    ("Who commanded the UN mission in Mali?", "The United Nations missions in Liberia and Mali.", True),
    ("Who heads the alliance's military committee?", "Jens Stoltenberg leads NATO.", False),
    ("Who heads NATO?", "NATO (North Atlantic Treaty Organization) is a primary organization.", True),  # a body, whole
    ("Who's the commander of KFOR?", "The NATO-led Kosovo Force keeps the peace.", True),
    ("Who is the KFOR commander?", "The NATO-led Kosovo Force keeps the peace.", True),
    ("Who currently commands KFOR?", "The NATO-led Kosovo Force keeps the peace.", True),
    ("Who's NATO's secretary general?", "NATO (North Atlantic Treaty Organization) leads.", True),
    ("Who takes part in peace operations?", "Police and civilians take part.", False),  # no role asked
])
def test_a_question_asking_who_holds_a_role_needs_an_answer_naming_a_person(question: str, answers: str,
                                                                             missing: bool):
    assert no_person(question, answers) is missing


@pytest.mark.parametrize("question, answers, missing", [
    ("Where is the alliance headquartered?", "The alliance coordinates its members.", True),
    ("Where does the alliance have its headquarters?", "The alliance coordinates its members.", True),
    ("Where are NATO's headquarters located?", "NATO's headquarters are in Brussels.", False),
    # A seat is placed by a sentence that speaks of one: "in Somalia" is where a body works
    ("Where is the African Union headquartered?", "Regional alliances such as the African Union matter.\n"
                                                  "The African Union's peacekeeping in Somalia helped.", True),
    ("Where is the African Union headquartered?", "The African Union, based in Addis Ababa, keeps peace.", False),
    ("Where is the alliance headquartered?", "The alliance meets at its headquarters in Brussels.", False),
    ("Where is NATO headquartered?", "Brussels has hosted NATO's headquarters since 1967.", False),  # first word
    # ... but not a common word that starts a sentence: an adverb, an abstract noun, one also in lower case
    ("Where is the UN headquartered?", "Participation in UN missions matters.\nFurthermore, the United Nations "
                                       "deploys forces.", True),
    ("Where is NATO headquartered?", "Regional alliances matter. NATO works with regional partners.", True),
    ("Which city hosts the summit?", "Summits are hosted by members in turn.", True),
    ("Which city hosts the summit?", "The summit is held in The Hague.", False),
    ("Which city hosted the 2023 summit?", "The summit met in July.", True),  # a month is no place
    ("Which city hosted the summit?", "The United Nations Security Council met.", True),  # bodies are no place
    ("Where is the seat of the court in Mali?", "The court in Mali rules on crimes.", True),  # the question's own
    ("Where is the seat of the court?", "It sits in Senegal.", False),  # a country
    ("Where are peacekeepers located?", "They serve in conflict zones.", False),  # a kind of place may answer
    # ... but where a body named by its name is based, only a place's name answers
    ("Where is NATO based?", "NATO stands as a primary organization in collective defense.", True),
    ("Where is the European Defence Agency located?", "The agency runs joint drills.", True),
    ("Where is NATO based?", "NATO's headquarters are in Brussels.", False),
    ("Where is the ASEAN secretariat?", "ASEAN's regional forums build trust.", True),
    ("Where is the ASEAN secretariat?", "The ASEAN Secretariat is in Jakarta.", False),
    ("Where is KFOR based?", "The NATO-led Kosovo Force (KFOR) keeps the peace.", False),  # Kosovo, where it is
    ("Where are peacekeepers usually based?", "They serve in conflict zones.", False),
    ("Where was the treaty signed?", "It was signed by members.", False),  # left to the other rules
    ("What capital investment do joint exercises need?", "Exercises need funding.", False),  # money, not a city
    ("Why do allies meet in Brussels?", "They meet to plan.", False),  # not asking where
])
def test_a_question_asking_where_something_is_needs_an_answer_naming_a_place(question: str, answers: str,
                                                                             missing: bool):
    assert no_place(question, answers) is missing


@pytest.mark.parametrize("question, passages, undefined", [
    ("What is the Collective Security Treaty Organization?", "NATO (North Atlantic Treaty Organization) leads.", True),
    ("What is the North Atlantic Treaty Organization?", "NATO (North  Atlantic Treaty Organization) leads.", False),
    ("What was the Warsaw Pact?", "The warsaw  pact was dissolved.", False),  # any case, any spacing
    ("What is the North Atlantic Treaty Organisation?", "The North Atlantic Treaty Organization.", False),
    ("What is the Atlantic Council?", "The North Atlantic Treaty Organization and its council.", True),
    ("What is NATO’s Article 5?", "NATO's Article 5 binds members.", False),  # either apostrophe
    ("What is the AUKUS security pact?", "Nothing on it.", False),  # not only a name: other rules judge it
    ("What are the key frameworks?", "Nothing on them.", False),
    # A possessive or an acronym ends a name: each part is looked for
    ("What is NATO's Article 5?", "Article 5 of the NATO Charter binds members.", False),
    ("What are NATO Stabilisation Missions?", "NATO’s stabilization missions in Kosovo.", False),
    ("What is the UN Security Council?", "The United Nations Security Council authorizes missions.", False),
    ("What is NATO's Article 4?", "Article 5 of the NATO Charter binds members.", True),
    ("What is the Partnership for Peace?", "Partnerships keep the peace.", True),  # joined words stay one name
])
def test_a_question_asking_what_a_name_is_needs_passages_that_mention_it(question: str, passages: str,
                                                                         undefined: bool):
    assert undefined_name(question, passages) is undefined


@pytest.mark.parametrize("question, amount", [
    ("How many troops serve in KFOR?", True),
    ("How much funding did the EU provide?", True),
    ("How much does NATO spend on exercises?", True),
    ("How much does the United States contribute to the NATO budget?", True),  # an amount follows the verb
    ("How much does funding matter for joint missions?", False),
    ("How much do allies rely on each other?", False),
    ("How much more effective are alliances?", False),
    ("Why do allies train together?", False),
])
def test_how_much_asks_for_an_amount_unless_it_asks_how_far(question: str, amount: bool):
    assert asks_amount(question) is amount


@pytest.mark.parametrize("question, passages, counted", [
    ("How many troops serve in KFOR?", "KFOR has kept the peace since 1999.", False),  # a year is no count
    ("How many troops serve in KFOR?", "KFOR fields about 4,000 troops.", True),
    ("How many nations share intelligence?", "The Five Eyes share intelligence.", False),  # a name, not a count
    ("How many nations share intelligence?", "Five nations share it.", True),  # a sentence may start with one
    ("How much flour does a loaf take?", "A loaf takes half a bag.", True),
    ("How many steps are there?", "1. Remove the wheel.\n2. Pull out the tube.", False),  # list numbers
    ("Why do allies train together?", "No numbers here.", True),  # not asking how many
    ("How much does NATO spend on exercises?", "NATO funds joint exercises.", False),
    ("How many personnel does the mission have?", "The mission has 1800 personnel.", True),  # no year
    ("How many allies took part?", "It was one of the largest drills.", False),  # "one of" is no count
    ("How many troops can it field?", "It is enshrined in Article 5 of the NATO Charter.", False),  # a label
    ("How many members must be attacked?", "An armed attack against one member is an attack against all.", True),
    # a bare "one" answers only what it takes
    ("How many member states does NATO have?", "An armed attack against one member is an attack against all.", False),
    ("How many nations take part in the drill?", "Each one trains with the others.", False),
    ("How many allies are needed to act?", "One ally may ask the others.", True),
    ("How many allies share the load?", "They help one another.", False),
    ("How much does funding matter for joint missions?", "Funding shapes joint missions.", True),  # how far
    ("How much more effective are alliances?", "Alliances are more effective.", True),
    ("How many years has KFOR served?", "KFOR has kept the peace since 1999.", True),  # a year says how long
    # How many times: a count of occasions
    ("How many times has Article 5 been invoked?", "An attack against one member is an attack against all.", False),
    ("How many times has Article 5 been invoked?", "Article 5 has been invoked once, after 9/11.", True),
    ("How many times did the allies meet?", "They met three times in 2020.", True),
    ("How many times did the allies meet?", "They met on several occasions.", True),
])
def test_a_question_asking_how_many_needs_passages_that_hold_a_count(question: str, passages: str, counted: bool):
    assert uncounted(question, passages) is not counted


@pytest.mark.parametrize("question, passages, measured", [
    ("What percentage of NATO's budget does the US pay?", "An attack against one member is an attack on all.", False),
    ("What percentage of NATO's budget does the US pay?", "The US pays about 16% of the common budget.", True),
    ("What proportion of troops come from Africa?", "Half of the troops come from African states.", True),
    ("What percentage of members spend 2 percent?", "Most members now spend 2 percent of GDP.", True),
    ("How long do UN deployments usually last?", "Deployments support fragile governments.", False),
    ("Could you tell me how long a deployment lasts?", "Deployments vary.", False),
    ("Who sets the mandate, and how long does it last?", "The council sets its mandate.", False),
    ("How long do deployments last?", "Their work is ongoing and long-term.", False),  # says no length
    ("How long do UN deployments usually last?", "Most deployments last six months.", True),
    ("How long do UN deployments usually last?", "Deployments are often lengthy.", True),
    ("How long has KFOR served?", "KFOR has kept the peace since 1999.", True),
    ("How long ago was NATO founded?", "NATO helps its members.", True),  # a date, judged elsewhere
    ("Why do alliances last so long?", "Shared interests keep them together.", True),  # not asked first
])
def test_a_question_asking_what_share_or_how_long_needs_passages_that_say(question: str, passages: str,
                                                                         measured: bool):
    assert unmeasured(question, passages) is not measured


@pytest.mark.parametrize("question, passages, named", [
    ("What are the official languages of NATO?", "Coordination suffers from language barriers.", False),
    ("What are the official languages of NATO?", "NATO works in English and French.", True),
    ("Which language do ASEAN officials use?", "ASEAN's working language is English.", True),
    ("Which language do the officials use?", "They polish their reports.", False),  # a language as written
    ("What language barriers slow joint operations?", "Differing languages slow them.", True),  # asks no language
    ("What currency does NATO use?", "Euro-Atlantic security matters.", False),  # not a hyphened word
    ("What currency does the African Union use?", "The African Union funds peace missions.", False),
    ("What currency do EU members share?", "Most of them pay in euros.", True),
    ("Why do troops speaking different languages struggle?", "Language barriers slow them.", True),  # asks no language
])
def test_a_question_asking_which_language_or_currency_needs_passages_that_name_one(question: str, passages: str,
                                                                                  named: bool):
    assert unnamed_kind(question, passages) is not named


@pytest.mark.parametrize("question, passages, expanded", [
    ("What does SHAPE stand for in NATO's command structure?", "NATO has unified command structures.", False),
    ("What does SHAPE stand for?", "Supreme Headquarters Allied Powers Europe leads operations.", True),
    ("What does NATO stand for?", "NATO (North Atlantic Treaty Organization) leads missions.", True),
    ("What does KFOR stand for?", "The NATO-led Kosovo Force (KFOR) keeps the peace.", True),  # a name in brackets
    ("what is the full name of the OAS?", "The Organization of American States promotes security.", True),
    ("What is RIMPAC short for?", "Joint exercises such as RIMPAC build trust.", False),
    ("What does interoperability mean?", "Forces operate together.", True),  # no acronym
    ("What does ASEAN mean for regional security?", "ASEAN builds partnerships.", True),  # not its meaning
    ("What does NATO mean?", "NATO builds partnerships.", False),
])
def test_a_question_asking_what_an_acronym_stands_for_needs_passages_that_spell_it_out(
        question: str, passages: str, expanded: bool):
    assert unexpanded(question, passages) is not expanded


@pytest.mark.parametrize("question, answer, named", [
    ("What was the name of the African Union mission in Somalia?",
     "The African Union’s peacekeeping efforts in Somalia illustrate collaboration.", False),
    ("What is the name of the NATO-led force in Kosovo?", "The NATO-led Kosovo Force (KFOR) keeps the peace.", True),
    ("What is the name of the article on collective defence?", "It is enshrined in Article 5 of the Charter.", True),
    ("What was the mission in Somalia?", "The African Union’s efforts in Somalia.", True),  # not asking for a name
    ("What was the name of the mission in Somalia?", "AMISOM was deployed to Somalia.", True),  # an acronym first
    ("What’s the name of the mission in Somalia?", "The mission in Somalia.", False),
    ("What is the name of the mission?", "", True),  # no answer: nothing to judge
    ("What is the name of the mission in Mali?", "The missions in Liberia and Mali succeeded.", False),  # a country
    ("What is the name of the mission in Mali?", "The mission MINUSMA serves in Mali.", True),
    ("What is the name of the country that hosts the mission?", "The mission is based in Liberia.", True),
    # An acronym of the question spelled out is no new name
    ("What is the name of the UN mission in Mali?", "The United Nations missions in Liberia and Mali succeeded.",
     False),
    ("What is the name of the NATO force?", "NATO (North Atlantic Treaty Organization) leads KFOR.", True),
])
def test_a_question_asking_for_a_name_needs_an_answer_with_a_name_it_lacks(question: str, answer: str, named: bool):
    assert no_new_name(question, answer) is not named


@pytest.mark.parametrize("question, answer, generic", [
    ("Which nations may lack the personnel to join fully?", "Some nations may lack the personnel to join fully.", True),
    ("Which countries founded NATO?", "By forming partnerships, countries can pool resources.", False),  # says nothing of founding
    ("Which countries belong to the Five Eyes?", "Alliances like the Five Eyes share intelligence.", False),  # no countries
    ("Which states may lack the personnel to join?", "Member states may lack the personnel to join.", True),
])
def test_an_answer_about_countries_in_general_answers_a_question_it_restates(searcher: Searcher, question: str,
                                                                           answer: str, generic: bool):
    assert answered_generically(question, answer, searcher.retriever.lexical) is generic


def test_which_country_questions_the_articles_answer_in_general_terms_are_not_flagged(searcher: Searcher):
    assert not searcher.ask("Which nations may lack the infrastructure to engage fully in joint initiatives?").low_confidence
    assert searcher.ask("Which countries founded NATO?").low_confidence


def test_a_country_question_is_judged_the_same_whatever_k(searcher: Searcher):
    """The right section is often second or third: the answers of the best three are read, for any k."""
    unanswered = "Which countries belong to the Five Eyes intelligence alliance?"
    answered = "In which country has the African Union carried out peacekeeping?"
    assert [searcher.ask(unanswered, k).low_confidence for k in (1, 2, 5)] == [True] * 3
    assert [searcher.ask(answered, k).low_confidence for k in (1, 2, 5)] == [False] * 3
    assert [len(searcher.ask(answered, k).passages) for k in (1, 2, 5)] == [1, 2, 5]


def test_many_lead_in_words_do_not_stall_the_rules():
    """ "so, " reads as a lead-in word or as a clause: matched both ways, 18 of them took seconds and
    40 would take hours. A thread's join bounds the wait so a regression fails instead of hanging."""
    question = "so, " * 40 + "how many troops does KFOR have?"
    result: list[str | None] = []
    worker = threading.Thread(target=lambda: result.append(unmet_need(question, "KFOR keeps the peace.")), daemon=True)
    worker.start()
    worker.join(60)
    assert result == ["number"]


def test_names_are_proper_nouns_acronyms_and_numbers_but_not_the_first_word():
    assert names_in("Which role does ASEAN play under Article 5?") == ["ASEAN", "Article", "5"]
    assert names_in("What is peacekeeping?") == []


def test_out_of_scope_questions_are_flagged_and_answerable_ones_are_not(searcher: Searcher):
    """Floors just under what the rules reach today, so a regression in either direction fails."""
    oos = evaluate(read_questions(DATA / "oos.jsonl"), lambda b: searcher.ask_many(b, k=5)).metrics()
    own = evaluate(read_questions(DATA / "own.jsonl"), lambda b: searcher.ask_many(b, k=5)).metrics()
    assert oos["oos_flagged"] >= 0.98  # 1.0 today (all 57)
    assert own["in_scope_flagged"] <= 0.05


@pytest.mark.parametrize("question", [
    "How important is NATO for European security?",
    "Which of NATO's frameworks ensures mutual protection?",
    "Who is the leader in international peacekeeping?",
    "How many members must be attacked to trigger Article 5?",
    "Which United Nations body authorizes peacekeeping missions?",
    "What is the name of the UN body that authorizes peacekeeping missions?",
    "Where do multinational exercises take place, and are they based on real scenarios?",
    # A section's heading, named in the question: the rules read headings too
    "How does the Funding and Resource Allocation for International Security Initiatives work?",
    # Capitals that tell no names
    "WHAT ARE THE CHALLENGES OF MULTINATIONAL OPERATIONS?",
    "What Are The Challenges Of Multinational Operations?",
    # A second review of the seventeenth stop's rules
    "Which country has NATO kept the peace in since 1999?",  # "Kosovo Force" in a line that restates it
    "WHICH COUNTRY IS KFOR IN?",
    "What is NATO's Article 5?",
    "How far back does KFOR's mission go?",
    "What does the Five Eyes Alliance do?",
    "What role does the AU play in Somalia?",
    # A review of the nineteenth stop's rules on kinds of answer
    "What language barriers hinder multinational operations?",
    "Which language skills do military personnel gain from international cooperation?",
    "What does ASEAN mean for regional security partnerships?",
    "How many members would have to be attacked to trigger NATO's collective defense?",
    "How many members should be attacked before collective defense applies?",
    "What is the budget allocation process for international security initiatives?",
    "What are the main budget challenges facing international security initiatives?",
    "What is the alliance's cost-sharing approach?",
    "What is the impact of each nation's budget constraints on joint initiatives?",
    "What is the reason the alliance's cost burden is unequal?",
    "Who decides when and where UN peacekeeping missions are deployed?",
    "Which NATO members commit to respond collectively to an external threat?",
    "Which NATO allies share intelligence?",
    "How often should nations hold diplomatic engagements and joint training exercises to build trust?",
    "What is the full name of the UN?",
    "What does RIMPAC stand for, and what kind of activity is it?",  # a low score, but spelt out
    # the twentieth stop's review: what a body did or is for may say why; a kind of agreement answers
    "Why was the NATO-led Kosovo Force considered a success?",
    "Why were UN peacekeeping forces deployed in conflict zones?",
    "Why were the UN missions in Liberia and Mali considered successful?",
    "What caused the challenges faced by UN peacekeeping?",
    "What triggered NATO's collective defense commitment under Article 5?",
    "What agreement underpins NATO's collective defense?",
    "Which agreement do UN peacekeepers help implement?",
    "Which contributes more personnel to UN peacekeeping missions, member states or the Security Council?",
    # typed in lower case, read with the capitals of their names (confidence.truecased)
    "how does nato respond when a member is attacked",
    "what does the au do for peace in africa",
    "do blue helmets sign up voluntarily",
    "how do allies stop small flare-ups from snowballing into wars",
    "whats the point of article 5",
])
def test_answerable_questions_a_review_found_flagged_are_not(searcher: Searcher, question: str):
    assert not searcher.ask(question).low_confidence


@pytest.mark.parametrize("question", [
    "SEATO military exercises",  # an unknown acronym first
    "What peacekeeping troops has Nigeria sent?",  # a name two edits from Liberia is not Liberia
    "What did NATO do in Senegal?",  # ... nor from "several"
    "Which ASEAN countries hold joint drills?",  # a which-country question, qualified by a name
    "Roughly how many troops serve in KFOR?",  # what it asks, after a word or a clause
    "In KFOR, how many troops serve?",
    "So when was NATO founded?",
    "How many troops can the NATO Response Force put on standby?",  # a name of several words, unmentioned
    "Which country leads KFOR?",  # "Kosovo Force" names where KFOR is, not who leads it
    "What's the budget of KFOR?",
    "Who's NATO's secretary general?",
    # the twentieth stop's review: a cause, a treaty or a count the articles give of nothing asked
    "Which has more peacekeepers, KFOR or the UN mission in Mali?",
    "UN peacekeeping budget total",
    "Which treaty founded ASEAN?",
    "Why did the civil war in Liberia break out?",
    "What caused the conflict in Mali?",
])
def test_unanswerable_questions_a_review_found_unflagged_are_flagged(searcher: Searcher, question: str):
    assert searcher.ask(question).low_confidence


@pytest.mark.parametrize("question, flagged", [
    ("What percentage of NATO's budget does the US pay?", True),
    ("What are NATO's official working languages?", True),
    ("Name the city where the African Union is headquartered.", True),
    ("Which NATO member spends the most on its military?", True),
    ("List the founding members of the Organization of American States.", True),
    ("Tell me where and when the treaty establishing NATO was signed", True),
    ("what is the annual budget of UN peacekeeping operations", True),  # a number, at any score
    ("When was the African Union's mission in Somalia first deployed?", True),  # a date, at any score
    ("Since when has KFOR kept the peace in the Balkans?", False),
    # A review's unanswerable questions that "may", the verb, let through as a date
    ("When did international bodies establish norms for autonomous weapons?", True),
    ("In which year did political shifts in partner countries alter commitments?", True),
    ("What's NATO's official language?", True),
    ("What are the official languages of NATO?", True),
    ("What currency does the African Union use?", True),
    ("What does SHAPE stand for in NATO's command structure?", True),
    ("How many member states does NATO have today?", True),
    ("What does NATO stand for?", False),
    ("What does KFOR stand for?", False),
    ("How long has KFOR been keeping the peace in Kosovo?", False),
])
def test_questions_asking_for_a_kind_of_answer_are_flagged_when_the_passages_have_none(
        searcher: Searcher, question: str, flagged: bool):
    assert searcher.ask(question, k=5).low_confidence is flagged


def test_a_region_is_a_known_name_where_the_passages_name_a_country_in_it(searcher: Searcher):
    lexical = searcher.retriever.lexical
    question = "In the Horn of Africa, did troops from several countries help steady fragile states?"
    assert unknown_names(question, lexical, "The African Union's efforts in Somalia helped.") == []
    assert "Horn" in unknown_names(question, lexical, "Troops helped fragile states.")
    assert unknown_names("Did the Sahel missions work?", lexical, "The mission in Mali worked.") == []


def test_a_capital_is_a_known_name_where_the_passages_name_its_country(searcher: Searcher):
    lexical = searcher.retriever.lexical
    question = "Did sanctions make Pyongyang disarm?"
    assert unknown_names(question, lexical, "UN sanctions on North Korea helped.") == []
    assert unknown_names(question, lexical, "Sanctions helped.") == ["Pyongyang"]
    assert unknown_names("Were peacekeepers sent to Monrovia and Bamako?", lexical, "Missions in Liberia and Mali.") == []
    assert "Ababa" in unknown_names("Did Addis Ababa send troops?", lexical, "Troops from Africa.")  # no Ethiopia
    # ... as is a short name of a body, and a compass word names nothing
    assert unknown_names("What does the AU do in Somalia?", lexical, "The African Union in Somalia.") == []
    assert unknown_names("Did KFOR serve in the Western Balkans?", lexical, "KFOR in the Balkans.") == []


def test_names_are_corrected_by_one_edit_at_most_and_a_transposition_is_one(searcher: Searcher):
    lexical = searcher.retriever.lexical
    assert "liberia" not in lexical.query_terms("What did NATO do in Nigeria?")  # two edits
    assert "african" in lexical.query_terms("What is the role of the Afircan Union?")  # one transposition
    assert lexical.knows("Afircan") and not lexical.knows("Nigeria")



@pytest.mark.parametrize("file, floors", [
    # today: recall@1 0.825, recall@5 0.975, oos_flagged 0.95, in_scope_flagged 0
    ("independent.jsonl", {"recall@1": 0.8, "recall@5": 0.95, "oos_flagged": 0.9}),
    # a stop later: recall@1 0.85, recall@5 1.0, oos_flagged 1.0 (0.90 before the rule on which
    # country ranks), in_scope_flagged 0 (0.017 before a capital counted as its country)
    ("independent2.jsonl", {"recall@1": 0.82, "recall@5": 0.95, "oos_flagged": 0.95}),
    # recall@1 0.825, recall@5 0.95, oos_flagged 0.933 (0.867 before the rules on names of several
    # words and on sentences that speak of a seat), in_scope_flagged 0.025
    ("independent3.jsonl", {"recall@1": 0.8, "recall@5": 0.9, "oos_flagged": 0.9}),
    # never read: recall@1 0.80, recall@5 0.95, oos_flagged 0.967 (0.90 before the rule on
    # places, 0.933 before the one on names of several words; counted but not read),
    # in_scope_flagged 0.025
    ("independent4.jsonl", {"recall@1": 0.75, "recall@5": 0.9, "oos_flagged": 0.95}),
    # never read either, written a stop later: recall@1 0.84, recall@5 0.98, oos_flagged 1.0 (0.95
    # before the wider forms of the rules on amounts, seats and people), in_scope_flagged 0.02 (0.04
    # before a capital counted as its country)
    ("independent5.jsonl", {"recall@1": 0.8, "recall@5": 0.95, "oos_flagged": 0.95}),
    # never read, written to check the mutual match: recall@1 0.85 (0.80 without it), recall@5
    # 0.975, oos_flagged 0.967, in_scope_flagged 0.05
    ("independent6.jsonl", {"recall@1": 0.8, "recall@5": 0.95, "oos_flagged": 0.9}),
    # never read, written in the sixteenth stop: recall@1 0.80, recall@5 1.0, oos_flagged 0.967,
    # in_scope_flagged 0.05 (the same with the code before that stop's changes)
    ("independent7.jsonl", {"recall@1": 0.75, "recall@5": 0.95, "oos_flagged": 0.9}),
    # written in the seventeenth stop and run before it was read: recall@1 0.875, recall@5 0.975,
    # oos_flagged 0.833 (0.80 without the rule on names of several words), in_scope_flagged 0.05;
    # once read, the wider rules on amounts, seats and people and the one on which country ranks:
    # oos_flagged 0.967; with a capital counted as its country, in_scope_flagged 0; 0.933 once an
    # acronym ended a name ("UN Security Council" had matched no passage's "United Nations ...")
    ("independent8.jsonl", {"recall@1": 0.85, "recall@5": 0.95, "oos_flagged": 0.9}),
    # never read, written after this stop's rules to check them: recall@1 0.95, recall@5 1.0,
    # oos_flagged 0.967 (0.933 with the code before them), in_scope_flagged 0.025
    ("independent9.jsonl", {"recall@1": 0.9, "recall@5": 0.95, "oos_flagged": 0.9}),
    # written at the end of the seventeenth stop as a last check: recall@1 0.90, recall@5 0.975,
    # oos_flagged 0.933 (0.90 with the session-start rules), in_scope_flagged 0.075 (the same with
    # them); in the eighteenth: recall@1 0.875 with short names spelt out, in_scope_flagged 0.05
    # once a region counted as its countries
    ("independent10.jsonl", {"recall@1": 0.85, "recall@5": 0.95, "oos_flagged": 0.9}),
    # written in the eighteenth stop, after short names were spelt out for the encoder, and never
    # read: recall@1 0.875 (0.85 without them), recall@5 1.0, oos_flagged 0.90, in_scope_flagged 0.025
    ("independent11.jsonl", {"recall@1": 0.85, "recall@5": 0.95, "oos_flagged": 0.85}),
    # written at the end of the eighteenth stop, after its confidence rules, as a last check, never
    # read: recall@1 0.775 (0.75 of its paraphrases, 0.6 of its multi-section questions), recall@5
    # 0.95, oos_flagged 0.90, in_scope_flagged 0.025
    ("independent12.jsonl", {"recall@1": 0.75, "recall@5": 0.925, "oos_flagged": 0.85}),
    # written in the nineteenth stop and run before it was read: recall@1 0.875, recall@5 1.0,
    # oos_flagged 0.85, in_scope_flagged 0.025; once read, the rules on acronyms spelt out and on a
    # bare "one" and on budgets named with a possessive: oos_flagged 0.925
    ("independent13.jsonl", {"recall@1": 0.85, "recall@5": 0.95, "oos_flagged": 0.9}),
    # written later in the nineteenth stop and run before it was read: recall@1 0.85, recall@5 0.95,
    # oos_flagged 0.725, in_scope_flagged 0.025; once read, dates and figures at any score, "Name
    # the city", "official working languages", "Which NATO member", "where and when", "List the
    # founding members": oos_flagged 0.90
    ("independent14.jsonl", {"recall@1": 0.825, "recall@5": 0.925, "oos_flagged": 0.875}),
    # written to check that the nineteenth stop's rules refuse no answerable question, run before
    # it was read: recall@1 0.90, recall@5 1.0, oos_flagged 0.833, in_scope_flagged 0 of 50; once
    # read, a budget with a word before it ("the UN's annual peacekeeping budget"): oos_flagged 0.867
    ("independent15.jsonl", {"recall@1": 0.875, "recall@5": 0.95, "oos_flagged": 0.833}),
    # written at the end of the nineteenth stop, after its rules, as a last check, never read:
    # recall@1 0.95, recall@5 1.0, oos_flagged 0.867 (0.833 with the code before that stop),
    # in_scope_flagged 0
    ("independent16.jsonl", {"recall@1": 0.9, "recall@5": 0.95, "oos_flagged": 0.833}),
    # written after the review of the nineteenth stop's rules, never read: recall@1 0.875, recall@5
    # 0.925, oos_flagged 0.90 (the same with the code before that stop), in_scope_flagged 0
    ("independent17.jsonl", {"recall@1": 0.85, "recall@5": 0.9, "oos_flagged": 0.85}),
    # written in the twentieth stop while its rules were made, never read: recall@1 0.825, recall@5
    # 0.95, oos_flagged 0.967 (1.0 with that stop's rules before a review narrowed them, 0.967 with
    # the code before that stop), in_scope_flagged 0
    ("independent18.jsonl", {"recall@1": 0.8, "recall@5": 0.925, "oos_flagged": 0.95}),
    # written in the twenty-first stop after its partner model was chosen, never read: recall@1
    # 0.95, recall@5 1.0, oos_flagged 0.867, in_scope_flagged 0.025
    ("independent19.jsonl", {"recall@1": 0.9, "recall@5": 0.95, "oos_flagged": 0.833}),
    # written at the end of that stop, never read: recall@1 0.85, recall@5 0.975, oos_flagged 0.80,
    # in_scope_flagged 0
    ("independent20.jsonl", {"recall@1": 0.8, "recall@5": 0.95, "oos_flagged": 0.75}),
])
def test_questions_written_without_the_code_keep_their_floors(searcher: Searcher, file: str, floors: dict):
    """tests/data/independent*.jsonl, written by sessions that never read the code: floors just
    under today's figures, and at most 5 % of answerable questions flagged (or the file's own
    in_scope_flagged ceiling, where today's figure is above that)."""
    m = evaluate(read_questions(DATA / file), lambda b: searcher.ask_many(b, k=10)).metrics()
    ceiling = floors.get("in_scope_flagged", 0.05)
    assert {name: m[name] for name in floors if name != "in_scope_flagged" and m[name] < floors[name]} == {}
    assert m["in_scope_flagged"] <= ceiling


def test_a_name_may_start_with_a_capital_outside_ascii():
    assert names_in("What did the Élysée Treaty do?") == ["Élysée", "Treaty"]
    assert unmentioned_phrase("What did the Élysée Treaty establish?", "Treaties matter.")
    assert not unmentioned_phrase("What did the Élysée Treaty establish?", "The Élysée Treaty set up meetings.")



@pytest.mark.parametrize("typed, passages, read", [
    ("is sweden a member of nato", "Allies meet at NATO. NATO members vote.", "is Sweden a member of NATO"),
    ("what did kfor do in the horn of africa", "The Kosovo Force (KFOR) kept the peace.",
     "what did KFOR do in the Horn of Africa"),
    ("which languages does the au use", "", "which languages does the AU use"),  # a short name listed
    ("how do military alliances work", "Military alliances matter. Military drills help.",
     "how do military alliances work"),  # capitalised only where a sentence starts
    ("can you tell us how nato works", "", "can you tell us how NATO works"),  # "us", not the US
])
def test_a_question_typed_in_lower_case_gets_the_capitals_of_its_names(typed: str, passages: str, read: str):
    assert truecased(typed, passages) == read


def test_how_the_passages_write_a_word_is_told_by_its_first_occurrences():
    # A passage of a million words is not read to its end for every question typed in lower case.
    named = "Forces train together. " + "Allies met at Zorblax. " * MOST_SEEN
    unnamed = "They tell zorblax nothing. " * 5 * MOST_SEEN
    assert truecased("how does zorblax train", named + unnamed) == "how does Zorblax train"
    assert truecased("how does zorblax train", unnamed + named) == "how does zorblax train"


@pytest.mark.parametrize("question", [
    "Is Sweden a member of NATO?",
    "Which UN Security Council resolutions imposed sanctions on North Korea?",
    "Which ASEAN countries run joint maritime patrols in the Strait of Malacca?",
    "How many troops does KFOR currently have deployed in Kosovo?",
])
def test_an_unanswerable_question_is_flagged_however_it_is_typed(searcher: Searcher, question: str):
    assert searcher.ask(question).low_confidence
    assert searcher.ask(question.lower().rstrip("?")).low_confidence
    assert searcher.ask(question.upper()).low_confidence
    assert searcher.ask("  ".join(question.split()) + "\n").low_confidence
