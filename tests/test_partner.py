"""A partner model: `qa index --partner-model` embeds the same sentences with a second model, and
the searcher ranks with both and adds the scores."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.build import build
from qa.evaluation import evaluate, read_questions
from qa.retrieval import Candidate, fused_with
from qa.settings import Settings
from qa.store import PARTNER, IndexLoadError, resolve_generation

from conftest import DATA, DEV, Server, build_index, needs_accurate, run_cli

PARTNER_MODEL = "all-mpnet-base-v2"


def candidate(section: int, score: float, base: float | None = None) -> Candidate:
    return Candidate(section, score, score if base is None else base, score, 0.0, (section, section + 1),
                     np.array([score], dtype=np.float32))


# ---------------------------------------------------------------- fusing two rankings (no model)


def test_each_section_scores_the_weighted_sum_of_both_models_scores():
    fused = fused_with([candidate(1, 0.9), candidate(2, 0.5)], [candidate(2, 0.8), candidate(1, 0.4)], 0.6)

    assert [c.section for c in fused] == [2, 1]
    assert fused[0].score == pytest.approx(0.4 * 0.5 + 0.6 * 0.8)
    assert fused[1].score == pytest.approx(0.4 * 0.9 + 0.6 * 0.4)


def test_a_section_one_model_did_not_keep_gets_that_models_lowest_kept_score():
    mine, theirs = [candidate(1, 0.9), candidate(2, 0.3)], [candidate(3, 0.95), candidate(1, 0.2)]

    scores = {c.section: c.score for c in fused_with(mine, theirs, 0.5)}

    assert scores[2] == pytest.approx(0.5 * 0.3 + 0.5 * 0.2)  # the partner's floor
    assert scores[3] == pytest.approx(0.5 * 0.3 + 0.5 * 0.95)  # the first model's floor


def test_confidence_keeps_reading_the_first_models_base_score():
    """The thresholds are set on the first model's scores: a section only the partner found
    must not lend them its own (higher) scale."""
    fused = fused_with([candidate(1, 0.5, base=0.31), candidate(2, 0.4, base=0.28)], [candidate(3, 0.99, base=0.9)], 0.9)

    assert {c.section: c.base for c in fused} == {1: 0.31, 2: 0.28, 3: 0.28}


def test_a_section_both_models_kept_weighs_its_sentences_by_both():
    mine = replace(candidate(1, 0.5), sentence_scores=np.array([0.9, 0.1], dtype=np.float32),
                   sentence_matches=np.array([0.2, 0.8], dtype=np.float32))
    theirs = replace(candidate(1, 0.5), sentence_scores=np.array([0.1, 0.9], dtype=np.float32))

    fused = fused_with([mine], [theirs], 0.75)[0]

    assert fused.sentence_scores == pytest.approx([0.3, 0.7])  # the answer leans to the partner's sentence
    assert fused.sentence_matches == pytest.approx([0.2, 0.8])  # only one model matched word pieces


def test_the_first_sections_do_not_depend_on_how_many_are_asked_for():
    """Each list holds max(k, 10) sections; a floor taken at its end would fall as k grows."""
    mine = [candidate(i, 1.0 - 0.02 * i) for i in range(30)]
    theirs = [candidate(100 + i, 0.9 - 0.01 * i) for i in range(30)]

    for k in (10, 20, 30):
        fused = fused_with(mine[:k], theirs[:k], 0.6)
        assert [c.section for c in fused[:10]] == [c.section for c in fused_with(mine[:10], theirs[:10], 0.6)[:10]]
        assert [c.score for c in fused] == sorted((c.score for c in fused), reverse=True)
        assert {c.section for c in fused} >= {c.section for c in mine[:k]}  # the first model's tail stays


def test_an_empty_ranking_leaves_the_other_as_it_is():
    ranked = [candidate(1, 0.9), candidate(2, 0.5)]
    assert fused_with(ranked, [], 0.6) == ranked and fused_with([], ranked, 0.6) == ranked


def test_the_partner_must_be_another_model():
    with pytest.raises(ValueError, match=r"partner_model \(QA_PARTNER_MODEL, --partner-model\) must differ"):
        Settings(partner_model="all-MiniLM-L6-v2")
    with pytest.raises(ValueError, match="must differ"):
        Settings(partner_model="sentence-transformers/all-minilm-l6-v2")  # the same model, by its hub name
    with pytest.raises(ValueError, match="must name a model or be empty, not ' '"):
        Settings(partner_model=" ")
    assert Settings.from_env({"QA_PARTNER_MODEL": PARTNER_MODEL}).partner_model == PARTNER_MODEL
    assert Settings.from_env({}).partner_model == ""


def test_the_cli_refuses_the_same_model_twice_in_one_line(tmp_path: Path):
    result = run_cli("index", "--corpus", str(tmp_path), "--index", str(tmp_path / "index"),
                     "--partner-model", "all-MiniLM-L6-v2")

    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "must differ from the model" in result.stderr
    assert not (tmp_path / "index").exists()


# ---------------------------------------------------------------- the real models


@pytest.fixture(scope="module")
def paired_index(seed_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_index(seed_corpus, tmp_path_factory.mktemp("paired") / "index", partner_model=PARTNER_MODEL)


@pytest.fixture(scope="module")
def paired(paired_index: Path):
    searcher = qa.load(paired_index)
    yield searcher
    searcher.close()


@needs_accurate
def test_the_partner_index_is_the_second_models_vectors_of_the_same_sentences(paired, paired_index: Path):
    generation = resolve_generation(paired_index)
    partner = paired.partner

    assert paired.manifest["partner"] == {"model": PARTNER_MODEL, "path": PARTNER}
    assert paired.manifest["model"]["name"] == "all-MiniLM-L6-v2" and paired.manifest["model"]["dim"] == 384
    assert partner.reader.manifest["model"]["name"] == PARTNER_MODEL and partner.reader.manifest["model"]["dim"] == 768
    assert np.array_equal(partner.reader.sentences, paired.reader.sentences)
    assert partner.reader.sentence_vectors.shape == (len(paired.reader.sentences), 768)
    # One section table on disk for both, so a large corpus's text is not stored twice.
    assert os.path.samefile(generation / "sections.db", generation / PARTNER / "sections.db")


@needs_accurate
def test_a_paired_answer_ranks_by_both_models_scores(paired):
    question = "How do allied forces train together?"
    lexical = paired.retriever.lexical
    terms = lexical.query_terms(question)
    hits = paired.retriever.lexical_hits(terms, 5)
    vectors, pieces = paired.embed([question])
    alone = paired.retriever.candidates(vectors[0], terms, 5, pieces[0], hits)
    other = paired._partner_candidates(question, terms, 5, hits)
    share = paired.retriever.weights.partner

    response = paired.ask(question, k=5)

    expected = {c.section: (1 - share) * c.score for c in alone}
    for c in other:
        expected[c.section] = expected.get(c.section, (1 - share) * alone[-1].score) + share * c.score
    for c in alone:
        if c.section not in {o.section for o in other}:
            expected[c.section] += share * other[-1].score
    best = max(expected, key=expected.__getitem__)
    record = paired.reader.sections([best])[0]
    assert (response.passages[0].citation.doc, response.passages[0].citation.section) == (record.doc, record.heading)
    assert response.passages[0].score == pytest.approx(expected[best], abs=1e-4)


@needs_accurate
def test_the_pair_finds_more_first_than_the_first_model_alone(paired, searcher):
    """dev, own and independent2: 134 of 149 first with MiniLM alone, 139 with the pair today."""
    questions = [q for file in (DEV, DATA / "own.jsonl", DATA / "independent2.jsonl") for q in read_questions(file)]
    pair = evaluate(questions, lambda b: paired.ask_many(b, k=10))
    alone = evaluate(questions, lambda b: searcher.ask_many(b, k=10))

    def first(report) -> int:
        return sum(o.first_hit == 1 for o in report.outcomes)

    assert first(pair) >= first(alone) + 3
    assert pair.metrics()["recall@5"] >= 0.98 and pair.metrics()["in_scope_flagged"] <= 0.05
    assert pair.metrics()["oos_flagged"] == alone.metrics()["oos_flagged"]  # judged on the first model's score


@needs_accurate
def test_asking_for_more_passages_changes_none_of_the_first(paired):
    for question in [q.question for q in read_questions(DEV) if q.in_scope][:8]:
        few, many = paired.ask(question, k=3), paired.ask(question, k=25)
        assert [(p.citation.section, p.score) for p in many.passages[:3]] == [
            (p.citation.section, p.score) for p in few.passages]


@needs_accurate
def test_a_rebuild_reuses_both_models_vectors_and_dropping_the_partner_drops_its_index(
        seed_corpus: Path, paired_index: Path, tmp_path: Path):
    index = tmp_path / "index"
    shutil.copytree(paired_index, index)
    settings = Settings.from_env(corpus=seed_corpus, index=index, partner_model=PARTNER_MODEL)

    again = build(settings, progress=False)
    alone = build(Settings.from_env(corpus=seed_corpus, index=index), progress=False)

    assert again.embedded == 0 and again.reused_vectors == 2 * again.sentences
    assert alone.embedded == 0 and not (alone.path / PARTNER).exists()
    searcher = qa.load(index)
    try:
        assert searcher.partner is None and "partner" not in searcher.manifest
    finally:
        searcher.close()


@needs_accurate
def test_a_partner_index_over_other_sentences_is_refused_with_its_path(paired_index: Path, tmp_path: Path):
    index = tmp_path / "index"
    shutil.copytree(paired_index, index)
    bounds = resolve_generation(index) / PARTNER / "section_sentences.npy"
    ranges = np.load(bounds)
    ranges[0, 1] -= 1  # the same size on disk, other sentences
    np.save(bounds, ranges)

    with pytest.raises(IndexLoadError, match=r"partner index holds other sentences .* rebuild with `qa index`"):
        qa.load(index)


@needs_accurate
def test_a_damaged_partner_faiss_file_is_a_load_error_not_a_traceback(paired_index: Path, tmp_path: Path):
    index = tmp_path / "index"
    shutil.copytree(paired_index, index)
    with open(resolve_generation(index) / PARTNER / "faiss.index", "r+b") as damaged:
        damaged.write(b"XXXX")  # the same size: past the manifest's check

    result = run_cli("ask", "What does Article 5 say?", "--index", str(index))

    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"{PARTNER}: cannot load the search structures" in result.stderr


@needs_accurate
def test_a_missing_partner_file_is_a_load_error_not_a_traceback(paired_index: Path, tmp_path: Path):
    index = tmp_path / "index"
    shutil.copytree(paired_index, index)
    (resolve_generation(index) / PARTNER / "faiss.index").unlink()

    result = run_cli("ask", "What does Article 5 say?", "--index", str(index))

    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"{PARTNER}/faiss.index: missing" in result.stderr


@needs_accurate
def test_the_http_api_answers_as_the_library_with_a_partner(paired, paired_index: Path, tmp_path: Path):
    question = "Which exercises prepare troops from several countries to operate together?"
    expected = paired.ask(question, k=3)
    server = Server(paired_index, log=tmp_path / "serve.log")
    try:
        status, body = server.post_json("/ask", {"question": question, "k": 3})
        health = server.get_json("/healthz")[1]
    finally:
        server.stop()

    assert health["model"] == "all-MiniLM-L6-v2" and health["partner_model"] == PARTNER_MODEL
    assert status == 200
    assert [(p["citation"]["section"], p["score"]) for p in body["passages"]] == [
        (p.citation.section, p.score) for p in expected.passages]
    assert body["low_confidence"] == expected.low_confidence


@needs_accurate
def test_a_watching_server_takes_up_a_partner_added_by_a_rebuild_and_one_dropped(
        seed_corpus: Path, paired_index: Path, tmp_path: Path):
    index = tmp_path / "index"
    shutil.copytree(paired_index, index)
    alone = build(Settings.from_env(corpus=seed_corpus, index=index), progress=False)  # vectors reused
    server = Server(index, env={"QA_WATCH_S": "0.2"}, log=tmp_path / "watch.log")

    def served() -> tuple[str, str | None]:
        health = server.get_json("/healthz")[1]
        return health["generation"], health["partner_model"]

    def wait_for(generation: str) -> str | None:
        deadline = time.monotonic() + 60
        while (now := served())[0] != generation:
            assert time.monotonic() < deadline, f"the watcher never took up {generation}"
            time.sleep(0.1)
        return now[1]

    try:
        assert wait_for(alone.generation) is None
        paired = build(Settings.from_env(corpus=seed_corpus, index=index, partner_model=PARTNER_MODEL), progress=False)
        assert wait_for(paired.generation) == PARTNER_MODEL
        assert server.get_json("/ask?q=What+does+Article+5+say")[0] == 200
        again = build(Settings.from_env(corpus=seed_corpus, index=index), progress=False)
        assert wait_for(again.generation) is None
        assert server.get_json("/ask?q=What+does+Article+5+say")[0] == 200
    finally:
        server.stop()
