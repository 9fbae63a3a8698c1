"""Make mixed.onnx, the test model of internal/onnxrt.

Run from the repository root with Debian's interpreter and python3-onnx (1.12):

    /usr/bin/python3 internal/onnxrt/testdata/make_mixed.py

mixed.onnx has two inputs of different dtypes and shapes and two outputs:

  a float32 [N,2], k int64 [N]  ->  y float32 [N,2] = a * float(k)[:, None]
                                    z int64 [N]     = k + 1

Deterministic: rerunning rewrites the same bytes.
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    nodes = [
        helper.make_node("Cast", ["k"], ["kf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["kf", "axis1"], ["kcol"]),
        helper.make_node("Mul", ["a", "kcol"], ["y"]),
        helper.make_node("Add", ["k", "one"], ["z"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mixed",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 2]),
            helper.make_tensor_value_info("k", TensorProto.INT64, ["N"]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2]),
            helper.make_tensor_value_info("z", TensorProto.INT64, ["N"]),
        ],
        initializer=[
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
            numpy_helper.from_array(np.array(1, dtype=np.int64), "one"),
        ],
    )
    model = helper.make_model(
        graph,
        producer_name="ipbench make_mixed.py",
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(HERE, "mixed.onnx")
    onnx.save(model, path)
    print(f"# wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
