"""Integer cosines of stored int8 word pieces: the same numbers as float32, from onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

from qa.kernels import Int8Cosines, _float_cosines


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def pieces() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    stored, queries = rng.standard_normal((3000, 384)), rng.standard_normal((11, 384))
    stored[:, 5] += 12  # an outlier dimension, as MiniLM's pieces have
    queries[:, 5] += 12
    return np.rint(unit(stored) * 127).astype(np.int8), unit(queries)


def test_integer_cosines_equal_float_ones(pieces):
    stored, queries = pieces
    kernel = Int8Cosines(127.0)
    assert kernel._session is not None, "the shipped ONNX graph should load"
    fast = kernel.cosines(stored, queries)
    exact = stored.astype(np.float64) @ queries.T.astype(np.float64) / 127
    assert fast.shape == (3000, 11) and fast.dtype == np.float32
    assert np.abs(fast - exact).max() < 2e-4


def test_extreme_values_do_not_overflow():
    """+-127 rows against a query piece that is all one sign: the largest sums the kernel sees."""
    stored = np.array([[127] * 384, [-127] * 384, [127, -127] * 192], dtype=np.int8)
    queries = unit(np.ones((2, 384)))
    queries[1] = -queries[1]
    fast = Int8Cosines(127.0).cosines(stored, queries)
    assert np.allclose(fast, _float_cosines(stored, queries, 127.0), atol=1e-3)
    assert fast[0, 0] == pytest.approx(np.sqrt(384), rel=1e-3)


def test_without_onnxruntime_the_float_path_gives_the_same(pieces):
    stored, queries = pieces
    kernel = Int8Cosines(127.0)
    fallback = Int8Cosines(127.0)
    fallback._session = None
    assert np.abs(kernel.cosines(stored, queries) - fallback.cosines(stored, queries)).max() < 2e-4


def test_no_rows_or_no_queries_give_empty_products(pieces):
    stored, queries = pieces
    kernel = Int8Cosines(127.0)
    assert kernel.cosines(stored[:0], queries).shape == (0, 11)
    assert kernel.cosines(stored, queries[:0]).shape == (3000, 0)
