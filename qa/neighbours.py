"""Nearest-neighbour search over section windows with FAISS, its structure picked by size.

Up to EXACT_LIMIT windows are searched exactly (inner product on unit vectors = cosine).
Above, HNSW over 8-bit scalar-quantised vectors finds candidates that are re-ranked exactly
against the float32 windows read from disk, so scores are always exact cosines.
The FAISS file is memory-mapped (IO_FLAG_MMAP_IFC): no copy on load, page cache shared
between processes. It is read once sequentially first, because faulting a cold file in through
the map is six times slower (1M sections: 4.0 s against 0.4-0.7 s).
`ivf_sq8` (IVF lists of 8-bit codes) is the alternative measured by scripts/scale.py: smaller
and instant to load from a cold cache, but lower recall on real questions at equal speed; an
index records its structure in its manifest.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from .store import RowFile, read_ahead

EXACT_LIMIT = 20_000
"""Up to this many windows an exact scan answers a query in under 2 ms (one core) and needs no training.

Measured single-query scans (384 dims, one thread): 20k 1.5 ms, 50k 4.4 ms, 100k 8.6 ms, 200k 16 ms;
HNSW-SQ8 with re-ranking answers 1M windows in 0.25 ms at recall@10 0.996 (scripts/scale.py)."""
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512
"""At 1M synthetic windows, real questions (near-ties among neighbours): recall@10 0.78 at 128, 0.91 at
256, 0.95 at 512 (1.5 ms); held-out points 0.996 already at 128."""
RERANK_FACTOR = 1
"""Approximate candidates fetched per wanted result (at least RERANK_AT_LEAST), then re-scored exactly.
At 1M synthetic windows and the 92 bench questions, the exact top 10 within the 64 results was
0.9554 with 1 as with 4 (recall@64 0.920 against 0.928), and a search took 2.3 ms instead of 3.1:
each candidate is one read from the float32 window file."""
RERANK_AT_LEAST = 64
"""Candidates fetched however few results are wanted: with only 10, recall@10 was 0.935, with 64 0.955."""
TRAIN_SAMPLE = 100_000
ADD_CHUNK = 65_536
INDEX_FILE = "faiss.index"
IVF_PROBES = 16
KINDS = ("flat", "hnsw_sq8", "ivf_sq8")


@dataclass(frozen=True)
class Structure:
    """Which FAISS structure an index uses, with its parameters (stored in the manifest)."""

    kind: str
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kind": self.kind, **self.params}

    @classmethod
    def from_dict(cls, data: dict) -> Structure:
        kind = str(data.get("kind", "flat"))
        if kind not in KINDS:
            raise ValueError(f"unknown FAISS structure {kind!r}")
        return cls(kind, {k: v for k, v in data.items() if k != "kind"})


def choose_structure(n_vectors: int, exact_limit: int = EXACT_LIMIT) -> Structure:
    """Exact search up to exact_limit vectors, HNSW over 8-bit codes with exact re-ranking above."""
    if n_vectors <= exact_limit:
        return Structure("flat", {})
    return Structure("hnsw_sq8", {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION,
                                  "ef_search": HNSW_EF_SEARCH, "rerank": RERANK_FACTOR})


def build_index(vectors: np.ndarray, structure: Structure) -> faiss.Index:
    """A FAISS index of the (unit, float32) vectors in the given structure."""
    vectors = np.asarray(vectors)
    dim = vectors.shape[1]
    if structure.kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif structure.kind == "hnsw_sq8":
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, int(structure.params["M"]),
                                  faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(structure.params["ef_construction"])
        index.train(_sample(vectors, TRAIN_SAMPLE))
    elif structure.kind == "ivf_sq8":
        index = faiss.index_factory(dim, f"IVF{int(structure.params['nlist'])},SQ8", faiss.METRIC_INNER_PRODUCT)
        index.train(_sample(vectors, max(TRAIN_SAMPLE, 50 * int(structure.params["nlist"]))))
    else:
        raise ValueError(f"unknown FAISS structure {structure.kind!r}")
    for lo in range(0, len(vectors), ADD_CHUNK):
        index.add(np.ascontiguousarray(vectors[lo : lo + ADD_CHUNK], dtype=np.float32))
    return index


def _sample(vectors: np.ndarray, n: int) -> np.ndarray:
    """Up to n rows spread evenly over vectors (the start alone may be one article's topic)."""
    if len(vectors) <= n:
        return np.ascontiguousarray(vectors, dtype=np.float32)
    rows = np.linspace(0, len(vectors) - 1, n).astype(np.int64)
    return np.ascontiguousarray(vectors[rows], dtype=np.float32)


def save_index(index: faiss.Index, gen_dir: Path) -> None:
    faiss.write_index(index, str(gen_dir / INDEX_FILE))


def read_index(file: Path) -> faiss.Index:
    """The index memory-mapped (codes and graph stay in the page cache), else read into RAM."""
    read_ahead(file)
    try:
        return faiss.read_index(str(file), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:  # a structure FAISS can't map
        return faiss.read_index(str(file))


class Neighbours:
    """Top windows for query vectors: approximate candidates, exact cosine scores."""

    def __init__(self, index: faiss.Index, vectors: np.ndarray | RowFile, structure: Structure) -> None:
        self.index = index
        self.vectors = vectors
        self.structure = structure
        self.rerank = int(structure.params.get("rerank", RERANK_FACTOR))
        self.ef_search = int(structure.params.get("ef_search", HNSW_EF_SEARCH))

    @classmethod
    def load(cls, gen_dir: Path, vectors: np.ndarray | RowFile, structure: dict) -> Neighbours:
        """The generation's FAISS index; `vectors` (an array or RowFile) are what re-ranking reads."""
        return cls(read_index(Path(gen_dir) / INDEX_FILE), vectors, Structure.from_dict(structure))

    def search(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, window ids) of the n best windows for each query row; ids -1 pad short rows."""
        with _one_openmp_thread():
            return self._search(queries, n)

    def _search(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        n = max(1, min(n, self.index.ntotal))
        if self.structure.kind == "flat":
            return self.index.search(queries, n)
        wanted = max(n * self.rerank, RERANK_AT_LEAST)
        # Per-call parameters: the index is shared by threads, so its own settings are never changed.
        if self.structure.kind == "ivf_sq8":
            params = faiss.SearchParametersIVF(nprobe=int(self.structure.params.get("nprobe", IVF_PROBES)))
        else:
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, wanted))
        _, candidates = self.index.search(queries, wanted, params=params)
        scores = np.full((len(queries), n), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), n), -1, dtype=np.int64)
        for row, cand in enumerate(candidates):
            cand = np.unique(cand[cand >= 0])
            exact = np.asarray(self.vectors[cand], dtype=np.float32) @ queries[row]
            order = np.argsort(-exact)[:n]
            scores[row, : len(order)] = exact[order]
            ids[row, : len(order)] = cand[order]
        return scores, ids


@contextmanager
def _one_openmp_thread() -> Iterator[None]:
    """FAISS on one OpenMP thread for the calling thread, as it was before afterwards.

    One query at a time is searched, and OpenMP threads only contend with the encoder's (a 50k
    exact scan took 7.1 ms on 2 threads against 4.4 ms on 1, on this 2-core machine). The setting
    is per thread: set once at load, it reached only the loading thread, never the server's search
    threads; restored, it leaves the caller's other OpenMP code as it was.
    """
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)
