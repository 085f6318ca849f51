"""Retrieval: exact top-n selection, fused ranking, and what each signal contributes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.retrieval import SAMPLED_TOP_ABOVE, _top


@pytest.mark.parametrize("size", [1_000, SAMPLED_TOP_ABOVE + 1, 1_000_000])
@pytest.mark.parametrize("zeros", [0.0, 0.5, 0.999])
def test_top_selects_exactly_the_best_positive_scores(size: int, zeros: float):
    rng = np.random.default_rng(size)
    scores = rng.random(size).astype(np.float32)
    scores[rng.random(size) < zeros] = 0
    got = _top(scores, 64)
    positive = np.flatnonzero(scores > 0)
    expected = positive[np.argsort(-scores[positive], kind="stable")][:64]
    assert sorted(scores[got]) == sorted(scores[expected])
    assert (scores[got] > 0).all()


def test_top_of_nothing_is_empty():
    assert len(_top(np.zeros(1_000_000, dtype=np.float32), 64)) == 0


def test_ranking_uses_sentences_and_exact_names(searcher):
    """A paraphrase finds its section through sentence meaning; an acronym through BM25."""
    lexical = searcher.retriever.lexical
    question = "Which clause says an attack on one ally is an attack on all?"
    ranked = searcher.retriever.candidates(searcher.encode([question])[0], lexical.query_terms(question), 5)
    records = searcher.reader.sections([c.section for c in ranked[:3]])
    assert "NATO’s Collective Defense Mechanism" in [r.heading for r in records]
    assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)
    question = "RIMPAC"
    ranked = searcher.retriever.candidates(searcher.encode([question])[0], lexical.query_terms(question), 5)
    top = searcher.reader.sections([ranked[0].section])[0]
    assert top.heading == "Case Studies of Successful Military Cooperation Roles" and ranked[0].lexical > 0


def test_misspelt_words_are_corrected_against_the_corpus(searcher):
    lexical = searcher.retriever.lexical
    assert lexical.correct(["peacekeepng", "interoperabilty", "nato", "xyzzyq"]) == [
        "peacekeeping", "interoperability", "nato", "xyzzyq"]
    # Not in the corpus as such, but "countries" is: the same stem, so no typo.
    assert "country" not in lexical.vocabulary and lexical.query_terms("country") == lexical.query_terms("countries")
    assert lexical.correct(["country"]) == ["country"]


def test_the_encoder_reads_typos_corrected_but_real_words_as_written(searcher):
    lexical, encoder = searcher.retriever.lexical, searcher.encoder
    assert encoder.knows_word("defence") and not encoder.knows_word("cybr")
    # "defence" is a real word (the corpus spells it "defense"): left to the model, which knows it.
    assert lexical.respell("cybr defence colaborations?", encoder.knows_word) == "cyber defence collaborations?"
    assert lexical.respell("Cybr Defence", lambda word: False) == "cyber defense"
    assert lexical.respell("What does NATO's Article 5 say?", encoder.knows_word) == "What does NATO's Article 5 say?"


def test_a_misspelt_question_finds_what_its_spelt_form_finds(searcher):
    typo, spelt = searcher.encode(["cybr defence colaborations", "cyber defence collaborations"])
    assert float(typo @ spelt) > 0.9999
    top = searcher.ask("cybr defence colaborations").passages[0].citation
    assert top.section == "Increasing Use of Technology and Cyber Defense Collaborations"


def test_second_best_is_each_sections_runner_up_sentence():
    from qa.retrieval import _second_best

    rng = np.random.default_rng(9)
    for _ in range(50):
        lengths = rng.integers(0, 5, size=12)
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        sims = rng.choice([0.1, 0.2, 0.5, 0.7], size=bounds[-1]).astype(np.float32)  # ties on purpose
        runs = [sims[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
        best = np.array([r.max() if len(r) else -1.0 for r in runs], dtype=np.float32)
        expected = [sorted(r)[-2] if len(r) > 1 else b for r, b in zip(runs, best)]
        np.testing.assert_array_equal(_second_best(sims, bounds, best), expected)


def test_postings_in_memory_and_read_from_disk_score_like_bm25s(seed_index, monkeypatch):
    """Serving reads bm25s's saved arrays itself (in RAM, or term by term from disk above
    MMAP_ABOVE_BYTES): both must give bm25s's own scores."""
    import bm25s

    import qa.lexical
    from qa.lexical import LexicalIndex
    from qa.store import RowFile, resolve_generation

    path = resolve_generation(seed_index) / "lexical"
    reference = bm25s.BM25.load(str(path))
    in_ram = LexicalIndex.load(path)
    monkeypatch.setattr(qa.lexical, "MMAP_ABOVE_BYTES", 0)
    from_disk = LexicalIndex.load(path)
    try:
        assert all(isinstance(p, np.ndarray) for p in in_ram._postings)
        assert all(isinstance(p, RowFile) for p in from_disk._postings)
        for question in ["What does Article 5 say?", "peacekeeping peacekeeping missions", "ASEAN AU SCO",
                         "cyber defence colaboration", "nothing matches xyzzy"]:
            terms = in_ram.query_terms(question)
            known = [t for t in terms if t in reference.vocab_dict]
            expected = reference.get_scores(known) if known else np.zeros(reference.scores["num_docs"])
            np.testing.assert_allclose(in_ram.scores(terms), expected, rtol=1e-6)
            np.testing.assert_array_equal(from_disk.scores(terms), in_ram.scores(terms))
    finally:
        from_disk.close()
    with pytest.raises(ValueError, match="closed"):
        from_disk.scores(in_ram.query_terms("peacekeeping"))


def test_serving_never_imports_bm25s_or_scipy(seed_index):
    """bm25s builds the index; loading and asking read its arrays without it (0.2 s of start-up)."""
    import subprocess
    import sys

    code = (
        "import sys, qa\n"
        f"s = qa.load({str(seed_index)!r})\n"
        "assert s.ask('What does Article 5 say?').passages\n"
        "print('bm25s' in sys.modules, 'scipy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_both_encoders_know_the_same_whole_words(searcher):
    from qa.embedding import SentenceTransformerEncoder

    reference = SentenceTransformerEncoder(searcher.encoder.name)
    for word in ("defence", "Alliance", "cybr", "colaborations", "swapping"):
        assert reference.knows_word(word) == searcher.encoder.knows_word(word), word


def test_a_which_country_question_puts_the_passage_naming_one_first(searcher):
    """The Somalia section ranks second on retrieval alone; its answer names the country."""
    question = "In which country has the African Union carried out peacekeeping?"
    for k in (1, 5):
        passages = searcher.ask(question, k).passages
        assert passages[0].citation.section == "Case Studies of Successful International Security Initiatives"
        assert "Somalia" in passages[0].answer.text
        assert [p.rank for p in passages] == list(range(1, k + 1))
        assert all(a.score >= b.score for a, b in zip(passages, passages[1:]))


def test_only_which_country_questions_are_reordered(searcher):
    """The same words without asking for a country keep retrieval's order."""
    passages = searcher.ask("Where has the African Union carried out peacekeeping?", 5).passages
    retrieved = searcher.retriever.candidates(*_query(searcher, "Where has the African Union carried out peacekeeping?"))
    assert [p.citation.section for p in passages] == [searcher.reader.sections([c.section])[0].heading
                                                       for c in retrieved[:5]]


def _query(searcher, question: str):
    vectors, pieces = searcher.embed([question], alone=True)
    return vectors[0], searcher.retriever.lexical.query_terms(question), 5, pieces[0]


def test_faiss_searches_on_one_openmp_thread_and_leaves_the_thread_as_it_found_it(searcher):
    """Whichever thread searches (the caller's, a server worker), and without changing what the
    thread's other OpenMP code (torch) gets afterwards."""
    import threading

    import faiss

    import qa.neighbours

    seen: list[int] = []
    search = qa.neighbours.Neighbours._search

    def spy(self, queries, n):  # noqa: ANN001, ANN202
        seen.append(faiss.omp_get_max_threads())
        return search(self, queries, n)

    vector = searcher.encode(["How does NATO respond to an attack?"])
    qa.neighbours.Neighbours._search = spy
    try:
        after: list[int] = []

        def in_a_new_thread() -> None:
            before = faiss.omp_get_max_threads()
            searcher.retriever.neighbours.search(vector, 5)
            after.append(faiss.omp_get_max_threads() - before)

        worker = threading.Thread(target=in_a_new_thread)
        worker.start()
        worker.join()
    finally:
        qa.neighbours.Neighbours._search = search
    assert seen == [1]
    assert after == [0]


def test_a_lead_in_is_no_answer_when_its_section_has_other_sentences(searcher):
    """ "Key takeaways include:" was the answer; one of the takeaways says more."""
    top = searcher.ask("What are the key takeaways from successful international security initiatives?", k=1)
    passage = top.passages[0]
    assert passage.citation.section == "Case Studies of Successful International Security Initiatives"
    assert passage.answer.text and not passage.answer.text.endswith(":")


def test_a_question_asking_what_things_is_answered_by_a_list(searcher, monkeypatch):
    """answering.LIST_BONUS: "What key frameworks ...?" is answered by the sentence that lists them,
    not by the one that restates the question, and answers are more exact on question files; the
    sentence of a question asking why is chosen as before."""
    from qa import answering
    from qa.evaluation import evaluate, read_questions

    lists = "What key frameworks facilitate global security partnerships?"
    restated = "Various frameworks facilitate global security partnerships by establishing structured mechanisms"
    assert searcher.ask(lists, k=1).passages[0].answer.text.startswith("Key frameworks include")
    questions = [q for path in ("independent14.jsonl", "independent15.jsonl", "own.jsonl")
                 for q in read_questions(Path(__file__).parent / "data" / path) if q.gold]
    listed = evaluate(questions, lambda qs: searcher.ask_many(qs, k=10)).metrics()
    why = searcher.ask("Why do allies hold joint military exercises?", k=1).passages[0].answer.text
    monkeypatch.setattr(answering, "LIST_BONUS", 0.0)
    assert searcher.ask(lists, k=1).passages[0].answer.text.startswith(restated)
    plain = evaluate(questions, lambda qs: searcher.ask_many(qs, k=10)).metrics()
    assert listed["answer_exact@1"] > plain["answer_exact@1"]
    assert listed["recall@1"] == plain["recall@1"]  # the choice of sentence only
    assert searcher.ask("Why do allies hold joint military exercises?", k=1).passages[0].answer.text == why


def test_a_short_name_finds_the_passages_on_what_it_stands_for(searcher, monkeypatch):
    """"The Atlantic alliance" is NATO: the question is embedded as "Atlantic alliance (NATO)"."""
    question = "Does serving on Atlantic alliance operations help a soldier get ahead professionally?"
    assert searcher.ask(question).passages[0].citation.section == "NATO and Its Collaborative Missions"
    assert searcher.ask(question).question == question  # answered as asked
    monkeypatch.setattr("qa.searcher.with_meanings", lambda question, used: question)
    assert searcher.ask(question).passages[0].citation.section != "NATO and Its Collaborative Missions"
