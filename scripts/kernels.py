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
    """Y[m, n] = float(X[m, d] (uint8) @ W[d, k] (int8)) @ M[k, n] + B[n].

    The integer product is exact (onnxruntime's uint8 x int8 kernel); M and B then scale it and
    fold its columns together in the same call, one pass over the rows instead of numpy's several.
    """
    x = helper.make_tensor_value_info("X", TensorProto.UINT8, ["m", "d"])
    w = helper.make_tensor_value_info("W", TensorProto.INT8, ["d", "k"])
    m = helper.make_tensor_value_info("M", TensorProto.FLOAT, ["k", "n"])
    b = helper.make_tensor_value_info("B", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["m", "n"])
    nodes = [
        helper.make_node("MatMulInteger", ["X", "W"], ["products"]),
        helper.make_node("Cast", ["products"], ["exact"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["exact", "M"], ["folded"]),
        helper.make_node("Add", ["folded", "B"], ["Y"]),
    ]
    graph = helper.make_graph(nodes, "u8s8_matmul", [x, w, m, b], [y])
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
