"""Corpus -> index: read articles, split sections, embed, write a new generation atomically.

Vectors are keyed by a hash of the model and the embedded text, so a rebuild reuses every
vector of an unchanged window or sentence and embeds only what is new.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import store
from .articles import MAX_FILE_BYTES, Skipped, iter_corpus
from .embedding import (
    FIDELITY_FLOOR,
    ONNX_FP32,
    ONNX_INT8,
    Encoder,
    EncoderError,
    OnnxEncoder,
    Tokens,
    cache_key,
    normalise,
    prepare_export,
)
from .lexical import LexicalIndex, stems, words
from .models import Article, Section
from .neighbours import INDEX_FILE, build_index, choose_structure, save_index
from .sections import split_sections
from .settings import Settings

log = logging.getLogger("qa.build")

ENCODE_BATCH = 64
HASH_BYTES = 16
PIECES_VERSION = 1
"""Which rules chose a sentence's word pieces; a rebuild reuses only pieces chosen by the same rules."""


class BuildError(Exception):
    """The build can't run; the message names the file or directory at fault."""


@dataclass
class BuildReport:
    """What a build did, for the CLI to print."""

    generation: str = ""
    path: Path | None = None
    articles: int = 0
    sections: int = 0
    windows: int = 0
    sentences: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    embedded: int = 0
    reused_vectors: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Units:
    """What gets embedded: section windows and sentences, each tied to its section."""

    window_texts: list[str]
    """Text to embed for a window, or "" for one pooled from its sentences."""
    window_ranges: np.ndarray
    """[windows, 2]: the sentence rows a pooled window averages (empty for embedded ones)."""
    window_sections: np.ndarray
    sentence_texts: list[str]
    """Each sentence as embedded: its context (heading or title), ": ", then the sentence."""
    sentence_unmatched: list[int]
    """Leading characters of each sentence_texts entry that give no word pieces: the title an
    introduction is embedded with. It names the whole article, so its words must not make the
    introduction every question's best word match; a heading's words stay, being the section's."""
    sentences: np.ndarray
    section_sentences: np.ndarray
    sentence_words: list[list[str]]
    """Each sentence's words (lexical.words), for BM25 over sections and answer choice."""


@dataclass(frozen=True)
class TokenTable:
    """Every sentence's meaningful word pieces in context, for re-ranking by word-level match."""

    ids: np.ndarray
    """int32 [tokens]: vocabulary ids."""
    vectors: np.ndarray
    """int8 [tokens, dim]: unit vectors times store.PIECE_SCALE."""
    offsets: np.ndarray
    """int64 [sentences + 1]: sentence i's tokens are rows offsets[i]:offsets[i + 1]."""


# ---------------------------------------------------------------- the pipeline


def build(
    settings: Settings,
    encoder: Encoder | None = None,
    progress: bool | None = None,
    on_articles: Callable[[list[Article]], None] | None = None,
) -> BuildReport:
    """Build a new index generation from settings.corpus into settings.index and make it current."""
    started = time.perf_counter()
    report = BuildReport()
    articles = read_corpus(Path(settings.corpus), report, settings.max_article_bytes,
                           leave_out=(Path(settings.index),))
    if on_articles is not None:
        on_articles(articles)
    sections = [s for a in articles for s in split_sections(a)]
    texts = {a.doc: a.text for a in articles}
    if not sections:
        raise BuildError(f"{settings.corpus}: no searchable text in any article")

    index_dir = Path(settings.index)
    with ExitStack() as held:
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
            held.enter_context(store.build_lock(index_dir))
            name, tmp = store.new_generation_dir(index_dir)
        except store.IndexBusyError as exc:
            raise BuildError(str(exc)) from None
        except OSError as exc:
            raise BuildError(f"{index_dir}: cannot write the index ({exc.strerror or exc})") from None
        try:
            previous = _previous(index_dir)
            _compare(articles, previous, report)
            notify = _notifier(progress)
            model = _prepare_encoder(model_name(settings.model), encoder, tmp, settings.cache_dir, notify)
            # Before any embedding: a partner that can't load fails the build at once, not after it.
            partner = _prepare_partner(settings, tmp, notify)
            units = make_units(sections, texts, model.encoder)
            vectors, hashes, tokens = _embed(units, model, previous, report, progress,
                                             settings.token_budget_mb * 1024 * 1024)
            report.generation, report.articles, report.sections = name, len(articles), len(sections)
            report.windows, report.sentences = len(units.window_texts), len(units.sentence_texts)
            with _writing(index_dir):
                _write(tmp, articles, sections, texts, units, vectors, hashes, model, tokens)
            del previous, units, vectors, hashes, tokens  # written: the partner's build needs the memory
            if partner is not None:
                _build_partner(partner, settings, tmp, articles, sections, texts, report, progress)
            with _writing(index_dir):
                report.seconds = round(time.perf_counter() - started, 2)
                store.write_manifest(tmp, _manifest(settings, articles, report, model,
                                                    partner.manifest["name"] if partner else None))
                report.path = store.publish_generation(index_dir, name, tmp)
        except BaseException:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return report


def _write_failure(exc: BaseException, index_dir: Path) -> str:
    """Why writing failed, in a few words, and the space left when that is the likely reason (numpy
    says only "460032 requested and 131040 written", FAISS a C++ assertion)."""
    import shutil

    reason = getattr(exc, "strerror", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
    if "faiss::" in reason:
        reason = f"FAISS could not write {INDEX_FILE}"
    reason = reason if len(reason) <= 200 else reason[:199] + "…"
    try:
        free = shutil.disk_usage(index_dir).free
    except OSError:
        return reason
    return f"{reason}; {free / 2**20:.0f} MB free there" if free < 2**30 else reason


@contextmanager
def _writing(index_dir: Path) -> Iterator[None]:
    """Errors of writing the generation, as one BuildError that says the served index is untouched."""
    try:
        yield
    except (OSError, sqlite3.Error, RuntimeError) as exc:  # RuntimeError: FAISS's write errors
        raise BuildError(f"{index_dir}: cannot write the index ({_write_failure(exc, index_dir)}); "
                         "the index in use is unchanged") from None


def _prepare_partner(settings: Settings, gen_dir: Path, notify: Callable[[str], None] | None) -> PreparedModel | None:
    """The partner model's encoder, exported into gen_dir/partner; None when none is set."""
    if not settings.partner_model.strip():
        return None
    partner_dir = gen_dir / store.PARTNER
    partner_dir.mkdir()
    return _prepare_encoder(model_name(settings.partner_model.strip()), None, partner_dir, settings.cache_dir, notify)


def _build_partner(model: PreparedModel, settings: Settings, gen_dir: Path, articles: list[Article],
                   sections: list[Section], texts: dict[str, str], report: BuildReport, progress: bool | None) -> None:
    """The partner model's vectors of the same sentences, as an index of their own in
    gen_dir/partner sharing the section table (its own windows: they fit its word pieces)."""
    partner_dir = gen_dir / store.PARTNER
    units = make_units(sections, texts, model.encoder)
    own = BuildReport(articles=len(articles), sections=len(sections), windows=len(units.window_texts),
                      sentences=len(units.sentence_texts))
    vectors, hashes, tokens = _embed(units, model, _previous(Path(settings.index), partner=True), own, progress,
                                     settings.token_budget_mb * 1024 * 1024, label="embedding, partner")
    report.embedded += own.embedded
    report.reused_vectors += own.reused_vectors
    with _writing(Path(settings.index)):
        store.link_table(gen_dir, partner_dir)
        _write_vectors(partner_dir, units, vectors, hashes, model, tokens)
        store.write_manifest(partner_dir, _manifest(settings, articles, own, model))


def read_corpus(corpus: Path, report: BuildReport, max_bytes: int = MAX_FILE_BYTES,
                leave_out: tuple[Path, ...] = ()) -> list[Article]:
    """The corpus's articles, each file it skips logged and reported; `leave_out`: folders not read."""
    if not corpus.exists():
        raise BuildError(f"{corpus}: no such corpus directory")
    if not corpus.is_dir():
        raise BuildError(f"{corpus}: not a directory")
    articles = []
    for item in iter_corpus(corpus, max_bytes, leave_out):
        if isinstance(item, Skipped):
            log.warning("skipped %s: %s", item.doc, item.reason)
            report.skipped.append(item)
        else:
            articles.append(item)
    if not articles:
        raise BuildError(f"{corpus}: no articles (.txt, .md or .html files with text)")
    return articles


@dataclass(frozen=True)
class PreparedModel:
    encoder: Encoder
    manifest: dict
    key: str
    parallel: int = 1
    """Batches embedded at once, each on one thread (the ONNX encoder); 1: one after the other."""


def _prepare_encoder(name: str, encoder: Encoder | None, gen_dir: Path, cache_dir: Path | None,
                     notify: Callable[[str], None] | None = None) -> PreparedModel:
    """The encoder for documents and queries: the ONNX export when it is faithful, else torch."""
    if encoder is not None:  # injected (tests, benchmarks): used as it is
        info = {"name": encoder.name, "dim": encoder.dim, "max_tokens": encoder.max_tokens, "encoder": "custom"}
        return PreparedModel(encoder, info, f"custom:{encoder.name}")
    export_dir = gen_dir / "encoder"
    export_dir.mkdir()
    try:
        # Stored vectors are reused by this key too: the model's identity, not only its name (a
        # model retrained at the same path, or upgraded under the same name, embeds differently).
        identity = cache_key(name, cache_dir)
        config, reference = prepare_export(name, identity, export_dir, cache_dir, notify)
    except EncoderError as exc:
        raise BuildError(str(exc)) from None
    if config is None:
        assert reference is not None
        info = {"name": name, "dim": reference.dim, "max_tokens": reference.max_tokens,
                "encoder": "sentence-transformers"}
        return PreparedModel(reference, info, f"st:{name}:{identity}")
    quantized = config["fidelity"][ONNX_INT8] >= FIDELITY_FLOOR
    info = {"name": name, "dim": config["dim"], "max_tokens": config["max_tokens"], "encoder": "onnx",
            "file": ONNX_INT8 if quantized else ONNX_FP32, "fidelity": config["fidelity"],
            "pooling": config["pooling"]}
    # A batch per core, each on one thread, rather than one batch on every core: a sentence's
    # matrices are too small to split well (300 generated sections: 5.95 -> 5.32 s, median of four
    # alternating builds). Vectors are the same: the batches are.
    encoder = OnnxEncoder(export_dir, quantized=quantized, threads=1)
    key = f"onnx-{'int8' if quantized else 'fp32'}:{name}:{identity}"
    return PreparedModel(encoder, info, key, parallel=_threads())


def model_name(name: str) -> str:
    """The model as the index records it: a local folder by its absolute path, so that an index
    built with `--model ./mine` loads from any directory; any other name as given."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.is_dir() else name


def _threads() -> int:
    import os

    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


# ---------------------------------------------------------------- units


def context_of(section: Section) -> str:
    """The words that situate a section's text: its heading, or the title for an introduction."""
    return section.heading or section.title


def make_units(sections: list[Section], texts: dict[str, str], encoder: Encoder) -> Units:
    """Sentences (each embedded with its heading) and windows over them.

    A window is a run of whole sentences that fits the model's window, overlapping the next
    by one sentence; its vector is the mean of its sentence vectors, so the transformer runs
    once per sentence and never again over the same text. Only a sentence longer than the
    window is embedded again, cut into overlapping pieces. `texts` maps each doc to its plain
    text, which the sentence spans index into.
    """
    window_texts: list[str] = []
    window_ranges: list[tuple[int, int]] = []
    window_sections: list[int] = []
    sentence_texts: list[str] = []
    sentence_unmatched: list[int] = []
    sentence_rows: list[tuple[int, int, int]] = []
    sentence_words: list[list[str]] = []
    ranges: list[tuple[int, int]] = []
    for sid, section in enumerate(sections):
        context = context_of(section)
        plain = texts[section.doc]
        sentences = [plain[span.start : span.end] for span in section.sentences]
        lo = len(sentence_rows)
        for span, text in zip(section.sentences, sentences):
            sentence_rows.append((sid, span.start, span.end))
            sentence_words.append(words(text))
            sentence_texts.append(f"{context}: {text}" if context else text)
            sentence_unmatched.append(len(context) + 2 if context and not section.heading else 0)
        ranges.append((lo, len(sentence_rows)))
        budget = max(16, encoder.max_tokens - 3 - encoder.count_tokens([context])[0])
        counts = encoder.count_tokens(sentences)
        for i, j in pack_windows(counts, budget):
            if j - i == 1 and counts[i] > budget:
                for piece in split_long(sentences[i], budget, encoder):
                    window_texts.append(f"{context}\n{piece}" if context else piece)
                    window_ranges.append((lo + i, lo + i))
                    window_sections.append(sid)
            else:
                window_texts.append("")
                window_ranges.append((lo + i, lo + j))
                window_sections.append(sid)
    return Units(
        window_texts=window_texts,
        window_ranges=np.asarray(window_ranges, dtype=np.int64).reshape(-1, 2),
        window_sections=np.asarray(window_sections, dtype=np.int32),
        sentence_texts=sentence_texts,
        sentence_unmatched=sentence_unmatched,
        sentences=np.asarray(sentence_rows, dtype=np.int64).reshape(-1, 3),
        section_sentences=np.asarray(ranges, dtype=np.int64).reshape(-1, 2),
        sentence_words=sentence_words,
    )


def pack_windows(counts: list[int], budget: int) -> list[tuple[int, int]]:
    """[i, j) runs of consecutive sentences of at most `budget` word pieces, overlapping by one.

    A sentence longer than the budget is a run of its own.
    """
    windows: list[tuple[int, int]] = []
    i, n = 0, len(counts)
    while i < n:
        j, used = i + 1, counts[i]
        while j < n and counts[i] <= budget and used + counts[j] <= budget:
            used += counts[j]
            j += 1
        windows.append((i, j))
        if j >= n:
            break
        i = j - 1 if j - 1 > i and counts[j] <= budget else j
    return windows


def split_long(text: str, budget: int, encoder: Encoder) -> list[str]:
    """A sentence longer than the window, cut into overlapping runs of word pieces."""
    offsets = encoder.token_offsets(text)
    step = max(1, budget * 3 // 4)
    pieces = []
    for lo in range(0, len(offsets), step):
        chunk = offsets[lo : lo + budget]
        pieces.append(text[chunk[0][0] : chunk[-1][1]])
        if lo + budget >= len(offsets):
            break
    return pieces


# ---------------------------------------------------------------- embedding with reuse


def unit_hash(model_key: str, text: str) -> bytes:
    return hashlib.blake2b(f"{model_key}\x00{text}".encode(), digest_size=HASH_BYTES).digest()


@dataclass(frozen=True)
class Previous:
    """Vectors of the current generation, by unit hash, for reuse."""

    vectors: dict[bytes, tuple[np.ndarray, int]]
    article_hashes: dict[str, str]
    tokens: TokenTable | None = None
    """Word pieces of the previous sentences, when chosen by the same rules; row i is sentence i."""
    sentence_vectors: np.ndarray | None = None
    """The array a hit in `vectors` points into when it is a previous sentence (row = its row in `tokens`)."""


def _previous(index_dir: Path, partner: bool = False) -> Previous | None:
    """The current generation's vectors (its partner model's, with `partner`), or None."""
    try:
        reader = store.IndexReader(store.resolve_generation(index_dir) / store.PARTNER if partner else index_dir)
    except store.IndexLoadError as exc:
        if store.current_generation_name(index_dir):  # there is one, but it can't be read: say so
            log.warning("the current index can't be read, so nothing of it is reused: %s", exc)
        return None
    try:
        tokens = None
        same_rules = (reader.manifest.get("tokens") or {}).get("version") == PIECES_VERSION
        if reader.token_vectors is not None and same_rules:
            tokens = TokenTable(reader.token_ids, reader.token_vectors, reader.sentence_tokens)
        vectors: dict[bytes, tuple[np.ndarray, int]] = {}
        for array, hashes in ((reader.windows, reader.window_hashes), (reader.sentence_vectors, reader.sentence_hashes)):
            # A row altered since it was stored (not of unit length, or with word pieces outside the
            # vocabulary) is embedded again, not carried into the new generation.
            sound = store.unit_rows(array)
            if tokens is not None and array is reader.sentence_vectors:
                sound &= _sound_pieces(tokens, reader.token_idf)
            for row in np.flatnonzero(sound):
                # numpy's S16 drops trailing NUL bytes on read; pad back to the stored hash.
                vectors[bytes(hashes[row]).ljust(HASH_BYTES, b"\x00")] = (array, int(row))
        return Previous(vectors, reader.article_hashes(), tokens, reader.sentence_vectors)
    finally:
        reader.close()


def _sound_pieces(tokens: TokenTable, idf: np.ndarray | None) -> np.ndarray:
    """Per sentence: whether all its word pieces have ids of the vocabulary the build counted."""
    ids = np.asarray(tokens.ids)
    bad = ((ids < 0) | (ids >= (len(idf) if idf is not None else 0))).astype(np.int64)
    per_sentence = np.add.reduceat(np.concatenate([bad, [0]]), np.asarray(tokens.offsets[:-1]))
    return (per_sentence == 0) | (np.diff(tokens.offsets) == 0)


def _compare(articles: list[Article], previous: Previous | None, report: BuildReport) -> None:
    before = previous.article_hashes if previous else {}
    now = {a.doc: a.digest for a in articles}
    for doc, digest in now.items():
        if doc not in before:
            report.added.append(doc)
        elif before[doc] != digest:
            report.changed.append(doc)
        else:
            report.reused.append(doc)
    report.removed = sorted(set(before) - set(now))


def _embed(
    units: Units, model: PreparedModel, previous: Previous | None, report: BuildReport, progress: bool | None,
    token_budget: int = 0, label: str = "embedding",
) -> tuple[np.ndarray, np.ndarray, TokenTable | None]:
    """Vectors and hashes of windows then sentences: reused where the hash matches, else embedded;
    and the sentences' word-piece vectors, when the encoder gives them and they fit the budget."""
    n_windows = len(units.window_texts)
    texts = units.window_texts + units.sentence_texts
    hashes = [unit_hash(model.key, t) for t in texts]
    for w, (lo, hi) in enumerate(units.window_ranges):
        if hi > lo:  # pooled: identified by the sentences it averages
            hashes[w] = unit_hash(model.key, "\x00pooled\x00" + "\x00".join(units.sentence_texts[lo:hi]))
    tokens = _TokenCollector(len(units.sentence_texts), token_budget, model.encoder)
    old_tokens = previous.tokens if previous else None
    out = np.zeros((len(texts), model.encoder.dim), dtype=np.float32)
    todo = []
    for row, digest in enumerate(hashes):
        hit = previous.vectors.get(digest) if previous else None
        if hit is not None and hit[0].shape[1] == model.encoder.dim:
            if row >= n_windows and tokens.active:
                if old_tokens is None or hit[0] is not previous.sentence_vectors:
                    todo.append(row)  # built without word pieces: embed again to get them
                    continue
                tokens.reuse(row - n_windows, old_tokens, hit[1])
            out[row] = hit[0][hit[1]]
        elif texts[row]:
            todo.append(row)
    # Identical texts (repeated boilerplate) are embedded once and copied.
    first: dict[bytes, int] = {}
    copies = [(row, first.setdefault(hashes[row], row)) for row in todo]
    todo = [row for row, source in copies if row == source]
    report.reused_vectors = sum(1 for t in texts if t) - len(todo)
    report.embedded = len(todo)
    # Longest first: similar lengths share a batch (less padding) and the ETA settles early.
    todo.sort(key=lambda r: -len(texts[r]))

    def embed(rows: list[int]) -> tuple[np.ndarray, list[Tokens] | None]:
        batch = [texts[r] for r in rows]
        if not tokens.active:
            return model.encoder.encode(batch, batch_size=ENCODE_BATCH), None
        skip = [units.sentence_unmatched[r - n_windows] if r >= n_windows else 0 for r in rows]
        return model.encoder.encode_with_tokens(batch, batch_size=ENCODE_BATCH, skip=skip)  # type: ignore[attr-defined]

    batches = [todo[lo : lo + ENCODE_BATCH] for lo in range(0, len(todo), ENCODE_BATCH)]
    bar = tqdm(total=len(todo), desc=label, unit="text", disable=_no_bar(progress), dynamic_ncols=True)
    pool = ThreadPoolExecutor(max(1, model.parallel), thread_name_prefix="qa-embed")
    try:
        with bar:
            for rows, (vectors, found) in zip(batches, pool.map(embed, batches)):  # in order
                out[rows] = vectors
                for row, pieces in zip(rows, found or ()):
                    if row >= n_windows:
                        tokens.add(row - n_windows, pieces)
                bar.update(len(rows))
    finally:  # on an error or Ctrl-C, only the batches already running are waited for
        pool.shutdown(cancel_futures=True)
    for row, source in copies:
        out[row] = out[source]
        if source != row and source >= n_windows:
            tokens.copy(row - n_windows, source - n_windows)
    sentence_vectors = out[n_windows:]
    for w, (lo, hi) in enumerate(units.window_ranges):
        if hi > lo:
            out[w] = normalise(sentence_vectors[lo:hi].mean(axis=0, keepdims=True))[0]
    return out, np.array(hashes, dtype=f"S{HASH_BYTES}"), tokens.table()


class _TokenCollector:
    """Gathers each sentence's word-piece vectors (int8) while embedding; gives up, with a
    warning, once they outgrow the budget."""

    def __init__(self, sentences: int, budget: int, encoder: Encoder) -> None:
        self.active = budget > 0 and hasattr(encoder, "encode_with_tokens")
        self._budget = budget
        self._used = 0
        self._dim = encoder.dim
        self._ids: list[np.ndarray | None] = [None] * sentences
        self._vectors: list[np.ndarray | None] = [None] * sentences

    def add(self, sentence: int, pieces: Tokens) -> None:
        self._put(sentence, pieces.ids, np.round(pieces.vectors * store.PIECE_SCALE).astype(np.int8))

    def reuse(self, sentence: int, table: TokenTable, row: int) -> None:
        lo, hi = int(table.offsets[row]), int(table.offsets[row + 1])
        self._put(sentence, np.asarray(table.ids[lo:hi]), np.asarray(table.vectors[lo:hi]))

    def copy(self, sentence: int, source: int) -> None:
        if self.active:  # once inactive, the lists are gone
            self._put(sentence, self._ids[source], self._vectors[source])

    def _put(self, sentence: int, ids: np.ndarray | None, vectors: np.ndarray | None) -> None:
        if not self.active or ids is None or vectors is None:
            return
        self._used += vectors.nbytes + ids.nbytes
        if self._used > self._budget:
            log.warning("word-piece vectors need more than QA_TOKEN_BUDGET_MB=%d MB; building without "
                        "them (answers rank on sentence vectors and BM25 only)", self._budget // 2**20)
            self.active = False
            self._ids, self._vectors = [], []
            return
        self._ids[sentence], self._vectors[sentence] = ids, vectors

    def table(self) -> TokenTable | None:
        """The gathered pieces in sentence order, in one pair of arrays."""
        if not self.active:
            return None
        lengths = [0 if x is None else len(x) for x in self._ids]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ids = np.empty(int(offsets[-1]), dtype=np.int32)
        vectors = np.empty((int(offsets[-1]), self._dim), dtype=np.int8)
        for i, (lo, hi) in enumerate(zip(offsets[:-1], offsets[1:])):
            if hi > lo:
                ids[lo:hi], vectors[lo:hi] = self._ids[i], self._vectors[i]
            self._ids[i] = self._vectors[i] = None
        return TokenTable(ids, vectors, offsets)


def _no_bar(progress: bool | None) -> bool | None:
    return None if progress is None else not progress


def _notifier(progress: bool | None) -> Callable[[str], None] | None:
    """Where a progress bar would show (progress True, or None on a terminal): one-line notices
    of slow steps that have no bar, such as the first export of a model."""
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    return lambda message: tqdm.write(message, file=sys.stderr)


# ---------------------------------------------------------------- writing


def _write(
    gen_dir: Path,
    articles: list[Article],
    sections: list[Section],
    texts: dict[str, str],
    units: Units,
    vectors: np.ndarray,
    hashes: np.ndarray,
    model: PreparedModel,
    tokens: TokenTable | None = None,
) -> None:
    db = store.create_table(gen_dir)
    counts: dict[str, int] = {}
    for s in sections:
        counts[s.doc] = counts.get(s.doc, 0) + 1
    db.executemany(
        "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(a.doc, a.title, a.notice, a.fmt, a.text, a.digest, counts.get(a.doc, 0)) for a in articles],
    )
    db.executemany(
        "INSERT INTO sections VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(i, s.doc, s.heading, s.start, s.end, s.text, _raw(s, texts)) for i, s in enumerate(sections)],
    )
    db.executemany(
        "INSERT INTO sentence_terms VALUES (?, ?)",
        ((i, " ".join(sorted(set(stems(ws))))) for i, ws in enumerate(units.sentence_words)),
    )
    db.commit()
    db.close()
    _write_vectors(gen_dir, units, vectors, hashes, model, tokens)
    LexicalIndex.build(section_words(sections, units)).save(gen_dir / "lexical")


def _write_vectors(gen_dir: Path, units: Units, vectors: np.ndarray, hashes: np.ndarray, model: PreparedModel,
                   tokens: TokenTable | None) -> None:
    """One model's arrays and FAISS index of the units."""
    n_windows = len(units.window_texts)
    windows = vectors[:n_windows]
    store.save_array(gen_dir, "windows", windows)
    store.save_array(gen_dir, "window_sections", units.window_sections)
    store.save_array(gen_dir, "window_hashes", hashes[:n_windows])
    store.save_array(gen_dir, "sentences", units.sentences)
    store.save_array(gen_dir, "sentence_vectors", vectors[n_windows:].astype(np.float16))
    store.save_array(gen_dir, "sentence_hashes", hashes[n_windows:])
    store.save_array(gen_dir, "section_sentences", units.section_sentences)
    if tokens is not None:
        store.save_array(gen_dir, "token_ids", tokens.ids)
        store.save_array(gen_dir, "token_vectors", tokens.vectors)
        store.save_array(gen_dir, "sentence_tokens", tokens.offsets)
        store.save_array(gen_dir, "token_idf", token_idf(tokens, units))
        model.manifest["tokens"] = {"count": len(tokens.ids), "version": PIECES_VERSION}
    structure = choose_structure(n_windows)
    save_index(build_index(windows, structure), gen_dir)
    model.manifest["faiss"] = structure.as_dict()


def token_idf(tokens: TokenTable, units: Units) -> np.ndarray:
    """float32 per vocabulary id: log((sections + 1) / (sections containing it + 0.5))."""
    sections = len(units.section_sentences)
    per_sentence = np.diff(tokens.offsets)
    section_of = np.repeat(units.sentences[:, 0], per_sentence)
    size = int(tokens.ids.max()) + 1 if len(tokens.ids) else 1
    pairs = np.unique(section_of.astype(np.int64) * size + tokens.ids)
    df = np.bincount(pairs % size, minlength=size)
    return np.log((sections + 1) / (df + 0.5)).astype(np.float32)


def section_words(sections: list[Section], units: Units) -> list[list[str]]:
    """Each section's heading and sentence words: what BM25 scores (navigation and notices excluded)."""
    out = []
    for section, (lo, hi) in zip(sections, units.section_sentences):
        out.append(words(section.heading) + [w for ws in units.sentence_words[lo:hi] for w in ws])
    return out


def _raw(section: Section, texts: dict[str, str]) -> str | None:
    """The uncut span text, stored only where it differs from the searchable text."""
    raw = texts[section.doc][section.start : section.end]
    return None if raw == section.text else raw


def _manifest(settings: Settings, articles: list[Article], report: BuildReport, model: PreparedModel,
              partner: str | None = None) -> dict:
    fingerprint = hashlib.sha256()
    for a in sorted(articles, key=lambda a: a.doc):
        fingerprint.update(f"{a.doc}\x00{a.digest}\n".encode())
    return {
        "model": {k: v for k, v in model.manifest.items() if k not in ("faiss", "tokens")},
        "faiss": model.manifest["faiss"],
        "tokens": model.manifest.get("tokens"),
        **({"partner": {"model": partner, "path": store.PARTNER}} if partner else {}),
        "corpus": {
            "path": str(Path(settings.corpus).resolve()),
            "fingerprint": fingerprint.hexdigest(),
            "skipped": [{"doc": s.doc, "reason": s.reason} for s in report.skipped],
        },
        "counts": {"articles": len(articles), "sections": report.sections, "windows": report.windows,
                   "sentences": report.sentences},
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": report.seconds,
    }
