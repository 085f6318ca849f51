"""Cosines of many int8 vectors to a few float queries, in integer arithmetic.

Word-piece re-ranking multiplies a few thousand stored int8 piece vectors by a question's
dozen pieces. As float32 through numpy that is 0.45 ms a question; onnxruntime's uint8 x int8
kernel (VNNI where the CPU has it) does it exactly, scaled, in about 0.12 ms. The graph is shipped as a file
(scripts/kernels.py writes it) because importing `onnx` to make it costs half a second of start-up.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("qa.kernels")

U8S8_MATMUL = Path(__file__).parent / "u8s8_matmul.onnx"
QUERY_LEVELS = 63
"""Query pieces are quantised to +-63, not +-127: on CPUs without VNNI, onnxruntime sums pairs of
uint8 x int8 products in int16, which 255 * 127 * 2 would overflow and 255 * 63 * 2 does not."""


class Int8Cosines:
    """cosines(stored, queries): stored int8 rows (unit vectors times `scale`) against float32
    unit queries, as float32 [rows, queries]."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._session = _u8s8_session()

    def cosines(self, stored: np.ndarray, queries: np.ndarray) -> np.ndarray:
        if self._session is None or not len(stored) or not len(queries):
            return _float_cosines(stored, queries, self.scale)
        levels = (QUERY_LEVELS / np.maximum(np.abs(queries).max(axis=1), 1e-12)).astype(np.float32)
        scaled = queries.T * levels
        high = np.rint(scaled)
        # MiniLM's pieces have a few outlier dimensions, so +-63 levels leave the rest coarse
        # (cosine error up to 0.005); the rounding residue, as a second set of columns in the same
        # call (nearly free), brings it under 0.0001.
        low = np.rint((scaled - high) * (2 * QUERY_LEVELS))
        weights = np.ascontiguousarray(np.concatenate([high, low], axis=1), dtype=np.int8)
        # Flipping the sign bit turns two's-complement int8 into uint8 offset by 128; the offset's
        # share, 128 times each column's sum, comes off in the bias.
        unsigned = np.asarray(stored).view(np.uint8) ^ np.uint8(0x80)
        unit = 1 / (self.scale * levels)
        fold = np.concatenate([np.diag(unit), np.diag(unit / (2 * QUERY_LEVELS))]).astype(np.float32)
        bias = (-128 * weights.sum(axis=0, dtype=np.int32).astype(np.float32)) @ fold
        return self._session.run(None, {"X": unsigned, "W": weights, "M": fold, "B": bias})[0]


def _float_cosines(stored: np.ndarray, queries: np.ndarray, scale: float) -> np.ndarray:
    sims = np.asarray(stored, dtype=np.float32) @ np.asarray(queries, dtype=np.float32).T
    sims *= 1 / scale
    return sims


def _u8s8_session():  # noqa: ANN202 - onnxruntime is imported lazily
    try:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a question's product is small; the other core serves another
        options.inter_op_num_threads = 1
        return ort.InferenceSession(str(U8S8_MATMUL), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - only speed is lost: numpy computes the same cosines
        log.warning("integer products unavailable (%s); word pieces are compared in float32", exc)
        return None
