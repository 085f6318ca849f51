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
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import OSA

from .store import IndexLoadError, RowFile

MAX_TYPOS = 2
"""Edits tolerated in a long word (max_typos)."""
NAME_TYPOS = 1
"""Edits tolerated in a capitalised word inside a sentence: a name the corpus lacks ("Nigeria",
"Frontex", "Senegal") is two edits from many a corpus word ("Liberia", "front", "several")."""
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
INDPTR = "indptr.csc.index.npy"
TERM_IDS = "vocab.index.json"
PARAMS = "params.index.json"
SUMMED_METHODS = ("lucene", "robertson", "atire")
"""bm25s variants whose score is the plain sum of the query terms' postings (BM25L and BM25+ add
a term for absent words); the index is built with the default, lucene."""

Rows = np.ndarray | RowFile


_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    # One per thread: PyStemmer instances must not be used concurrently.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def words(text: str) -> list[str]:
    """Lower-cased words of text without possessive 's, stopwords removed."""
    return [word for word, _ in _words_as_written(text)]


def _words_as_written(text: str) -> Iterator[tuple[str, re.Match[str]]]:
    """Each of words(text), with the match of the word as the text writes it."""
    for match in WORD_RE.finditer(text):
        word = match.group().lower().replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if word and word not in STOPWORDS:
            yield word, match


def stems(tokens: list[str]) -> list[str]:
    return _stemmer().stemWords(tokens)


def _is_name(match: re.Match[str]) -> bool:
    """The word is capitalised, and not where a sentence starts."""
    text, at = match.string, match.start()
    while at > 0 and text[at - 1].isspace():  # not a copy of the text before: this runs at every word
        at -= 1
    return match.group()[:1].isupper() and at > 0 and text[at - 1] not in ".!?:\"'“‘(¿¡"


def max_typos(word: str) -> int:
    """Edits tolerated when correcting a word: none for short words, whose near neighbours are other words."""
    return 0 if len(word) < 4 or word.isdigit() else 1 if len(word) < 7 else MAX_TYPOS


class LexicalIndex:
    """BM25 scores of every section for a query, after typo correction.

    Built with bm25s; served from the arrays bm25s saves (each term's postings in a CSC run),
    so serving never imports bm25s and scipy (0.2 s of start-up).
    """

    def __init__(self, term_ids: dict[str, int], indptr: np.ndarray, postings: tuple[Rows, Rows],
                 num_docs: int, vocabulary: list[str], built: object | None = None) -> None:
        self._term_ids = term_ids
        self._indptr = np.asarray(indptr, dtype=np.int64)
        self._postings = postings
        self._docs = int(num_docs)
        self._built = built  # the bm25s.BM25 of a fresh build, which save() writes
        self.vocabulary = vocabulary
        self._known = frozenset(vocabulary)
        self._corrections: dict[tuple[str, int], str] = {}
        self._stems = sorted(term_ids)
        self._df = np.diff(self._indptr) if len(self._indptr) > 1 else np.zeros(0, dtype=np.int64)
        self.path: Path | str = "the BM25 index"
        """Where it was loaded from, for messages."""

    @classmethod
    def build(cls, tokenised: list[list[str]]) -> LexicalIndex:
        """An index over documents given as their `words()` (unstemmed, so typos can be corrected)."""
        import bm25s

        bm25 = bm25s.BM25()
        bm25.index([stems(t) or ["\x00"] for t in tokenised], show_progress=False)
        vocabulary = sorted({w for t in tokenised for w in t})
        scores = bm25.scores
        return cls(dict(bm25.vocab_dict), scores["indptr"], (scores["data"], scores["indices"]),
                   scores["num_docs"], vocabulary, built=bm25)

    def save(self, path: Path) -> None:
        if self._built is None:
            raise ValueError("only a freshly built lexical index can be saved")
        path.mkdir(parents=True, exist_ok=True)
        self._built.save(str(path), show_progress=False)
        (path / VOCAB_FILE).write_text(json.dumps(self.vocabulary, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        params = json.loads((path / PARAMS).read_text(encoding="utf-8"))
        if params.get("method") not in SUMMED_METHODS:
            raise ValueError(f"{path}: BM25 variant {params.get('method')!r} is not one this version reads")
        term_ids = json.loads((path / TERM_IDS).read_text(encoding="utf-8"))
        vocabulary = json.loads((path / VOCAB_FILE).read_text(encoding="utf-8"))
        indptr = np.load(path / INDPTR, allow_pickle=False)
        size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
        if size > MMAP_ABOVE_BYTES:
            postings: tuple[Rows, Rows] = (RowFile(path / POSTINGS[0]), RowFile(path / POSTINGS[1]))
        else:
            postings = (np.load(path / POSTINGS[0], allow_pickle=False), np.load(path / POSTINGS[1], allow_pickle=False))
            _check_postings(path, postings[1], indptr, int(params["num_docs"]))
        index = cls(term_ids, indptr, postings, int(params["num_docs"]), vocabulary)
        index.path = path
        return index

    def close(self) -> None:
        for rows in self._postings:
            if isinstance(rows, RowFile):
                rows.close()

    def correct(self, tokens: list[str], most: int = MAX_TYPOS) -> list[str]:
        """Each unknown word replaced by its nearest vocabulary word, when one is close enough (and
        at most `most` edits away)."""
        out = []
        for word in tokens:
            limit = min(max_typos(word), most)
            if word in self._known or limit == 0:
                out.append(word)
                continue
            key = (word, limit)
            fixed = self._corrections.get(key)  # shared by the search threads: one lookup, no check-then-read
            if fixed is None:
                # Another form of a corpus word is no typo: "country" scores as "countries" do
                # (same stem); corrected, it became "counter".
                match = None if stems([word])[0] in self._term_ids else process.extractOne(
                    word, self.vocabulary, scorer=OSA.distance, score_cutoff=limit)
                fixed = match[0] if match else word
                if len(self._corrections) > 10_000:
                    self._corrections.clear()
                self._corrections[key] = fixed
            out.append(fixed)
        return out

    def respell(self, text: str, knows: Callable[[str], bool]) -> str:
        """The text as the encoder should read it: each misspelt word replaced by its correction.

        Only words the model's vocabulary lacks as a whole (`knows`) count as misspelt: correcting
        every word the corpus lacks turns real words into others ("usually" -> "mutually"), which
        on dev.jsonl cost recall@1 0.87 -> 0.73; a typo ("cybr") splits into meaningless pieces.
        """

        def spelled(match: re.Match[str]) -> str:
            word = match.group()
            lower = word.lower()
            if lower in STOPWORDS or "'" in lower or "’" in lower or knows(word):
                return word
            fixed = self.correct([lower], most=NAME_TYPOS if _is_name(match) else MAX_TYPOS)[0]
            return word if fixed == lower else fixed

        return WORD_RE.sub(spelled, text)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term over sections (unknown terms count as rare)."""
        tid = self._term_ids.get(term)
        df = int(self._df[tid]) if tid is not None and tid < len(self._df) else 0
        return math.log(1 + (self._docs - df + 0.5) / (df + 0.5))

    def has(self, word: str) -> bool:
        """True when the corpus has the word as such, in any case ("NATO"; not "Natos" or "NAT0")."""
        return word.lower() in self._known

    def knows(self, word: str) -> bool:
        """True when the corpus has the word, a misspelling of it, or a close inflection (Africa/African);
        a name (capitalised) is misspelt by one edit at most: "Nigeria" is no misspelling of "Liberia"."""
        found = words(word)
        most = NAME_TYPOS if word[:1].isupper() else MAX_TYPOS
        word = found[0] if found else word.lower()
        stem = stems([word])[0]
        if stem in self._term_ids:
            return True
        corrected = self.correct([word], most=most)[0]
        if corrected != word and stems([corrected])[0] in self._term_ids:
            return True
        if len(stem) < 3:
            return False
        at = bisect.bisect_left(self._stems, stem)
        return at < len(self._stems) and self._stems[at].startswith(stem) and len(self._stems[at]) - len(stem) <= 3

    def query_terms(self, question: str) -> list[str]:
        """The stemmed terms BM25 scores for a question (a name corrected by one edit at most)."""
        return stems([self.correct([word], most=NAME_TYPOS if _is_name(match) else MAX_TYPOS)[0]
                      for word, match in _words_as_written(question)])

    def scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of every section for query_terms (float32, zeros when no term matches).

        The sum of each term's postings, as bm25s scores; a repeated term counts again.
        """
        out = np.zeros(self._docs, dtype=np.float32)
        data, sections = self._postings
        for tid in (self._term_ids[t] for t in terms if t in self._term_ids):
            lo, hi = int(self._indptr[tid]), int(self._indptr[tid + 1])
            try:
                # add.at, not out[ids] += ...: 3.0 against 5.0 ms a question at a million sections.
                np.add.at(out, _span(sections, lo, hi), _span(data, lo, hi))
            except IndexError:  # only files altered since the build get here (see load)
                raise IndexLoadError(f"{self.path}: BM25 postings name sections that do not exist (altered "
                                     "index); rebuild the index") from None
        return out


def _check_postings(path: Path, sections: np.ndarray, indptr: np.ndarray, docs: int) -> None:
    """Postings read into memory name sections that exist, in runs that cover them in order: a file
    altered in place (same size) fails at load, not at the question that reads it."""
    if (len(indptr) and (indptr[0] != 0 or indptr[-1] != len(sections) or (np.diff(indptr) < 0).any())) or (
            len(sections) and (sections.min() < 0 or sections.max() >= docs)):
        raise IndexLoadError(f"{path}: BM25 postings do not match its {docs} sections (altered index)")


def _span(rows: Rows, lo: int, hi: int) -> np.ndarray:
    return rows.span(lo, hi) if isinstance(rows, RowFile) else rows[lo:hi]
