"""The index directory: generations, manifest, vectors, section table; the one place that reads it.

    index/
      CURRENT                 name of the live generation (replaced atomically)
      gens/<generation>/
        manifest.json         format version, model, corpus fingerprint, counts, files and sizes
        sections.db           SQLite: articles (plain text, title, notice) and sections
        windows.npy           float32 [windows, dim]: section windows, what FAISS searches
        window_sections.npy   int32 [windows]: the section of each window
        *_hashes.npy          hash of model and text of each window and sentence, for reuse
        sentences.npy         int64 [sentences, 3]: section, start, end in the article's plain text
        sentence_vectors.npy  float16 [sentences, dim]: for re-ranking and answer choice
        section_sentences.npy int64 [sections, 2]: each section's range of sentence rows
        token_*.npy,          optional: each sentence's meaningful word pieces in context (ids,
        sentence_tokens.npy   int8 vectors), its rows of them, and their IDF over sections
        faiss.index           the nearest-neighbour structure over windows
        lexical/              BM25 model over sections
        encoder/              the model exported to ONNX (when exportable)
        partner/              optional: a second model's encoder/, vectors, token arrays and
                              faiss.index over the same sentences, with its own manifest and a
                              hard link to sections.db; the searcher fuses both models' scores

A generation is written under a temporary name, renamed into place, then CURRENT is
switched, so a failed or killed build never touches the generation being served.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager
from typing import IO, Any, Callable, Generic, Iterator, TypeVar

import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: generations are then pruned by age only
    fcntl = None  # type: ignore[assignment]

from .models import Span

log = logging.getLogger("qa.store")

FORMAT = "qa-index"
FORMAT_VERSION = 1
POINTER = "CURRENT"
GENERATIONS = "gens"
MANIFEST = "manifest.json"
DIGESTED = "encoder/"
"""The files under this folder have a digest in the manifest ("digests"), checked when the model
is loaded: a model altered in place still loads, and gives every question wrong vectors."""
BUILD_LOCK = ".build.lock"
PARTNER = "partner"
"""The folder, inside a generation, of the partner model's index (`qa index --partner-model`)."""
KEEP_GENERATIONS = 2
ARRAYS = ("windows", "window_sections", "window_hashes", "sentences", "sentence_vectors", "sentence_hashes",
          "section_sentences")
TOKEN_ARRAYS = ("token_ids", "token_vectors", "sentence_tokens", "token_idf")
"""Present when the manifest has "tokens": the word pieces that re-rank the best sections."""
PIECE_SCALE = 127.0
"""Word-piece vectors are stored as int8: unit vectors times this, rounded."""


class IndexLoadError(Exception):
    """The index can't be used; the message names the directory and the reason."""


@dataclass(frozen=True)
class SectionRecord:
    """A row of the section table, with what the API needs to cite it."""

    id: int
    doc: str
    title: str
    heading: str
    start: int
    end: int
    text: str
    raw: str
    """plain_text[start:end]; differs from text only where navigation lines were cut."""

    def slice(self, start: int, end: int) -> str:
        """The article's plain text between two offsets inside this section."""
        return self.raw[start - self.start : end - self.start]


@dataclass(frozen=True)
class ArticleRecord:
    doc: str
    title: str
    notice: str | None
    fmt: str
    sections: int


# ---------------------------------------------------------------- locating generations


def resolve_generation(index_dir: Path) -> Path:
    """The directory of the live generation in index_dir (or index_dir itself if it is one)."""
    try:
        return _live_generation(Path(index_dir))
    except OSError as exc:  # a name too long for the file system, a folder it may not enter
        raise IndexLoadError(f"{_shortened(str(index_dir))}: cannot be read ({exc.strerror or exc})") from None


def _shortened(text: str, most: int = 200) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _live_generation(index_dir: Path) -> Path:
    if (index_dir / MANIFEST).is_file():
        return index_dir
    pointer = index_dir / POINTER
    if not index_dir.is_dir():
        raise IndexLoadError(f"{index_dir}: no index here (run `qa index` first)")
    if not pointer.is_file():
        raise IndexLoadError(f"{index_dir}: not an index directory (no {POINTER} file; run `qa index`)")
    name = current_generation_name(index_dir) or ""
    generation = index_dir / GENERATIONS / name
    if not name or "/" in name or name.startswith(".") or len(name) > 255 or not generation.is_dir():
        raise IndexLoadError(f"{pointer}: points to a missing generation {_shortened(name, 80)!r}")
    return generation


def current_generation_name(index_dir: Path) -> str | None:
    """The name CURRENT holds, or None when it is missing or empty (undecodable bytes are replaced)."""
    try:
        return (Path(index_dir) / POINTER).read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None


def new_generation_dir(index_dir: Path) -> tuple[str, Path]:
    """A fresh temporary directory for a build, and the name it will be published under."""
    gens = Path(index_dir) / GENERATIONS
    gens.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(gens)  # a killed build's: on a tight disk, every retry failed for them
    now = time.time_ns()  # names sort in build order, even for builds within one second
    name = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9)) + f".{now % 10**9:09d}-{os.getpid()}"
    tmp = gens / f".tmp-{name}"
    tmp.mkdir()
    return name, tmp


class IndexBusyError(Exception):
    """Another build is writing to the index directory."""


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index directory for one build: a second concurrent build into it raises
    IndexBusyError instead of racing the first to CURRENT with an older view of the corpus."""
    path = Path(index_dir) / BUILD_LOCK
    try:
        fd, mode = os.open(path, os.O_RDWR | os.O_CREAT, 0o666), "r+b"
    except PermissionError:  # left by another user: a read-only handle locks as well
        fd, mode = os.open(path, os.O_RDONLY), "rb"
    with os.fdopen(fd, mode) as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = handle.read(20).decode("ascii", "replace").strip()
                raise IndexBusyError(f"{index_dir}: another `qa index` is writing to it"
                                     f"{f' (process {holder})' if holder.isdigit() else ''}; "
                                     "run this one when it has finished") from None
            except OSError as exc:  # a file system without locks (some network mounts)
                log.warning("%s: builds are not serialised here (%s)", index_dir, exc.strerror or exc)
        if handle.writable():
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()).encode())
            handle.flush()
        yield  # the lock goes with the file's closing, also when the process dies


def publish_generation(index_dir: Path, name: str, tmp: Path) -> Path:
    """Rename a finished build into place and switch CURRENT to it, atomically."""
    final = Path(index_dir) / GENERATIONS / name
    _fsync_tree(tmp)
    os.rename(tmp, final)
    pointer_tmp = Path(index_dir) / f".{POINTER}.{name}"
    pointer_tmp.write_text(name + "\n", encoding="utf-8")
    with open(pointer_tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(pointer_tmp, Path(index_dir) / POINTER)
    _fsync_dir(Path(index_dir))
    prune_generations(index_dir)
    return final


def prune_generations(index_dir: Path, keep: int = KEEP_GENERATIONS) -> None:
    """Remove all but the newest `keep` generations (never the current one) and stale temporaries."""
    gens = Path(index_dir) / GENERATIONS
    current = current_generation_name(index_dir)
    names = sorted(p.name for p in gens.iterdir() if p.is_dir() and not p.name.startswith("."))
    stale = [n for n in names[:-keep] if n != current]
    for name in stale:
        if not _in_use(gens / name):
            shutil.rmtree(gens / name, ignore_errors=True)
    remove_stale_temporaries(gens)


def remove_stale_temporaries(gens: Path) -> None:
    """Remove the temporary generations of builds whose process is gone (killed, or crashed). Run
    under the build lock, before this build's own exists: one of this process's is stale too (a
    container's build may have the same process id as the killed one had)."""
    for tmp in gens.glob(".tmp-*"):
        if _owner_gone(tmp.name) or _owner(tmp.name) == os.getpid():
            shutil.rmtree(tmp, ignore_errors=True)


def _hold(gen_dir: Path) -> IO[bytes] | None:
    """A shared lock on a generation while a reader has it open, so no build prunes it from under a server."""
    try:
        handle = open(gen_dir / MANIFEST, "rb")
    except OSError:
        return None
    if fcntl is not None:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        except OSError:  # a file system without locks: a build may then prune what this reads
            log.debug("%s: no shared lock on this file system", gen_dir)
    return handle


SCHEMA_PROBES = (
    'SELECT id, doc, heading, start, "end", text, raw FROM sections LIMIT 1',
    "SELECT doc, title, notice, fmt, text, hash, sections FROM articles LIMIT 1",
    "SELECT id, terms FROM sentence_terms LIMIT 1",
)


def _close_handle(handle: IO[bytes] | None) -> None:
    if handle is not None:
        handle.close()


def _in_use(gen_dir: Path) -> bool:
    """True when some process (this one included) holds a reader on the generation."""
    if fcntl is None:
        return False
    try:
        with open(gen_dir / MANIFEST, "rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def _owner(tmp_name: str) -> int | None:
    """The process id in a temporary generation's name (.tmp-NAME-PID)."""
    try:
        return int(tmp_name.split("-")[2])
    except (IndexError, ValueError):
        return None


def _owner_gone(tmp_name: str) -> bool:
    """True when the build that made this temporary directory is no longer running."""
    pid = _owner(tmp_name)
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- writing


def write_manifest(gen_dir: Path, manifest: dict[str, Any]) -> None:
    files = {
        p.relative_to(gen_dir).as_posix(): p.stat().st_size
        for p in sorted(gen_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    digests = {name: file_digest(gen_dir / name) for name in files if name.startswith(DIGESTED)}
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest, "files": files, "digests": digests}
    (gen_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")


def file_digest(path: Path) -> str:
    """A short hash of the file's bytes (BLAKE2b: 23 MB, MiniLM's int8 model, in 40 ms here)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def link_table(gen_dir: Path, partner_dir: Path) -> None:
    """Give a partner index the generation's section table: a hard link, a copy where links fail."""
    try:
        os.link(gen_dir / "sections.db", partner_dir / "sections.db")
    except OSError:
        shutil.copy2(gen_dir / "sections.db", partner_dir / "sections.db")


def create_table(gen_dir: Path) -> sqlite3.Connection:
    db = sqlite3.connect(gen_dir / "sections.db")
    db.executescript(
        """
        PRAGMA journal_mode = OFF;
        PRAGMA synchronous = OFF;
        CREATE TABLE articles (doc TEXT PRIMARY KEY, title TEXT NOT NULL, notice TEXT, fmt TEXT NOT NULL,
                               text TEXT NOT NULL, hash TEXT NOT NULL, sections INTEGER NOT NULL);
        CREATE TABLE sections (id INTEGER PRIMARY KEY, doc TEXT NOT NULL, heading TEXT NOT NULL,
                               start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
                               raw TEXT);
        CREATE TABLE sentence_terms (id INTEGER PRIMARY KEY, terms TEXT NOT NULL);
        """
    )
    return db


def save_array(gen_dir: Path, name: str, array: np.ndarray) -> None:
    np.save(gen_dir / f"{name}.npy", array, allow_pickle=False)


# ---------------------------------------------------------------- reading

SQL_BATCH = 500
"""Keys per `IN (...)` query: under SQLite's smallest parameter limit (999 in older builds)."""
CHECKED_DB_BYTES = 16 * 1024 * 1024
"""A section table up to this size is checked whole at load (PRAGMA quick_check: 0.02 s for 16 MB
in the page cache here); a larger one is found damaged by the first question that reads a damaged page."""
RECENT_SECTIONS = 4096
"""Section rows (and 8x as many sentence rows) kept in memory once read: what repeat questions touch."""

K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """Rows read recently, by key. A generation never changes, so nothing is ever stale; when
    full, the map starts afresh (cheaper than LRU bookkeeping on every hit, and thread-safe)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rows: dict[K, V] = {}

    def get_many(self, keys: list[K], fetch: Callable[[list[K]], dict[K, V]]) -> dict[K, V]:
        """The row of each key found, from memory or, for the rest, from one call of fetch."""
        rows = self._rows  # one map for the whole call, even if another thread starts afresh
        found = {key: rows[key] for key in keys if key in rows}
        missing = list(dict.fromkeys(key for key in keys if key not in found))
        if missing:
            fetched = fetch(missing)
            found.update(fetched)
            if len(rows) + len(fetched) > self.capacity:
                rows = self._rows = {}
            rows.update(fetched)
        return found


class IndexReader:
    """A loaded generation: manifest, memory-mapped arrays and the section table."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.path = resolve_generation(self.index_dir)
        self.manifest = _read_manifest(self.path)
        self.generation = self.path.name
        _check_files(self.path, self.manifest)
        arrays = {name: _load_array(self.path, name) for name in ARRAYS}
        self.windows: np.ndarray = arrays["windows"]
        self.window_sections: np.ndarray = arrays["window_sections"]
        self.window_hashes: np.ndarray = arrays["window_hashes"]
        self.sentence_hashes: np.ndarray = arrays["sentence_hashes"]
        self.sentences: np.ndarray = arrays["sentences"]
        self.sentence_vectors: np.ndarray = arrays["sentence_vectors"]
        self.section_sentences: np.ndarray = arrays["section_sentences"]
        _check_shapes(self.path, self.manifest, arrays)
        self.token_ids: np.ndarray | None = None
        self.token_vectors: np.ndarray | None = None
        self.sentence_tokens: np.ndarray | None = None
        self.token_idf: np.ndarray | None = None
        if self.manifest.get("tokens"):
            tokens = {name: _load_array(self.path, name) for name in TOKEN_ARRAYS}
            _check_token_shapes(self.path, self.manifest, tokens)
            self.token_ids, self.token_vectors = tokens["token_ids"], tokens["token_vectors"]
            self.sentence_tokens, self.token_idf = tokens["sentence_tokens"], tokens["token_idf"]
        # What queries read row by row. Large files are read with pread, so the rows a query
        # touches stay in the OS page cache instead of adding to the server's resident memory.
        self.window_rows = _rows(self.path, "windows", self.windows)
        self.sentence_rows = _rows(self.path, "sentence_vectors", self.sentence_vectors)
        self._local = threading.local()
        self._recent_sections: Recent[int, SectionRecord] = Recent(RECENT_SECTIONS)
        self._recent_terms: Recent[int, frozenset[str]] = Recent(8 * RECENT_SECTIONS)
        self._recent_notices: Recent[str, str | None] = Recent(RECENT_SECTIONS)
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        try:
            # One row of each table, with every column read later: a damaged table fails now, as a
            # load error, not as a traceback at the first question. One row, not count(*):
            # counting read the whole table, 0.5 s of a cold million-section load.
            for query in SCHEMA_PROBES:
                self._db().execute(query).fetchone()
            # Bytes overwritten inside a page pass the probes; a small database is read whole now.
            if (self.path / "sections.db").stat().st_size <= CHECKED_DB_BYTES:
                verdict = str(self._db().execute("PRAGMA quick_check").fetchone()[0])
                if verdict != "ok":
                    problems = [line for line in verdict.splitlines() if line.strip() and not line.startswith("***")]
                    raise sqlite3.DatabaseError(f"fails its integrity check: {(problems or [verdict])[0]}")
        except sqlite3.Error as exc:
            raise IndexLoadError(f"{self.path}/sections.db: unreadable ({exc})") from None
        # The generation's shared lock. A reader its caller never closes lets go of it when
        # collected or at exit, instead of warning then of an unclosed file (ResourceWarning).
        self._let_go = weakref.finalize(self, _close_handle, _hold(self.path))

    @property
    def section_count(self) -> int:
        return int(self.manifest["counts"]["sections"])

    def _db(self) -> sqlite3.Connection:
        # One connection per thread: sqlite3 connections are not shared across threads.
        db = getattr(self._local, "db", None)
        if db is None:
            uri = f"file:{self.path / 'sections.db'}?mode=ro&immutable=1"
            db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    def _query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        """The rows of one query; a damaged section table raises IndexLoadError, naming the file."""
        try:
            return self._db().execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise IndexLoadError(f"{self.path}/sections.db: damaged ({exc}); rebuild the index") from None

    def check_digest(self, name: str) -> None:
        """Raise IndexLoadError when the file differs from what the build wrote (as the manifest's
        digest of it says; an index built before digests were kept is taken as it is)."""
        expected = self.manifest.get("digests", {}).get(name)
        if expected is None:
            return
        try:
            actual = file_digest(self.path / name)
        except OSError as exc:
            raise IndexLoadError(f"{self.path / name}: unreadable ({exc.strerror or exc})") from None
        if actual != expected:
            raise IndexLoadError(f"{self.path / name}: its bytes differ from what the build wrote (altered index); "
                                 "rebuild the index")

    def sections(self, ids: list[int]) -> list[SectionRecord]:
        """Section records in the order of ids."""
        found = self._recent_sections.get_many([int(i) for i in ids], self._fetch_sections)
        return [found[int(i)] for i in ids if int(i) in found]

    def _fetch_sections(self, ids: list[int]) -> dict[int, SectionRecord]:
        rows = self._select_in(
            'SELECT s.id, s.doc, a.title, s.heading, s.start, s."end", s.text, coalesce(s.raw, s.text) '
            "FROM sections s JOIN articles a ON a.doc = s.doc WHERE s.id IN ({})",
            ids,
        )
        return {row[0]: SectionRecord(*row) for row in rows}

    def _select_in(self, sql: str, keys: list) -> list[tuple]:
        """Rows of `sql` whose `IN ({})` takes the keys, in batches SQLite's parameter limit allows."""
        rows: list[tuple] = []
        for lo in range(0, len(keys), SQL_BATCH):
            batch = keys[lo : lo + SQL_BATCH]
            rows += self._query(sql.format(",".join("?" * len(batch))), batch)
        return rows

    def section_texts(self) -> list[str]:
        rows = self._query("SELECT heading, text FROM sections ORDER BY id")
        return [f"{heading}\n{text}" for heading, text in rows]

    def notices(self, docs: list[str]) -> dict[str, str]:
        """The notice of each article that has one."""
        found = self._recent_notices.get_many(docs, self._fetch_notices)
        return {doc: found[doc] for doc in docs if found.get(doc) is not None}

    def _fetch_notices(self, docs: list[str]) -> dict[str, str | None]:
        rows = dict(self._select_in("SELECT doc, notice FROM articles WHERE doc IN ({})", docs))
        return {doc: rows.get(doc) for doc in docs}  # None remembered too: no notice is an answer

    def articles(self) -> list[ArticleRecord]:
        rows = self._query("SELECT doc, title, notice, fmt, sections FROM articles ORDER BY doc")
        return [ArticleRecord(*row) for row in rows]

    def article(self, doc: str) -> tuple[ArticleRecord, str, list[SectionRecord]] | None:
        """An article's record, plain text and sections, or None when it isn't indexed."""
        found = self._query("SELECT doc, title, notice, fmt, sections, text FROM articles WHERE doc = ?", (doc,))
        if not found:
            return None
        row = found[0]
        ids = [r[0] for r in self._query("SELECT id FROM sections WHERE doc = ? ORDER BY id", (doc,))]
        return ArticleRecord(*row[:5]), row[5], self.sections(ids)

    def sentence_terms(self, ranges: list[tuple[int, int]]) -> dict[int, frozenset[str]]:
        """The stemmed words of the sentence rows in each [lo, hi) range, by row."""
        rows = [row for lo, hi in ranges for row in range(lo, hi)]
        return self._recent_terms.get_many(rows, self._fetch_sentence_terms)

    def _fetch_sentence_terms(self, rows: list[int]) -> dict[int, frozenset[str]]:
        found = self._select_in("SELECT id, terms FROM sentence_terms WHERE id IN ({})", rows)
        return {row: frozenset(terms.split()) for row, terms in found}

    def sentence_spans(self, lo: int, hi: int) -> list[Span]:
        """Spans, in the article's plain text, of sentence rows lo..hi-1."""
        return [Span(s, e) for _, s, e in self.sentences[lo:hi].tolist()]

    def article_hashes(self) -> dict[str, str]:
        return dict(self._query("SELECT doc, hash FROM articles"))

    def close(self) -> None:
        """Close every thread's connection and release the generation; the reader is unusable after."""
        with self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()
        for rows in (self.window_rows, self.sentence_rows):
            if isinstance(rows, RowFile):
                rows.close()
        self._let_go()  # releases the lock: the generation may be pruned once superseded


def _read_manifest(path: Path) -> dict[str, Any]:
    file = path / MANIFEST
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexLoadError(f"{path}: no {MANIFEST} (incomplete index; run `qa index`)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexLoadError(f"{file}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexLoadError(f"{file}: not a qa index manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(
            f"{file}: index format version {manifest.get('format_version')!r}, this qa reads version "
            f"{FORMAT_VERSION}; rebuild with `qa index`"
        )
    for key in ("model", "counts", "files"):
        if not isinstance(manifest.get(key), dict):
            raise IndexLoadError(f"{file}: manifest lacks {key!r}")
    return manifest


def _check_files(path: Path, manifest: dict[str, Any]) -> None:
    for name, size in manifest["files"].items():
        file = path / name
        try:
            actual = file.stat().st_size
        except OSError:
            raise IndexLoadError(f"{file}: missing (incomplete index; rebuild with `qa index`)") from None
        if actual != size:
            raise IndexLoadError(f"{file}: {actual} bytes, manifest says {size} (truncated or altered index)")


def _load_array(path: Path, name: str) -> np.ndarray:
    file = path / f"{name}.npy"
    try:
        # A plain ndarray view of the mapping: still paged from disk, without np.memmap's per-slice cost.
        return np.asarray(np.load(file, mmap_mode="r", allow_pickle=False))
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"{file}: unreadable ({exc})") from None


def read_ahead(file: Path, chunk_bytes: int = 8 * 1024 * 1024) -> None:
    """Read a file once, start to end, so that memory-mapped access to it finds the page cache warm.

    Page faults through a map read a cold disk in small pieces: FAISS mapping a 656 MB HNSW file
    took 4.0 s from a cold cache here, against 0.4-0.7 s after this one sequential pass.
    """
    buffer = memoryview(bytearray(chunk_bytes))
    fd = os.open(file, os.O_RDONLY)
    try:
        while os.readv(fd, [buffer]) > 0:
            pass
    finally:
        os.close(fd)


PREAD_ABOVE_BYTES = 256 * 1024 * 1024
"""Arrays larger than this are read by row with pread rather than through their memory map."""


def _rows(path: Path, name: str, mapped: np.ndarray) -> np.ndarray | RowFile:
    return RowFile(path / f"{name}.npy") if mapped.nbytes > PREAD_ABOVE_BYTES else mapped


class RowFile:
    """Rows of a .npy file read with os.pread: `rows[ids]` like an array, safe across threads.

    A memory map keeps every page it ever touched (plus read-ahead) in the process's resident
    set; at a million sections that was 2 GB after a few hundred queries. Pages read with
    pread live in the shared page cache, which the kernel reclaims under pressure.
    """

    def __init__(self, file: Path) -> None:
        with open(file, "rb") as f:
            version = np.lib.format.read_magic(f)
            readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in readers:
                raise IndexLoadError(f"{file}: .npy format version {version} is not readable by row")
            shape, fortran, dtype = readers[version](f)
            self._offset = f.tell()
        if fortran or len(shape) not in (1, 2):
            raise IndexLoadError(f"{file}: expected a C-ordered 1-D or 2-D array")
        self.shape: tuple[int, ...] = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self.file = file
        self._fd: int | None = os.open(file, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        """The given rows (a 1-D integer array), in its order; one read per run of consecutive rows."""
        if self._fd is None:
            raise ValueError(f"{self.file}: read after the index was closed")
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise IndexError(f"row out of range 0..{self.shape[0] - 1}")
        unique, inverse = np.unique(rows, return_inverse=True)
        out = np.empty((len(unique), *self.shape[1:]), dtype=self.dtype)
        if not len(unique):
            return out
        breaks = (np.flatnonzero(np.diff(unique) != 1) + 1).tolist()
        firsts = unique.tolist()
        for lo, hi in zip([0, *breaks], [*breaks, len(unique)]):
            self._read_into(out[lo:hi], firsts[lo])
        return out if np.array_equal(unique, rows) else out[inverse]

    def span(self, lo: int, hi: int) -> np.ndarray:
        """Rows lo..hi-1 in one read."""
        if self._fd is None:
            raise ValueError(f"{self.file}: read after the index was closed")
        if not 0 <= lo <= hi <= self.shape[0]:
            raise IndexError(f"rows {lo}..{hi} out of range 0..{self.shape[0]}")
        out = np.empty((hi - lo, *self.shape[1:]), dtype=self.dtype)
        if hi > lo:
            self._read_into(out, lo)
        return out

    def _read_into(self, out: np.ndarray, first: int) -> None:
        # Straight into the result's memory: no intermediate bytes object per run.
        read = os.preadv(self._fd, [memoryview(out).cast("B")], self._offset + first * self._row_bytes)
        if read != out.nbytes:
            raise OSError(f"{self.file}: short read ({read} of {out.nbytes} bytes)")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _check_shapes(path: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    counts, dim = manifest["counts"], manifest["model"].get("dim")
    expected = {
        "windows": (counts.get("windows"), dim),
        "window_sections": (counts.get("windows"),),
        "window_hashes": (counts.get("windows"),),
        "sentence_hashes": (counts.get("sentences"),),
        "sentences": (counts.get("sentences"), 3),
        "sentence_vectors": (counts.get("sentences"), dim),
        "section_sentences": (counts.get("sections"), 2),
    }
    for name, shape in expected.items():
        if tuple(arrays[name].shape) != shape:
            raise IndexLoadError(
                f"{path}/{name}.npy: shape {tuple(arrays[name].shape)} does not match the manifest {shape}"
            )
    _check_references(path, counts, arrays)
    for name in ("windows", "sentence_vectors"):
        if arrays[name].nbytes <= CHECKED_VECTOR_BYTES and not unit_rows(arrays[name]).all():
            raise IndexLoadError(f"{path}/{name}.npy: holds vectors that are not unit length (altered index)")


CHECKED_VECTOR_BYTES = 16 * 1024 * 1024
"""Vector files up to this size are checked row by row at load (0.19 s for 64 MB here, so about
0.05 s at this size); in a larger one, a row that is not a number fails the question that reads it."""


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Per row: whether it is a vector as the build stores them, of unit length (or zero, for no
    text), with no NaN or infinity: bytes overwritten in place make rows that are not."""
    chunk = 65536  # rows converted to float32 at a time: a million rows at once took 1.5 GB
    norms = np.concatenate([np.linalg.norm(np.asarray(vectors[lo : lo + chunk], dtype=np.float32), axis=1)
                            for lo in range(0, len(vectors), chunk)] or [np.zeros(0, dtype=np.float32)])
    return (np.abs(norms - 1) <= 0.01) | (norms == 0)


def _check_references(path: Path, counts: dict[str, int], arrays: dict[str, np.ndarray]) -> None:
    """Every window names a section and every section a run of sentences that exist: a file altered
    in place (same size) would otherwise fail on some question instead of at load (a 1M-section
    index: 20 MB read, 4 ms warm, 0.03-0.12 s from a cold page cache)."""
    sections, owners, runs = counts["sections"], arrays["window_sections"], arrays["section_sentences"]
    if len(owners) and (owners.min() < 0 or owners.max() >= sections):
        raise IndexLoadError(f"{path}/window_sections.npy: names sections outside 0..{sections - 1} (altered index)")
    if len(runs) and (runs.min() < 0 or runs.max() > counts["sentences"] or (runs[:, 1] < runs[:, 0]).any()):
        raise IndexLoadError(f"{path}/section_sentences.npy: sentence runs outside the {counts['sentences']} "
                             "sentences (altered index)")


def _check_token_shapes(path: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    count, dim = manifest["tokens"].get("count"), manifest["model"].get("dim")
    sentences = manifest["counts"].get("sentences")
    expected = {"token_ids": (count,), "token_vectors": (count, dim),
                "sentence_tokens": (None if sentences is None else sentences + 1,)}
    for name, shape in expected.items():
        if tuple(arrays[name].shape) != shape:
            raise IndexLoadError(
                f"{path}/{name}.npy: shape {tuple(arrays[name].shape)} does not match the manifest {shape}"
            )
    offsets = arrays["sentence_tokens"]
    if len(offsets) and (offsets[0] != 0 or offsets[-1] != count or (np.diff(offsets) < 0).any()):
        raise IndexLoadError(f"{path}/sentence_tokens.npy: offsets do not cover the {count} word pieces in order")
    if arrays["token_idf"].ndim != 1:
        raise IndexLoadError(f"{path}/token_idf.npy: not one value per vocabulary id")
