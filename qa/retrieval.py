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

    def candidates(self, query: np.ndarray, question: str, k: int) -> list[Candidate]:
        """Sections ranked best first by fused score (at least k when the index has them)."""
        pool = max(64, 4 * k)
        window_best = self._dense(query, pool)
        bm25 = self.lexical.scores(question)
        lexical_top = _top(bm25, pool)
        ids = sorted(set(window_best) | {int(i) for i in lexical_top if bm25[i] > 0})
        if len(ids) < k:  # a tiny or unmatched corpus: take everything in order
            ids = sorted(set(ids) | set(range(min(self.reader.section_count, pool))))
        w = self.weights
        out = []
        for sid in ids:
            window = window_best.get(sid)
            if window is None:
                window = self._window_score(query, sid)
            rows, sims = self._sentence_scores(query, sid)
            sentence = float(sims.max()) if len(sims) else window
            lex = float(bm25[sid] / (bm25[sid] + w.lexical_half)) if bm25[sid] > 0 else 0.0
            score = w.window * window + w.sentence * sentence + w.lexical * lex
            out.append(Candidate(sid, score, window, sentence, lex, rows, sims))
        out.sort(key=lambda c: -c.score)
        return out

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

    def _sentence_scores(self, query: np.ndarray, sid: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = (int(x) for x in self.reader.section_sentences[sid])
        vectors = np.asarray(self.reader.sentence_vectors[lo:hi], dtype=np.float32)
        return np.arange(lo, hi), vectors @ query


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    if len(scores) <= n:
        return np.arange(len(scores))
    return np.argpartition(-scores, n)[:n]
