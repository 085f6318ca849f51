"""Writes the small ONNX graphs shipped in qa/kernels/ (run after changing one; needs `onnx`).

    .venv/bin/python scripts/kernels.py

The package loads them with onnxruntime alone: importing `onnx` costs half a second of start-up.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

KERNELS = Path(__file__).resolve().parent.parent / "qa" / "kernels"


def u8s8_matmul() -> onnx.ModelProto:
    """Y[m, n] = X[m, d] (uint8) @ W[d, n] (int8), exact int32: onnxruntime's fastest integer product."""
    x = helper.make_tensor_value_info("X", TensorProto.UINT8, ["m", "d"])
    w = helper.make_tensor_value_info("W", TensorProto.INT8, ["d", "n"])
    y = helper.make_tensor_value_info("Y", TensorProto.INT32, ["m", "n"])
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["X", "W"], ["Y"])], "u8s8_matmul", [x, w], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="qa")
    model.ir_version = 8  # readable by every onnxruntime the package accepts
    onnx.checker.check_model(model)
    return model


def main() -> None:
    KERNELS.mkdir(exist_ok=True)
    onnx.save(u8s8_matmul(), KERNELS / "u8s8_matmul.onnx")
    print(f"wrote {KERNELS / 'u8s8_matmul.onnx'}")


if __name__ == "__main__":
    main()
