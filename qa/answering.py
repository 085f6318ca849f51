"""Ranked candidates -> the response: answer sentences, citations, notices, low confidence."""

from __future__ import annotations

from dataclasses import dataclass

from .lexical import stems, words
from .models import Answer, AskResponse, Citation, Notice, Passage
from .retrieval import Candidate
from .store import IndexReader, SectionRecord


@dataclass(frozen=True)
class Confidence:
    """The line below which the corpus most likely does not answer; chosen on held-out questions."""

    min_score: float = 0.42


def build_response(
    question: str, ranked: list[Candidate], reader: IndexReader, k: int, confidence: Confidence | None = None
) -> AskResponse:
    top = ranked[:k]
    records = reader.sections([c.section for c in top])
    by_id = {r.id: r for r in records}
    terms = set(stems(words(question)))
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
                answer=answer_of(candidate, record, reader, terms),
                citation=Citation(doc=record.doc, title=record.title, section=record.heading,
                                  start=record.start, end=record.end),
            )
        )
    return AskResponse(
        question=question,
        passages=passages,
        notices=notices_of(passages, reader),
        low_confidence=is_low_confidence(ranked, confidence or Confidence()),
    )


def answer_of(candidate: Candidate, record: SectionRecord, reader: IndexReader, terms: set[str]) -> Answer:
    """The sentence of the section that best answers: closest in meaning, nudged by shared words."""
    _, spans = reader.section_sentence_spans(candidate.section)
    if not spans:
        return Answer(text=record.raw, start=record.start, end=record.end)
    best, best_score = 0, float("-inf")
    for i, span in enumerate(spans):
        text = record.slice(span.start, span.end)
        overlap = len(terms & set(stems(words(text)))) / len(terms) if terms else 0.0
        score = float(candidate.sentence_scores[i]) + 0.15 * overlap
        if score > best_score:
            best, best_score = i, score
    span = spans[best]
    return Answer(text=record.slice(span.start, span.end), start=span.start, end=span.end)


def notices_of(passages: list[Passage], reader: IndexReader) -> list[Notice]:
    """The notice of every cited article, once each, in order of first citation."""
    docs = list(dict.fromkeys(p.citation.doc for p in passages))
    found = reader.notices(docs)
    return [Notice(doc=doc, text=found[doc]) for doc in docs if doc in found]


def is_low_confidence(ranked: list[Candidate], confidence: Confidence) -> bool:
    return not ranked or ranked[0].score < confidence.min_score
