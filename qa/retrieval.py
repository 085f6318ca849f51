"""Ranked sections for a query vector and text: dense windows and BM25 find, sentences decide.

Candidates are the sections of the nearest windows (FAISS) and the best BM25 sections.
Each is scored on two calibrated signals: its best sentence cosine (sentences carry their
heading) and its BM25 score squashed to [0, 1). Window cosines find candidates but add
nothing once every sentence is scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lexical import LexicalIndex
from .neighbours import Neighbours
from .store import IndexReader, RowFile

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

    The fused score's scale is what confidence.Thresholds are set against: re-tune both together.
    """

    sentence: float = 0.75
    lexical: float = 0.25
    support: float = 0.15
    """Share of the sentence signal given to the section's second-best sentence: a section with
    two sentences on the question beats one with a single lucky match. Dev recall@1 0.70 -> 0.77,
    own.jsonl, oos.jsonl and formats.jsonl unchanged."""
    lexical_half: float = 8.0
    """BM25 score that maps to 0.5 after squashing."""


@dataclass(frozen=True)
class Candidate:
    section: int
    score: float
    sentence: float
    lexical: float
    sentences: tuple[int, int]
    """The section's rows [lo, hi) in the sentence arrays."""
    sentence_scores: np.ndarray
    """Cosine of each of those sentences to the question."""


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

    def candidates(self, query: np.ndarray, terms: list[str], k: int) -> list[Candidate]:
        """The best max(k, KEEP) sections by fused score, best first.

        `terms` are the question's lexical.query_terms (corrected and stemmed).
        """
        pool = max(64, 4 * k)
        found = self._dense(query, pool)
        bm25 = self.lexical.scores(terms)
        found |= {int(i) for i in _top(bm25, pool)}
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
        fused = w.sentence * best + w.lexical * lexical
        order = np.argsort(-fused, kind="stable")[: max(k, KEEP)]
        return [
            Candidate(int(sections[i]), float(fused[i]), float(best[i]), float(lexical[i]),
                      (int(ranges[i, 0]), int(ranges[i, 1])), sims[bounds[i] : bounds[i + 1]])
            for i in order
        ]

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
