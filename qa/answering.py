"""Ranked candidates -> the response: answer sentences, citations, notices, low confidence."""

from __future__ import annotations

from .confidence import is_low_confidence
from .lexical import LexicalIndex
from .models import Answer, AskResponse, Citation, Notice, Passage
from .retrieval import Candidate
from .store import IndexReader, SectionRecord

OVERLAP_WEIGHT = 0.2
"""How much sharing the question's rarer words lifts a sentence over its cosine (tuned on held-out questions)."""


def build_response(question: str, terms: list[str], ranked: list[Candidate], reader: IndexReader,
                   lexical: LexicalIndex, k: int) -> AskResponse:
    """The response to a question from its ranked sections; `terms` are its lexical.query_terms."""
    top = ranked[:k]
    records = reader.sections([c.section for c in top])
    by_id = {r.id: r for r in records}
    weights = {t: lexical.idf(t) for t in terms}
    passages = []
    for candidate in top:
        record = by_id.get(candidate.section)
        if record is None:
            continue
        passages.append(
            Passage(
                rank=len(passages) + 1,
                score=round(candidate.score, 4),
                text=record.text,
                answer=answer_of(candidate, record, reader, weights),
                citation=Citation(doc=record.doc, title=record.title, section=record.heading,
                                  start=record.start, end=record.end),
            )
        )
    best = by_id.get(ranked[0].section) if ranked else None
    low = is_low_confidence(question, ranked[0].score if ranked else None,
                            f"{best.heading}\n{best.text}" if best else "", lexical)
    return AskResponse(question=question, passages=passages, notices=notices_of(passages, reader),
                       low_confidence=low)


def answer_of(candidate: Candidate, record: SectionRecord, reader: IndexReader, terms: dict[str, float]) -> Answer:
    """The sentence of the section that best answers: closest in meaning, lifted by shared rare words."""
    rows, spans = reader.section_sentence_spans(candidate.section)
    if not spans:
        return Answer(text=record.raw, start=record.start, end=record.end)
    sentence_terms = reader.sentence_terms(int(rows[0]), int(rows[-1]) + 1)
    total = sum(terms.values())
    best, best_score = 0, float("-inf")
    for i, span in enumerate(spans):
        shared = sum(terms[t] for t in sentence_terms[i] if t in terms)
        score = float(candidate.sentence_scores[i]) + (OVERLAP_WEIGHT * shared / total if total else 0.0)
        if score > best_score:
            best, best_score = i, score
    span = spans[best]
    return Answer(text=record.slice(span.start, span.end), start=span.start, end=span.end)


def notices_of(passages: list[Passage], reader: IndexReader) -> list[Notice]:
    """The notice of every cited article, once each, in order of first citation."""
    docs = list(dict.fromkeys(p.citation.doc for p in passages))
    found = reader.notices(docs)
    return [Notice(doc=doc, text=found[doc]) for doc in docs if doc in found]

