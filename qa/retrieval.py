"""Ranked sections for a query vector and text: dense windows and BM25 find, sentences decide.

Candidates are the sections of the nearest windows (FAISS) and the best BM25 sections.
Each is scored on two calibrated signals: its best sentence cosine (sentences carry their
heading) and its BM25 score squashed to [0, 1). Window cosines find candidates but add
nothing once every sentence is scored. When the index keeps word-piece vectors, the best
few are re-ranked by how closely each of the question's word pieces is matched somewhere
in the section (a soft, contextual match that catches paraphrase the pooled vectors blur),
and by how closely one of its sentences and the question match each other, piece by piece.
An index with a partner model ranks the same way with each model, then adds the scores.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .embedding import Tokens
from .kernels import Int8Cosines
from .lexical import LexicalIndex
from .neighbours import Neighbours
from .store import PIECE_SCALE, IndexLoadError, IndexReader, RowFile

IN_MEMORY_BYTES = 64 * 1024 * 1024
"""Sentence vectors up to this size (as float32) are held in RAM; larger ones are read from the
generation's file (memory-mapped, or by row above store.PREAD_ABOVE_BYTES)."""
KEEP = 10
"""Candidates returned beyond k, for callers that look past the top (evaluation, confidence)."""
SAMPLED_TOP_ABOVE = 200_000
"""Above this many sections, BM25's top candidates are found through a sampled threshold."""


@dataclass(frozen=True)
class Weights:
    """How the signals combine; chosen on held-out questions (tests/data/own.jsonl, oos.jsonl).

    The fused score before word-piece re-ranking (Candidate.base) is what confidence.Thresholds
    are set against: re-tune both together.
    """

    sentence: float = 0.75
    lexical: float = 0.25
    support: float = 0.15
    """Share of the sentence signal given to the section's second-best sentence: a section with
    two sentences on the question beats one with a single lucky match. Dev recall@1 0.70 -> 0.77,
    own.jsonl, oos.jsonl and formats.jsonl unchanged."""
    lexical_half: float = 8.0
    """BM25 score that maps to 0.5 after squashing."""
    tokens: float = 2.0
    """Weight of the word-piece match against 1 for the fused score above. Dev recall@1 0.77 -> 0.87,
    own.jsonl 0.78 -> 0.84; 1.5 and 2.5 were within one question of it on both."""
    rerank: int = 16
    """Sections re-ranked by word pieces, whatever k: re-ranking k of them when more let sections
    below the 16th overtake the first ones, so asking for more passages changed the first few."""
    mutual: float = 1.0
    """Weight, beside `tokens`, of PieceMatch.mutual: the section's best sentence by how well it and
    the question cover each other, piece by piece (as BERTScore's F1). The match above only asks
    that each question piece be found somewhere in the section; a paraphrase's own sentence also
    says little beyond the question. From 0: recall@1 independent 0.775 -> 0.825, independent2
    0.833 -> 0.850, independent3 0.800 -> 0.825, mrr@10 up on all three; dev.jsonl and formats.jsonl
    unchanged, own.jsonl mrr@10 0.934 -> 0.930; the never-read independent4 and 5, checked once
    after choosing, recall@1 0.750 -> 0.800 and 0.800 -> 0.840, and independent6, written afterwards
    to check it, 0.800 -> 0.850. 0.5 and 1.5 within a question of it on the first three; 1.5 loses
    one on own.jsonl. Choosing answer sentences by it did worse."""
    partner: float = 0.6
    """Share of a partner model's score in the ranking, when the index has one (fused_with). With
    all-mpnet-base-v2 beside the default model, chosen on the files read before (dev, own and
    independent, 2, 3, 8, 13, 14, 15): mean recall@1 .864 without it, .918 at .4, .912 at .5,
    .920 at .6, .918 at .7; mpnet alone .899. README, Choosing the model, has every file."""
    piece_idf_power: float = 2.0
    """Each question piece counts in the word-piece match by its IDF to this power: rare pieces carry
    the meaning. From 1: dev.jsonl recall@5 0.933 -> 0.967, mrr@10 0.894 -> 0.901; own.jsonl and
    independent.jsonl unchanged; independent2.jsonl (a check, not tuned on) mrr@10 0.890 -> 0.900.
    1.5 did as well on all four, 3 and 4 worse on own.jsonl. With `mutual` added, 1 ranks
    independent2 and 3 better (recall@1 +0.017, +0.025) but own.jsonl worse (0.898 -> 0.881), with
    fewer exact answers on three files; 2 stays."""


@dataclass(frozen=True)
class Candidate:
    section: int
    score: float
    """What the section ranks by: `base`, re-ranked by word pieces when the index has them."""
    base: float
    """The score before word-piece re-ranking: what confidence thresholds are set against."""
    sentence: float
    lexical: float
    sentences: tuple[int, int]
    """The section's rows [lo, hi) in the sentence arrays."""
    sentence_scores: np.ndarray
    """Cosine of each of those sentences to the question."""
    sentence_matches: np.ndarray | None = None
    """Word-piece match of each of those sentences, for the sections re-ranked by word pieces."""


@dataclass(frozen=True)
class PieceMatch:
    """How closely sections, and each of their sentences, match a question word piece by word piece."""

    sections: np.ndarray
    """Per section: the IDF-weighted mean, over the question's pieces, of each one's best cosine
    to the section's pieces (how much of the question the section covers)."""
    sentences: np.ndarray
    """The same per sentence, in runs that start at `bounds`."""
    bounds: np.ndarray
    """Offsets of each section's run of sentences."""
    mutual: np.ndarray
    """Per section, its best sentence's harmonic mean of that cover and the converse: the
    IDF-weighted mean, over the sentence's pieces, of each one's best cosine to the question's."""


@dataclass(frozen=True)
class LexicalHits:
    terms: list[str]
    """The query terms scored (lexical.query_terms of the question)."""
    scores: np.ndarray
    """BM25 score of every section."""
    top: np.ndarray
    """The sections with the best of them, unordered: candidates beside the dense ones."""


def candidate_pool(k: int) -> int:
    """How many sections each of the dense and the lexical search proposes."""
    return max(64, 4 * k)


class Retriever:
    def __init__(self, reader: IndexReader, neighbours: Neighbours, lexical: LexicalIndex,
                 weights: Weights | None = None) -> None:
        self.reader = reader
        self.neighbours = neighbours
        self.lexical = lexical
        self.weights = weights or Weights()
        # Small indexes keep float32 sentence vectors in RAM (no per-query conversion); large
        # ones read float16 rows from disk, so serving memory grows slowly with the corpus.
        vectors = reader.sentence_vectors
        if vectors.size * 4 <= IN_MEMORY_BYTES:
            self._sentence_vectors: np.ndarray | RowFile = np.ascontiguousarray(vectors, dtype=np.float32)
        else:
            self._sentence_vectors = reader.sentence_rows
        self._cosines = Int8Cosines(PIECE_SCALE) if reader.token_vectors is not None else None

    def lexical_hits(self, terms: list[str], k: int) -> LexicalHits:
        """BM25 scores of every section for the terms, and the best of them as candidates."""
        scores = self.lexical.scores(terms)
        return LexicalHits(terms, scores, _top(scores, candidate_pool(k)))

    def candidates(self, query: np.ndarray, terms: list[str], k: int, pieces: Tokens | None = None,
                   hits: LexicalHits | None = None) -> list[Candidate]:
        """The best max(k, KEEP) sections by fused score, best first.

        `terms` are the question's lexical.query_terms (corrected and stemmed); `pieces` its
        word pieces (embedding.Tokens), which re-rank the best sections when the index has theirs;
        `hits` the terms' lexical_hits for this k when already computed.
        """
        pool = candidate_pool(k)
        found = self._dense(query, pool)
        if hits is None:
            hits = self.lexical_hits(terms, k)
        bm25 = hits.scores
        found |= {int(i) for i in hits.top}
        if len(found) < k:  # a tiny or unmatched corpus: take everything in order
            found |= set(range(min(self.reader.section_count, pool)))
        sections = np.asarray(sorted(found), dtype=np.int64)
        ranges, sims, bounds = self._sentence_scores(query, sections)
        best = np.full(len(sections), -1.0, dtype=np.float32)
        nonempty = bounds[1:] > bounds[:-1]
        if nonempty.any():
            best[nonempty] = np.maximum.reduceat(sims, bounds[:-1][nonempty])
        w = self.weights
        if w.support:
            best = (1 - w.support) * best + w.support * _second_best(sims, bounds, best)
        raw = bm25[sections]
        lexical = np.where(raw > 0, raw / (raw + w.lexical_half), 0.0)
        base = w.sentence * best + w.lexical * lexical
        fused, matches = self._reranked(base, ranges, pieces, w.rerank)
        if not np.isfinite(fused).all():  # a vector file too large to check at load, altered since
            raise IndexLoadError(f"{self.reader.path}: vectors that are not numbers (altered index); rebuild the index")
        order = np.argsort(-fused, kind="stable")[: max(k, KEEP)]
        return [
            Candidate(int(sections[i]), float(fused[i]), float(base[i]), float(best[i]), float(lexical[i]),
                      (int(ranges[i, 0]), int(ranges[i, 1])), sims[bounds[i] : bounds[i + 1]], matches.get(int(i)))
            for i in order
        ]

    def _reranked(self, base: np.ndarray, ranges: np.ndarray, pieces: Tokens | None, n: int
                  ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """(base + w * match + m * mutual) / (1 + w + m) for the n best by base, the rest staying
        below all of them; and the word-piece match of each of those n sections' sentences, by
        position in base."""
        reader, w, m = self.reader, self.weights.tokens, self.weights.mutual
        if reader.token_vectors is None or pieces is None or not len(pieces.ids) or not w:
            return base, {}
        top = np.argsort(-base, kind="stable")[:n]
        match = self._piece_match(pieces, ranges[top])
        fused = (base + w * match.sections.min() + m * match.mutual.min()) / (1 + w + m)
        fused[top] = (base[top] + w * match.sections + m * match.mutual) / (1 + w + m)
        bounds = match.bounds
        return fused, {int(i): match.sentences[bounds[j] : bounds[j + 1]] for j, i in enumerate(top)}

    def _piece_match(self, pieces: Tokens, ranges: np.ndarray) -> PieceMatch:
        """How well each section (sentence rows [lo, hi)) and each of its sentences match the
        question word piece by word piece."""
        reader = self.reader
        vectors, offsets = reader.token_vectors, reader.sentence_tokens
        assert vectors is not None and offsets is not None and self._cosines is not None
        counts = ranges[:, 1] - ranges[:, 0]
        sentence_bounds = np.concatenate([[0], np.cumsum(counts)])
        sentences = np.repeat(ranges[:, 0] - sentence_bounds[:-1], counts) + np.arange(sentence_bounds[-1])
        starts = np.asarray(offsets[sentences], dtype=np.int64)
        lengths = np.asarray(offsets[sentences + 1], dtype=np.int64) - starts
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        rows = np.repeat(starts - bounds[:-1], lengths) + np.arange(bounds[-1])
        weights = self._piece_idf(pieces.ids) ** self.weights.piece_idf_power
        weights = weights / max(float(weights.sum()), 1e-9)
        per_sentence = np.full((len(sentences), len(pieces.ids)), -1.0, dtype=np.float32)
        converse = np.zeros(len(sentences), dtype=np.float32)
        if len(rows):
            sims = self._cosines.cosines(vectors[rows], pieces.vectors)
            has = lengths > 0
            starts_of = bounds[:-1][has]
            per_sentence[has] = np.maximum.reduceat(sims, starts_of, axis=0)
            row_idf = self._piece_idf(np.asarray(reader.token_ids[rows]))
            found = np.maximum(sims.max(axis=1), 0) * row_idf
            converse[has] = np.add.reduceat(found, starts_of) / np.maximum(np.add.reduceat(row_idf, starts_of), 1e-9)
        cover = np.maximum(per_sentence, 0) @ weights
        both = 2 * cover * converse / np.maximum(cover + converse, 1e-9)
        section_match = np.zeros(len(ranges), dtype=np.float32)
        mutual = np.zeros(len(ranges), dtype=np.float32)
        nonempty = counts > 0
        if nonempty.any():
            runs = sentence_bounds[:-1][nonempty]
            section_match[nonempty] = np.maximum(np.maximum.reduceat(per_sentence, runs, axis=0), 0) @ weights
            mutual[nonempty] = np.maximum.reduceat(both, runs)
        return PieceMatch(section_match, cover, sentence_bounds, mutual)

    def _piece_idf(self, ids: np.ndarray) -> np.ndarray:
        """Each word piece's IDF over sections (float32); a piece no section has counts as rarest."""
        idf = self.reader.token_idf
        assert idf is not None
        unseen = np.float32(np.log((self.reader.section_count + 1) / 0.5))
        return np.where(ids < len(idf), idf[np.minimum(ids, len(idf) - 1)], unseen).astype(np.float32)

    def _dense(self, query: np.ndarray, n: int) -> set[int]:
        """Sections of the n nearest windows."""
        _, ids = self.neighbours.search(query[None, :], n)
        windows = ids[0][ids[0] >= 0]
        return {int(s) for s in self.reader.window_sections[windows]}

    def _sentence_scores(self, query: np.ndarray, sections: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cosine of every sentence of the given sections, in one gather and one product.

        Returns (each section's sentence rows [lo, hi), the cosines, offsets of each section's run).
        """
        ranges = np.asarray(self.reader.section_sentences[sections], dtype=np.int64).reshape(-1, 2)
        lengths = ranges[:, 1] - ranges[:, 0]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        rows = np.repeat(ranges[:, 0] - bounds[:-1], lengths) + np.arange(bounds[-1])
        sims = np.asarray(self._sentence_vectors[rows], dtype=np.float32) @ query
        return ranges, sims, bounds


def fused_with(ranked: list[Candidate], partner: list[Candidate], share: float, depth: int = KEEP) -> list[Candidate]:
    """One ranking from two models' candidates for the same question, best first: each of both
    models' first `depth` sections by (1 - share) * its score + share * the partner's, a model that
    did not keep a section among them giving it its score at `depth`; then the first model's other
    sections, below them all. A fixed depth, not k, so that asking for more passages changes none
    of the first. `base` stays the first model's (the lowest kept where only the partner kept the
    section), since confidence thresholds are set against it."""
    if not ranked or not partner:
        return ranked or partner
    head, partner = ranked[:depth], partner[:depth]
    mine, theirs = {c.section: c for c in head}, {c.section: c for c in partner}
    floor, partner_floor = head[-1].score, partner[-1].score
    base_floor = min(c.base for c in head)
    merged = []
    for section in mine.keys() | theirs.keys():
        own, other = mine.get(section), theirs.get(section)
        score = ((1 - share) * (own.score if own else floor)
                 + share * (other.score if other else partner_floor))
        if own and other:  # its answer sentence is chosen by both models too
            merged.append(replace(own, score=score,
                                  sentence_scores=_mix(own.sentence_scores, other.sentence_scores, share),
                                  sentence_matches=_mix(own.sentence_matches, other.sentence_matches, share)))
        elif own:
            merged.append(replace(own, score=score))
        else:
            merged.append(replace(other, score=score, base=base_floor))  # type: ignore[arg-type]
    merged.sort(key=lambda c: (-c.score, c.section))
    # Below every fused score: each of these is under `floor` for the first model.
    tail = [replace(c, score=(1 - share) * c.score + share * partner_floor) for c in ranked[depth:]
            if c.section not in theirs]
    return merged + tail


def _mix(mine: np.ndarray | None, theirs: np.ndarray | None, share: float) -> np.ndarray | None:
    """Two models' per-sentence scores weighed as their sections are; either alone where one is missing."""
    if mine is None or theirs is None:
        return mine if theirs is None else theirs
    return (1 - share) * mine + share * theirs


def _second_best(sims: np.ndarray, bounds: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Each section's second-highest sentence cosine (its best when it has one sentence or none).

    `sims` holds the sections' sentence cosines in runs that start at `bounds`; `best` is each run's maximum.
    """
    lengths = np.diff(bounds)
    if not (lengths > 1).any():
        return best.copy()
    section_of = np.repeat(np.arange(len(lengths)), lengths)
    at_best = np.flatnonzero(sims >= best[section_of])
    _, first = np.unique(section_of[at_best], return_index=True)  # one best sentence per section
    rest = sims.copy()
    rest[at_best[first]] = -np.inf
    nonempty = lengths > 0  # reduceat over every nonempty run, so no run spills into the next
    second = np.full(len(lengths), -np.inf, dtype=sims.dtype)
    second[nonempty] = np.maximum.reduceat(rest, bounds[:-1][nonempty])
    return np.where(lengths > 1, second, best).astype(best.dtype)


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the (up to) n highest positive scores, unordered."""
    if len(scores) > SAMPLED_TOP_ABOVE:
        # Estimate a score that about 4n sections reach from a strided sample, so the exact
        # selection below runs over thousands of scores instead of millions. Only positive
        # scores are sampled: partitioning many tied zeros is ten times slower.
        stride = 16
        sample = scores[::stride]
        positive = sample[sample > 0]
        m = max(1, 4 * n // stride)
        if len(positive) > m:
            threshold = np.partition(positive, len(positive) - m)[len(positive) - m]
            keep = np.flatnonzero(scores >= threshold)
            if len(keep) >= n:
                return keep[np.argpartition(-scores[keep], n - 1)[:n]] if len(keep) > n else keep
    nonzero = np.flatnonzero(scores > 0)  # most sections share no term with the question
    if len(nonzero) <= n:
        return nonzero
    return nonzero[np.argpartition(-scores[nonzero], n)[:n]]
