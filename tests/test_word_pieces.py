"""Word pieces: stored at build, reused on rebuild, and re-ranking the best sections by soft word match."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import qa
from qa import answering
from qa.embedding import FUNCTION_WORDS
from qa.evaluation import evaluate, read_questions
from qa.store import IndexLoadError, IndexReader, resolve_generation

from conftest import DATA, DEV, build_index, write_corpus


def test_every_sentence_keeps_its_meaningful_word_pieces(seed_index: Path, searcher):
    reader = IndexReader(seed_index)
    offsets = np.asarray(reader.sentence_tokens)
    assert reader.manifest["tokens"]["count"] == len(reader.token_ids) == offsets[-1]
    assert len(offsets) == reader.manifest["counts"]["sentences"] + 1 and (np.diff(offsets) > 0).all()
    norms = np.linalg.norm(np.asarray(reader.token_vectors, dtype=np.float32) / 127, axis=1)
    assert np.allclose(norms, 1.0, atol=0.02)  # int8 copies of unit vectors
    tokenizer = searcher.encoder._tokenizer
    pieces = {tokenizer.id_to_token(int(i)) for i in np.unique(reader.token_ids)}
    assert not pieces & {"[CLS]", "[SEP]", "[PAD]", ",", ".", "the", "of", "how"}
    assert {"nato", "peacekeeping", "inter", "##ability"} <= pieces
    # A sentence's pieces start with its heading's, which it is embedded with; an introduction's
    # leave out the article title (it names every section's subject, not the introduction's).
    records = reader.sections(list(range(reader.section_count)))
    headed = next(r for r in records if r.heading)
    intro = next(r for r in records if not r.heading)
    def first_pieces(record) -> str:
        lo = int(reader.section_sentences[record.id][0])
        return tokenizer.decode(reader.token_ids[offsets[lo] : offsets[lo + 1]].tolist())
    heading_words = [w for w in headed.heading.lower().split() if w not in FUNCTION_WORDS]
    assert first_pieces(headed).startswith(" ".join(heading_words[:2]))
    title_words = [w for w in intro.title.lower().split() if w not in FUNCTION_WORDS]
    assert not first_pieces(intro).startswith(" ".join(title_words[:2]))


def test_a_sections_own_words_match_it_best(searcher):
    retriever = searcher.retriever
    reader = searcher.reader
    record = reader.sections([5])[0]
    lo, hi = (int(x) for x in reader.section_sentences[5])
    span = reader.sentence_spans(lo, lo + 1)[0]
    question = record.slice(span.start, span.end)
    _, pieces = searcher.embed([question])
    ranges = np.asarray(reader.section_sentences, dtype=np.int64)
    found = retriever._piece_match(pieces[0], ranges)
    match, by_sentence, bounds = found.sections, found.sentences, found.bounds
    assert int(np.argmax(match)) == 5
    assert match[5] > 0.9 and (match <= 1.0 + 1e-3).all()
    assert int(np.argmax(by_sentence[bounds[5] : bounds[6]])) == 0  # the asked sentence, within its section
    assert len(by_sentence) == bounds[-1] == int((ranges[:, 1] - ranges[:, 0]).sum())


def test_a_sentence_matches_both_ways_only_when_it_says_no_more_than_the_question(searcher):
    """PieceMatch.mutual: a sentence asked whole matches both ways; its first half alone is still
    covered by the section, but the sentence now says more than the question asks."""
    reader = searcher.reader
    ranges = np.asarray(reader.section_sentences, dtype=np.int64)
    record, span = next((r, sp) for r in reader.sections(list(range(reader.section_count)))
                        for sp in reader.sentence_spans(*(int(x) for x in ranges[r.id]))
                        if len(r.slice(sp.start, sp.end).split()) >= 16)
    sentence = record.slice(span.start, span.end)
    whole, half = searcher.embed([sentence, " ".join(sentence.split()[:8])])[1]
    asked = searcher.retriever._piece_match(whole, ranges)
    halved = searcher.retriever._piece_match(half, ranges)
    assert int(np.argmax(asked.mutual)) == record.id and asked.mutual[record.id] > 0.8
    assert (asked.mutual <= 1.0 + 1e-3).all() and (asked.mutual >= 0).all()
    # Halving the question costs the one-way match a little (its pieces are still in the
    # section, read in a shorter context) and the mutual one more: half the sentence goes unasked.
    assert halved.mutual[record.id] < asked.mutual[record.id] - 0.1
    assert asked.mutual[record.id] - halved.mutual[record.id] > asked.sections[record.id] - halved.sections[record.id]


def test_the_mutual_match_ranks_unseen_paraphrases_better(searcher):
    """Weights.mutual: on question files written without the code, re-ranking also by how well a
    section's best sentence and the question match each other ranks the right section higher."""
    questions = [q for path in ("independent.jsonl", "independent3.jsonl")
                 for q in read_questions(DATA / path) if q.gold]
    assert searcher.retriever.weights.mutual > 0
    mutual = metrics_with(searcher, questions)
    one_way = metrics_with(searcher, questions, mutual=0.0)
    assert mutual["recall@1"] > one_way["recall@1"]
    assert mutual["mrr@10"] > one_way["mrr@10"]
    assert mutual["in_scope_flagged"] == one_way["in_scope_flagged"]  # judged before re-ranking


def test_reranked_sections_stay_in_order_and_above_the_rest(searcher):
    retriever = searcher.retriever
    question = "How do countries keep their combined war games happening consistently?"
    vectors, pieces = searcher.embed([question])
    terms = retriever.lexical.query_terms(question)
    ranked = retriever.candidates(vectors[0], terms, 50, pieces[0])
    scores = [c.score for c in ranked]
    assert scores == sorted(scores, reverse=True)
    plain = retriever.candidates(vectors[0], terms, 50, None)
    assert all(c.score == c.base for c in plain)  # no pieces, no re-ranking
    assert sorted(c.base for c in ranked) == sorted(c.base for c in plain)
    assert [c.section for c in ranked] != [c.section for c in plain]


def test_word_pieces_lift_held_out_paraphrases(searcher):
    """On questions of our own (not the dev set), re-ranking with word pieces ranks better than without."""
    questions = [q for q in read_questions(DATA / "own.jsonl") if q.gold]
    with_pieces = metrics_with(searcher, questions)
    without = metrics_with(searcher, questions, tokens=0.0)
    assert with_pieces["mrr@10"] > without["mrr@10"]
    assert with_pieces["recall@1"] > without["recall@1"]


def test_a_rebuild_reuses_the_word_pieces_of_unchanged_sentences(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus", {
        "a.txt": "Alpha\n\nPart One\nAlpha text one. Alpha text two.\n",
        "b.txt": "Beta\n\nPart Two\nBeta text one.\n",
    })
    index = build_index(corpus, tmp_path / "index")
    before = IndexReader(index)
    old = {tuple(before.sentences[i, 1:]): _pieces(before, i) for i in range(len(before.sentences))}
    old_beta = {tuple(_pieces(before, i)[0].tolist()) for i in range(len(before.sentences))
                if before.sections([int(before.sentences[i, 0])])[0].doc == "b.txt"}
    (corpus / "b.txt").write_text("Beta\n\nPart Two\nBeta text changed entirely.\n")
    build_index(corpus, index)
    after = IndexReader(index)
    assert after.generation != before.generation
    docs = after.sections(list(range(after.section_count)))
    for i, (section, start, end) in enumerate(after.sentences.tolist()):
        ids, vectors = _pieces(after, i)
        if docs[section].doc == "a.txt":
            old_ids, old_vectors = old[(start, end)]
            assert ids.tolist() == old_ids.tolist() and np.array_equal(vectors, old_vectors)
        else:
            assert len(ids) > 0 and tuple(ids.tolist()) not in old_beta


def test_an_index_over_the_budget_is_built_without_word_pieces(tmp_path: Path, caplog):
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "Alpha\n\nPart One\nAlpha text one. Alpha text two.\n"})
    index = build_index(corpus, tmp_path / "index", token_budget_mb=0)
    reader = IndexReader(index)
    assert reader.manifest["tokens"] is None and reader.token_vectors is None
    assert not list(resolve_generation(index).glob("token_*.npy"))
    result = qa.load(index).ask("What does the alpha text say?", k=1)
    assert result.passages[0].citation.section == "Part One"


def test_word_piece_offsets_that_do_not_add_up_are_refused(seed_index: Path, tmp_path: Path):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    gen = resolve_generation(index)
    offsets = np.load(gen / "sentence_tokens.npy")
    offsets[3], offsets[4] = offsets[4], offsets[3]
    np.save(gen / "sentence_tokens.npy", offsets)
    with pytest.raises(IndexLoadError, match="sentence_tokens.npy: offsets"):
        qa.load(index)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["tokens"]["count"] += 1
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexLoadError, match="token_ids.npy: shape"):
        qa.load(index)


def _pieces(reader: IndexReader, sentence: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = int(reader.sentence_tokens[sentence]), int(reader.sentence_tokens[sentence + 1])
    return np.asarray(reader.token_ids[lo:hi]), np.asarray(reader.token_vectors[lo:hi])


def test_loading_keeps_numpys_blas_on_one_thread(seed_index: Path):
    """A query's products are small; BLAS threads spinning beside the encoder's only slow it."""
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):
        searcher = qa.load(seed_index)
        try:
            assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {1}
        finally:
            searcher.close()


def test_an_index_built_without_word_pieces_gets_them_on_the_next_build(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "Alpha\n\nPart One\nAlpha text one. Alpha text two.\n"})
    index = build_index(corpus, tmp_path / "index", token_budget_mb=0)
    assert IndexReader(index).token_vectors is None
    from qa.build import build
    from qa.settings import Settings

    report = build(Settings.from_env(corpus=corpus, index=index), progress=False)
    reader = IndexReader(index)
    assert reader.token_vectors is not None and report.embedded == report.sentences == 2
    assert (np.diff(reader.sentence_tokens) > 0).all()


def test_rare_pieces_weigh_more_than_their_idf_alone_would_give(searcher):
    """Squared IDF (Weights.piece_idf_power) ranks the development questions and our own better
    than plain IDF: rare pieces carry a paraphrase's meaning."""
    questions = [q for path in (DEV, DATA / "own.jsonl") for q in read_questions(path) if q.gold]
    assert searcher.retriever.weights.piece_idf_power == 2.0
    squared = metrics_with(searcher, questions)
    plain = metrics_with(searcher, questions, piece_idf_power=1.0)
    assert squared["mrr@10"] > plain["mrr@10"]
    assert squared["recall@5"] >= plain["recall@5"]


def metrics_with(searcher, questions: list, **weights: float) -> dict:
    """Evaluation metrics of the questions with some retrieval weights changed, then restored."""
    retriever = searcher.retriever
    kept = retriever.weights
    retriever.weights = replace(kept, **weights)
    try:
        return evaluate(questions, lambda qs: searcher.ask_many(qs, k=10)).metrics()
    finally:
        retriever.weights = kept


def test_word_pieces_pick_more_exact_answer_sentences(searcher, monkeypatch):
    """answering.PIECE_WEIGHT: the sentence whose pieces match the question's is the answer more often."""
    questions = [q for path in ("own.jsonl", "independent2.jsonl", "independent3.jsonl")
                 for q in read_questions(DATA / path) if q.gold]
    lifted = evaluate(questions, lambda qs: searcher.ask_many(qs, k=10)).metrics()
    monkeypatch.setattr(answering, "PIECE_WEIGHT", 0.0)
    plain = evaluate(questions, lambda qs: searcher.ask_many(qs, k=10)).metrics()
    assert lifted["answer_exact@1"] > plain["answer_exact@1"]
    assert lifted["recall@1"] == plain["recall@1"]  # the choice of sentence only
