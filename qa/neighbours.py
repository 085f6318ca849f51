"""Nearest-neighbour search over section windows with FAISS, its structure picked by size.

Small indexes are searched exactly (inner product on unit vectors = cosine). Large ones
use HNSW over 8-bit scalar-quantised vectors and re-rank the candidates exactly against
the float32 vectors memory-mapped from disk, so scores are always exact cosines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

EXACT_LIMIT = 200_000
"""Up to this many vectors, exact search is fast enough and needs no training."""
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
RERANK_FACTOR = 4
INDEX_FILE = "faiss.index"


@dataclass(frozen=True)
class Structure:
    kind: str
    params: dict

    def as_dict(self) -> dict:
        return {"kind": self.kind, **self.params}


def choose_structure(n_vectors: int, exact_limit: int = EXACT_LIMIT) -> Structure:
    if n_vectors <= exact_limit:
        return Structure("flat", {})
    return Structure("hnsw_sq8", {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": HNSW_EF_SEARCH})


def build_index(vectors: np.ndarray, structure: Structure) -> faiss.Index:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if structure.kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif structure.kind == "hnsw_sq8":
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, structure.params["M"],
                                  faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = structure.params["ef_construction"]
        index.train(vectors[: min(len(vectors), 100_000)])
    else:
        raise ValueError(f"unknown FAISS structure {structure.kind!r}")
    for lo in range(0, len(vectors), 65536):
        index.add(vectors[lo : lo + 65536])
    return index


def save_index(index: faiss.Index, gen_dir: Path) -> None:
    faiss.write_index(index, str(gen_dir / INDEX_FILE))


class Neighbours:
    """Top windows for query vectors: approximate candidates, exact cosine scores."""

    def __init__(self, index: faiss.Index, vectors: np.ndarray, structure: Structure) -> None:
        self.index = index
        self.vectors = vectors
        self.structure = structure
        if structure.kind == "hnsw_sq8":
            faiss.downcast_index(index).hnsw.efSearch = int(structure.params.get("ef_search", HNSW_EF_SEARCH))

    @classmethod
    def load(cls, gen_dir: Path, vectors: np.ndarray, structure: dict) -> Neighbours:
        kind = structure.get("kind", "flat")
        params = {k: v for k, v in structure.items() if k != "kind"}
        file = str(gen_dir / INDEX_FILE)
        try:
            index = faiss.read_index(file, faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError:  # structures FAISS can't memory-map are read into RAM
            index = faiss.read_index(file)
        return cls(index, vectors, Structure(kind, params))

    def search(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, window ids) of the n best windows for each query row; ids -1 pad short rows."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        n = max(1, min(n, self.index.ntotal))
        if self.structure.kind == "flat":
            return self.index.search(queries, n)
        _, candidates = self.index.search(queries, n * RERANK_FACTOR)
        scores = np.full((len(queries), n), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), n), -1, dtype=np.int64)
        for row, cand in enumerate(candidates):
            cand = np.unique(cand[cand >= 0])
            exact = np.asarray(self.vectors[cand], dtype=np.float32) @ queries[row]
            order = np.argsort(-exact)[:n]
            scores[row, : len(order)] = exact[order]
            ids[row, : len(order)] = cand[order]
        return scores, ids
