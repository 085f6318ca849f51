"""BM25 over sections, with query words corrected against the corpus vocabulary.

Lexical scoring catches what embeddings blur: names, acronyms and numbers (AU, SCO,
Article 5). A misspelt query word that is not in the vocabulary is replaced by the
closest vocabulary word within a small edit distance before scoring.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import threading
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from .store import RowFile

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
    during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here
    here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself
    let's me more most mustn't my myself no nor not of off on once only or other ought our ours ourselves
    out over own same shan't she she'd she'll she's should shouldn't so some such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've this those through
    to too under until up very was wasn't we we'd we'll we're we've were weren't what what's when when's
    where where's which while who who's whom why why's will with won't would wouldn't you you'd you'll
    you're you've your yours yourself yourselves s t d ll m re ve
    """.split()
)
VOCAB_FILE = "vocabulary.json"
MMAP_ABOVE_BYTES = 64 * 1024 * 1024
"""BM25 matrices up to this size are read into RAM (fastest per query); a larger one's postings are
read term by term from disk, so they stay in the page cache instead of the server's memory."""
POSTINGS = ("data.csc.index.npy", "indices.csc.index.npy")
"""bm25s's files of each term's scores and sections, in runs that its indptr array delimits."""


_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    # One per thread: PyStemmer instances must not be used concurrently.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def words(text: str) -> list[str]:
    """Lower-cased words of text without possessive 's, stopwords removed."""
    out = []
    for match in WORD_RE.finditer(text):
        word = match.group().lower().replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if word and word not in STOPWORDS:
            out.append(word)
    return out


def stems(tokens: list[str]) -> list[str]:
    return _stemmer().stemWords(tokens)


def max_typos(word: str) -> int:
    """Edits tolerated when correcting a word: none for short words, whose near neighbours are other words."""
    return 0 if len(word) < 4 or word.isdigit() else 1 if len(word) < 7 else 2


class LexicalIndex:
    """BM25 scores of every section for a query, after typo correction."""

    def __init__(self, bm25: bm25s.BM25, vocabulary: list[str],
                 postings: tuple[RowFile, RowFile] | None = None) -> None:
        self.bm25 = bm25
        self._postings = postings
        self.vocabulary = vocabulary
        self._known = frozenset(vocabulary)
        self._corrections: dict[str, str] = {}
        self._stems = sorted(bm25.vocab_dict)
        self._docs = int(bm25.scores["num_docs"])
        indptr = np.asarray(bm25.scores["indptr"])
        self._df = np.diff(indptr) if len(indptr) > 1 else np.zeros(0, dtype=np.int64)

    @classmethod
    def build(cls, tokenised: list[list[str]]) -> LexicalIndex:
        """An index over documents given as their `words()` (unstemmed, so typos can be corrected)."""
        bm25 = bm25s.BM25()
        bm25.index([stems(t) or ["\x00"] for t in tokenised], show_progress=False)
        vocabulary = sorted({w for t in tokenised for w in t})
        return cls(bm25, vocabulary)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.bm25.save(str(path), show_progress=False)
        (path / VOCAB_FILE).write_text(json.dumps(self.vocabulary, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
        large = size > MMAP_ABOVE_BYTES
        bm25 = bm25s.BM25.load(str(path), mmap=large)
        vocabulary = json.loads((path / VOCAB_FILE).read_text(encoding="utf-8"))
        postings = None
        if large and bm25.nonoccurrence_array is None:  # the default BM25 variant: scores are sums of postings
            postings = (RowFile(path / POSTINGS[0]), RowFile(path / POSTINGS[1]))
        return cls(bm25, vocabulary, postings)

    def close(self) -> None:
        for rows in self._postings or ():
            rows.close()

    def correct(self, tokens: list[str]) -> list[str]:
        """Each unknown word replaced by its nearest vocabulary word, when one is close enough."""
        out = []
        for word in tokens:
            limit = max_typos(word)
            if word in self._known or limit == 0:
                out.append(word)
                continue
            fixed = self._corrections.get(word)  # shared by the search threads: one lookup, no check-then-read
            if fixed is None:
                match = process.extractOne(word, self.vocabulary, scorer=Levenshtein.distance,
                                           score_cutoff=limit)
                fixed = match[0] if match else word
                if len(self._corrections) > 10_000:
                    self._corrections.clear()
                self._corrections[word] = fixed
            out.append(fixed)
        return out

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term over sections (unknown terms count as rare)."""
        tid = self.bm25.vocab_dict.get(term)
        df = int(self._df[tid]) if tid is not None and tid < len(self._df) else 0
        return math.log(1 + (self._docs - df + 0.5) / (df + 0.5))

    def knows(self, word: str) -> bool:
        """True when the corpus has the word, a misspelling of it, or a close inflection (Africa/African)."""
        found = words(word)
        word = found[0] if found else word.lower()
        stem = stems([word])[0]
        if stem in self.bm25.vocab_dict:
            return True
        corrected = self.correct([word])[0]
        if corrected != word and stems([corrected])[0] in self.bm25.vocab_dict:
            return True
        if len(stem) < 3:
            return False
        at = bisect.bisect_left(self._stems, stem)
        return at < len(self._stems) and self._stems[at].startswith(stem) and len(self._stems[at]) - len(stem) <= 3

    def query_terms(self, question: str) -> list[str]:
        """The stemmed terms BM25 scores for a question."""
        return stems(self.correct(words(question)))

    def scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of every section for query_terms (float32, zeros when no term matches)."""
        terms = [t for t in terms if t in self.bm25.vocab_dict]
        if not terms:
            return np.zeros(self._docs, dtype=np.float32)
        if self._postings is None:
            return np.asarray(self.bm25.get_scores(terms), dtype=np.float32)
        data, sections = self._postings
        indptr = self.bm25.scores["indptr"]
        out = np.zeros(self._docs, dtype=np.float32)
        for tid in (self.bm25.vocab_dict[t] for t in terms):  # repeated terms count again, as in bm25s
            lo, hi = int(indptr[tid]), int(indptr[tid + 1])
            np.add.at(out, sections.span(lo, hi), data.span(lo, hi))
        return out
