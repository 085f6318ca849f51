"""Ranked sections for a query vector and text: dense windows, sentences and BM25, fused.

Candidates come from the nearest windows (FAISS) and the best BM25 sections. Each is
then scored on three calibrated signals: its best window cosine, its best sentence
cosine (sentences carry their heading), and its BM25 score squashed to [0, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lexical import LexicalIndex
from .neighbours import Neighbours
from .store import IndexReader


IN_MEMORY_BYTES = 64 * 1024 * 1024
KEEP = 10
SAMPLED_TOP_ABOVE = 200_000
"""Above this many sections, BM25's top candidates are found through a sampled threshold."""
"""Candidates returned beyond k, for callers that look past the top (evaluation, confidence)."""


@dataclass(frozen=True)
class Weights:
    """How the signals combine; chosen on held-out questions (scripts/tune.py).

    The best sentence (with its heading) carries the meaning; BM25 adds exact names and
    rare words. Window cosines find candidates but add nothing once sentences are scored.
    """

    window: float = 0.0
    sentence: float = 0.75
    lexical: float = 0.25
    lexical_half: float = 8.0
    """BM25 score that maps to 0.5 after squashing."""


@dataclass(frozen=True)
class Candidate:
    section: int
    score: float
    window: float
    sentence: float
    lexical: float
    sentence_rows: np.ndarray
    sentence_scores: np.ndarray


class Retriever:
    def __init__(self, reader: IndexReader, neighbours: Neighbours, lexical: LexicalIndex,
                 weights: Weights | None = None) -> None:
        self.reader = reader
        self.neighbours = neighbours
        self.lexical = lexical
        self.weights = weights or Weights()
        vectors = reader.sentence_vectors
        # Small indexes keep float32 sentence vectors in RAM (no per-query conversion); large
        # ones read the float16 memory map, so serving memory grows slowly with the corpus.
        if vectors.size * 4 <= IN_MEMORY_BYTES:
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._sentence_vectors = vectors

    def candidates(self, query: np.ndarray, terms: list[str], k: int) -> list[Candidate]:
        """The best max(k, KEEP) sections by fused score, best first.

        `terms` are the question's lexical.query_terms (corrected and stemmed).
        """
        pool = max(64, 4 * k)
        window_best = self._dense(query, pool)
        bm25 = self.lexical.scores(terms)
        lexical_top = _top(bm25, pool)
        ids = sorted(set(window_best) | {int(i) for i in lexical_top})
        if len(ids) < k:  # a tiny or unmatched corpus: take everything in order
            ids = sorted(set(ids) | set(range(min(self.reader.section_count, pool))))
        w = self.weights
        sections = np.asarray(ids, dtype=np.int64)
        sentence_best, rows, sims, bounds = self._sentence_scores(query, sections)
        window = np.array([window_best.get(sid, np.nan) for sid in ids], dtype=np.float32)
        for i in np.flatnonzero(np.isnan(window)):  # found by BM25 alone
            window[i] = self._window_score(query, ids[i]) if w.window else 0.0
        has_sentences = bounds[1:] > bounds[:-1]
        sentence = np.where(has_sentences, sentence_best, window)
        raw = bm25[sections]
        lexical = np.where(raw > 0, raw / (raw + w.lexical_half), 0.0)
        fused = w.window * window + w.sentence * sentence + w.lexical * lexical
        order = np.argsort(-fused, kind="stable")[: max(k, KEEP)]
        return [
            Candidate(ids[i], float(fused[i]), float(window[i]), float(sentence[i]), float(lexical[i]),
                      rows[bounds[i] : bounds[i + 1]], sims[bounds[i] : bounds[i + 1]])
            for i in order
        ]

    def _dense(self, query: np.ndarray, n: int) -> dict[int, float]:
        scores, ids = self.neighbours.search(query[None, :], n)
        best: dict[int, float] = {}
        for score, wid in zip(scores[0], ids[0]):
            if wid < 0:
                continue
            sid = int(self.reader.window_sections[wid])
            if sid not in best:  # results are best first
                best[sid] = float(score)
        return best

    def _window_score(self, query: np.ndarray, sid: int) -> float:
        lo, hi = np.searchsorted(self.reader.window_sections, [sid, sid + 1])
        if hi <= lo:
            return 0.0
        return float((np.asarray(self.reader.windows[lo:hi], dtype=np.float32) @ query).max())

    def _sentence_scores(self, query: np.ndarray, sections: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Cosine of every sentence of the given sections, in one gather and one product.

        Returns (best per section, sentence rows, their cosines, offsets of each section's run).
        """
        ranges = np.asarray(self.reader.section_sentences[sections], dtype=np.int64).reshape(-1, 2)
        lengths = ranges[:, 1] - ranges[:, 0]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        rows = np.repeat(ranges[:, 0] - bounds[:-1], lengths) + np.arange(bounds[-1])
        sims = np.asarray(self._sentence_vectors[rows], dtype=np.float32) @ query
        best = np.full(len(sections), -1.0, dtype=np.float32)
        nonempty = lengths > 0
        if nonempty.any():
            best[nonempty] = np.maximum.reduceat(sims, bounds[:-1][nonempty])
        return best, rows, sims, bounds


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the (up to) n highest positive scores, unordered."""
    if len(scores) > SAMPLED_TOP_ABOVE:
        # Estimate a score that about 4n sections reach from a strided sample, so the exact
        # selection below runs over thousands of scores instead of millions.
        stride = 16
        sample = scores[::stride]
        m = min(len(sample), max(1, 4 * n // stride))
        threshold = np.partition(sample, len(sample) - m)[len(sample) - m]
        keep = np.flatnonzero(scores >= max(threshold, np.finfo(np.float32).tiny))
        if len(keep) >= n:
            return keep[np.argpartition(-scores[keep], n - 1)[:n]] if len(keep) > n else keep
    nonzero = np.flatnonzero(scores > 0)  # most sections share no term with the question
    if len(nonzero) <= n:
        return nonzero
    return nonzero[np.argpartition(-scores[nonzero], n)[:n]]
