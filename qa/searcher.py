"""Searcher = index + query encoder + retrieval + answering: what the API, CLI and library call."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from .aliases import with_meanings
from .answering import build_response
from .confidence import ASKED
from .embedding import ONNX_CONFIG, ONNX_FP32, ONNX_INT8, Encoder, EncoderError, OnnxEncoder, Tokens
from .lexical import LexicalIndex
from .models import AskRequest, AskResponse, validation_message
from .neighbours import Neighbours
from .retrieval import Candidate, LexicalHits, Retriever, fused_with
from .settings import Settings
from .store import PARTNER, IndexLoadError, IndexReader

log = logging.getLogger("qa.searcher")

LEXICAL_AHEAD_ABOVE = 100_000
"""From this many sections, a question's BM25 candidates are found on another thread while its
vector is encoded on one (at a million sections, scores alone: 3.4 ms for both, against 3.3 +
2.0 ms one after the other); below it BM25 takes a few hundredths of a millisecond and the
encoder gets both cores instead."""


class Searcher:
    """Answers questions from one loaded index generation."""

    def __init__(self, index_dir: Path | str | None = None, settings: Settings | None = None,
                 encoder: Encoder | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.index_dir = Path(index_dir if index_dir is not None else self.settings.index)
        self.reader = IndexReader(self.index_dir)
        self.manifest = self.reader.manifest
        self.generation = self.reader.generation
        self._closed = False
        try:
            neighbours, lexical = self._load_structures(encoder)
        except BaseException:  # a failed reload must not keep the generation's database open
            self.reader.close()
            raise
        self.retriever = Retriever(self.reader, neighbours, lexical)
        try:
            self.partner = Partner.load(self.reader, self.settings, lexical) if self.manifest.get("partner") else None
        except BaseException:
            self.reader.close()
            lexical.close()
            raise
        self._alone = threading.Lock()
        self._lexical_pool = (ThreadPoolExecutor(max(1, self.settings.search_threads), thread_name_prefix="qa-lexical")
                              if self.reader.section_count >= LEXICAL_AHEAD_ABOVE else None)
        _one_blas_thread()

    def _load_structures(self, encoder: Encoder | None) -> tuple[Neighbours, LexicalIndex]:
        """The query encoder (into self.encoder), FAISS index and BM25 index of the generation."""
        # The FAISS file is read from disk on another thread while the encoder loads (both release
        # the GIL): a cold million-section index, with store.py's one-row check, loads in 0.6-1.1 s
        # instead of 1.6-1.8 s.
        with ThreadPoolExecutor(1, thread_name_prefix="qa-load-faiss") as pool:
            loading = pool.submit(Neighbours.load, self.reader.path, self.reader.window_rows,
                                  self.manifest.get("faiss", {}))
            self.encoder = encoder or load_query_encoder(self.reader, self.settings,
                                                         spin=not self.manifest.get("partner"))
            try:
                return loading.result(), LexicalIndex.load(self.reader.path / "lexical")
            except Exception as exc:  # noqa: BLE001 - a damaged file must become one clear message
                raise IndexLoadError(f"{self.reader.path}: cannot load the search structures ({exc})") from None

    def ask(self, question: str, k: int = 5) -> AskResponse:
        """Answer one question with the k best passages; raises ValueError on bad input."""
        return self.ask_many([question], k=k)[0]

    def ask_many(self, questions: list[str], k: int = 5) -> list[AskResponse]:
        """Answer several questions with one encoder call; raises ValueError on bad input."""
        if self._closed:
            raise RuntimeError(f"this searcher of {self.index_dir} is closed; qa.load() it again")
        if isinstance(questions, str) or not isinstance(questions, (list, tuple)):
            raise ValueError("questions must be a list of strings")
        try:  # each checked as the API checks a request, in one readable line; k even with no question
            k = AskRequest(question="k", k=k).k  # 2.0 -> 2, as a JSON body's k
        except ValidationError as exc:
            raise ValueError(validation_message(exc)) from None
        cleaned = []
        for i, q in enumerate(questions):
            try:
                cleaned.append(AskRequest(question=q, k=k).question)
            except ValidationError as exc:  # which one, in a batch of several
                where = f"questions[{i}]: " if len(questions) > 1 else ""
                raise ValueError(f"{where}{validation_message(exc)}") from None
        ahead = self.lexical_ahead(cleaned, k)
        alone = len(cleaned) == 1 and ahead[0] is None
        vectors, pieces = self.embed(cleaned, alone=alone)
        return [self.answer(q, v, k, p, b, alone) for q, v, p, b in zip(cleaned, vectors, pieces, ahead)]

    def lexical_ahead(self, questions: list[str], k: int) -> list[Future[LexicalHits] | None]:
        """Per question, its BM25 candidates started on another thread, or None: only for a lone
        question (each holds a score per section, 4 MB at a million) on an index large enough to
        gain from it (LEXICAL_AHEAD_ABOVE). Pass them to answer() with the same k, and encode with
        alone=False meanwhile, so that the encoder leaves a core to them."""
        if self._lexical_pool is None or len(questions) != 1:
            return [None] * len(questions)
        terms = self.retriever.lexical.query_terms(questions[0])
        return [self._lexical_pool.submit(self.retriever.lexical_hits, terms, k)]

    @property
    def batch_size(self) -> int:
        """Questions worth one encoder call: 1 for a dynamically quantised model, whose vectors
        would otherwise depend on what shares their batch."""
        return 1 if getattr(self.encoder, "quantized", False) else 32

    def encode(self, questions: list[str], alone: bool = False) -> np.ndarray:
        """Question vectors; each independent of the others asked with it."""
        return self._embed(questions, alone, pieces=False)[0]

    def embed(self, questions: list[str], alone: bool = False) -> tuple[np.ndarray, list[Tokens | None]]:
        """Question vectors, and each question's word pieces when the index re-ranks with them.

        `alone`: the caller knows nothing else is being asked, so the encoder may use every core;
        only one such call runs at a time, any other runs as an ordinary one.
        """
        return self._embed(questions, alone, pieces=True)

    def _embed(self, questions: list[str], alone: bool, pieces: bool) -> tuple[np.ndarray, list[Tokens | None]]:
        questions = [self._as_encoded(q) for q in questions]
        with self._solo(alone) as solo:
            return self._run_encoder(questions, solo, pieces)

    @contextmanager
    def _solo(self, alone: bool) -> Iterator[bool]:
        """Whether an encoder call may use every core: its caller says it is alone, and no other
        such call runs now (the lock is held for the call)."""
        if alone and self._alone.acquire(blocking=False):
            try:
                yield True
            finally:
                self._alone.release()
        else:
            yield False

    def _run_encoder(self, questions: list[str], alone: bool, pieces: bool) -> tuple[np.ndarray, list[Tokens | None]]:
        return encoded(self.encoder, questions, self.batch_size, alone,
                       pieces=pieces and self.reader.token_vectors is not None)

    def _as_encoded(self, question: str) -> str:
        """The question as the encoder reads it: its typos corrected ("cybr" -> "cyber"; own.jsonl
        recall@1 0.84 -> 0.87, recall@5 0.96 -> 0.98) and its short names spelt out ("Atlantic
        alliance (NATO)"; README, How it works, says what that bought), with its question mark."""
        lexical = self.retriever.lexical
        knows = getattr(self.encoder, "knows_word", None)
        return with_question_mark(with_meanings(lexical.respell(question, knows) if knows else question, lexical.has))

    def answer(self, question: str, vector: np.ndarray, k: int, pieces: Tokens | None = None,
               lexical_hits: Future[LexicalHits] | None = None, alone: bool = False) -> AskResponse:
        """The response for a question whose vector (and word pieces) are already computed;
        `lexical_hits`: its lexical_ahead(), when started; `alone`: as for embed(), for the
        partner model's encoding."""
        lexical = self.retriever.lexical
        hits = lexical_hits.result() if lexical_hits is not None else None
        terms = hits.terms if hits is not None else lexical.query_terms(question)
        if self.partner is None:
            ranked = self.retriever.candidates(vector, terms, k, pieces, hits)
        else:
            hits = hits or self.retriever.lexical_hits(terms, k)  # BM25 once, for both models
            ranked = fused_with(self.retriever.candidates(vector, terms, k, pieces, hits),
                                self._partner_candidates(question, terms, k, hits, alone),
                                self.retriever.weights.partner)
        return build_response(question, terms, ranked, self.reader, lexical, k)

    def _partner_candidates(self, question: str, terms: list[str], k: int, hits: LexicalHits,
                            alone: bool = False) -> list[Candidate]:
        assert self.partner is not None
        with self._solo(alone) as solo:
            return self.partner.candidates(self._as_encoded(question), terms, k, hits, alone=solo)

    def close(self) -> None:
        self._closed = True
        if self._lexical_pool is not None:
            self._lexical_pool.shutdown()
        self.reader.close()
        if self.partner is not None:
            self.partner.reader.close()
        self.retriever.lexical.close()


@dataclass(frozen=True)
class Partner:
    """A second model's encoder and retrieval over the generation's sections (store.PARTNER)."""

    reader: IndexReader
    encoder: Encoder
    retriever: Retriever

    @classmethod
    def load(cls, primary: IndexReader, settings: Settings, lexical: LexicalIndex) -> Partner:
        """The partner index of a generation, sharing its BM25 index; IndexLoadError when it is
        missing or was not built over the same sentences."""
        reader = IndexReader(primary.path / PARTNER)
        try:
            if (len(reader.sentences) != len(primary.sentences)
                    or not np.array_equal(reader.section_sentences, primary.section_sentences)):
                raise IndexLoadError(f"{reader.path}: the partner index holds other sentences than "
                                     f"{primary.path}; rebuild with `qa index`")
            encoder = load_query_encoder(reader, settings, spin=False)
            try:
                retriever = Retriever(reader, Neighbours.load(reader.path, reader.window_rows,
                                                              reader.manifest.get("faiss", {})), lexical)
            except Exception as exc:  # noqa: BLE001 - a damaged file must become one clear message
                raise IndexLoadError(f"{reader.path}: cannot load the search structures ({exc})") from None
        except BaseException:
            reader.close()
            raise
        return cls(reader, encoder, retriever)

    def candidates(self, text: str, terms: list[str], k: int, hits: LexicalHits, alone: bool) -> list[Candidate]:
        """This model's ranking of the question (as the searcher encodes it) and its BM25 hits."""
        vectors, pieces = encoded(self.encoder, [text], 1, alone, pieces=self.reader.token_vectors is not None)
        return self.retriever.candidates(vectors[0], terms, k, pieces[0], hits)


ENDED = re.compile(r"[?.!]\W*$")


def with_question_mark(text: str) -> str:
    """A question as the encoder should read it: with its question mark, typed or not. Without it,
    "How do allies ..." embeds apart enough to change the first passage: the never-read files'
    questions, asked without their marks, lost recall@1 on 8 and gained it on 2; with this, 2 and 0
    (read files: 2 and 1; 1 and 0). As written, answer_exact@1 moved on two files, one question
    each way. A text that asks nothing ("NATO budget") is left as it is."""
    if ASKED.search(text) and not ENDED.search(text):  # asked in words, its mark left out
        return text.rstrip() + "?"
    return text


def encoded(encoder: Encoder, questions: list[str], batch_size: int, alone: bool, pieces: bool
            ) -> tuple[np.ndarray, list[Tokens | None]]:
    """Question vectors, and their word pieces when asked for and the encoder gives them."""
    with_tokens = getattr(encoder, "encode_with_tokens", None)
    if not pieces or with_tokens is None:
        return encoder.encode(questions, batch_size=batch_size, alone=alone), [None] * len(questions)
    vectors, found = with_tokens(questions, batch_size=batch_size, alone=alone)
    return vectors, list(found)


def _one_blas_thread() -> None:
    """Keep numpy's BLAS on one thread, as faiss's OpenMP (neighbours.py): a query's products are
    small, and BLAS threads spinning beside the encoder's cost more than they give (word-piece
    re-ranking: 8.1 ms a question with two BLAS threads, 4.3 ms with one)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency; without it only speed suffers
        return
    threadpool_limits(limits=1, user_api="blas")


def load_query_encoder(reader: IndexReader, settings: Settings, spin: bool = True) -> Encoder:
    """The encoder the index was built with: its ONNX export when it has one (no torch); `spin`:
    see OnnxEncoder."""
    model = reader.manifest["model"]
    kind = model.get("encoder")
    try:
        if kind == "onnx":
            quantized = model.get("file") == ONNX_INT8
            for name in (ONNX_CONFIG, "tokenizer.json", ONNX_INT8 if quantized else ONNX_FP32):
                reader.check_digest(f"encoder/{name}")
            return OnnxEncoder(reader.path / "encoder", quantized=quantized, threads=settings.threads,
                               solo_threads=settings.solo_threads, spin=spin)
        if kind == "sentence-transformers":
            from .embedding import SentenceTransformerEncoder

            log.info("model %s has no ONNX export in this index; embedding queries with torch", model["name"])
            return SentenceTransformerEncoder(model["name"], settings.cache_dir)
    except EncoderError as exc:
        raise IndexLoadError(str(exc)) from None
    raise IndexLoadError(f"{reader.path}: index was built with a {kind!r} encoder that can't be loaded here")


def load(index_dir: Path | str | None = None, **settings: object) -> Searcher:
    """Open an index for searching: `qa.load("index/")`, or `qa.load()` for QA_INDEX / index/."""
    resolved = Settings.from_env(**settings)  # type: ignore[arg-type]
    return Searcher(index_dir if index_dir is not None else resolved.index, resolved)
