"""Make the tiny ONNX test models of metrics/features and print their expected outputs.

Run from the repository root with Debian's interpreter and python3-onnx (1.12):

    apt-get install -y python3-onnx python3-numpy
    /usr/bin/python3 metrics/features/testdata/make_tiny.py

It writes, next to this script:

  tiny.onnx        x [N,3,4,4] -> Conv(2x3x3x3, pad 1, bias) -> Relu
                   -> GlobalAveragePool -> Flatten -> y [N,2]
  tiny_lpips.onnx  in0, in1 [N,3,H,W] -> mean((in0-in1)^2) over C,H,W
                   -> distance [N,1,1,1]   (the lpips package's I/O convention)
  tiny_pool3.onnx  images [N,3,299,299] -> per-channel mean, tiled to
                   pool3 [N,2048] (pool3[n,j] = mean of channel j%3)

and prints the expected outputs (numpy, float64 on float32 inputs) that
features_test.go pastes. Inputs are x[i] = float32(sin(0.37*i + 0.1)) over the
flat C-order index i of the [3,3,4,4] batch (and of the second LPIPS image
with 0.23*i - 0.4). Everything is deterministic: rerunning rewrites the same
bytes.
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17


def save(graph, name):
    model = helper.make_model(
        graph,
        producer_name="ipbench make_tiny.py",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(HERE, name)
    onnx.save(model, path)
    print(f"# wrote {path} ({os.path.getsize(path)} bytes)")


def weights():
    w = (((np.arange(2 * 3 * 3 * 3) * 7) % 11) - 5).astype(np.float32) / 10
    return w.reshape(2, 3, 3, 3), np.array([0.1, -0.2], dtype=np.float32)


def inputs(n, a=0.37, b=0.1):
    i = np.arange(n * 3 * 4 * 4, dtype=np.float64)
    return np.sin(a * i + b).astype(np.float32).reshape(n, 3, 4, 4)


def tiny():
    w, bias = weights()
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")],
    )
    save(graph, "tiny.onnx")


def tiny_expected(x):
    w, bias = weights()
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    n = x.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    c = np.zeros((n, 2, 4, 4))
    for o in range(2):
        for h in range(4):
            for v in range(4):
                c[:, o, h, v] = (xp[:, :, h:h + 3, v:v + 3] * w[o]).sum(axis=(1, 2, 3)) + bias[o]
    return np.maximum(c, 0).mean(axis=(2, 3))


def tiny_lpips():
    nodes = [
        helper.make_node("Sub", ["in0", "in1"], ["d"]),
        helper.make_node("Mul", ["d", "d"], ["s"]),
        helper.make_node("ReduceMean", ["s"], ["distance"], axes=[1, 2, 3], keepdims=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_lpips",
        [
            helper.make_tensor_value_info("in0", TensorProto.FLOAT, ["N", 3, "H", "W"]),
            helper.make_tensor_value_info("in1", TensorProto.FLOAT, ["N", 3, "H", "W"]),
        ],
        [helper.make_tensor_value_info("distance", TensorProto.FLOAT, ["N", 1, 1, 1])],
    )
    save(graph, "tiny_lpips.onnx")


def tiny_pool3():
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("Tile", ["f", "reps"], ["t"]),
        helper.make_node("Slice", ["t", "starts", "ends", "axes"], ["pool3"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_pool3",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 299, 299])],
        [helper.make_tensor_value_info("pool3", TensorProto.FLOAT, ["N", 2048])],
        initializer=[
            numpy_helper.from_array(np.array([1, 683], dtype=np.int64), "reps"),
            numpy_helper.from_array(np.array([0], dtype=np.int64), "starts"),
            numpy_helper.from_array(np.array([2048], dtype=np.int64), "ends"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
        ],
    )
    save(graph, "tiny_pool3.onnx")


def main():
    np.set_printoptions(precision=17)
    tiny()
    tiny_lpips()
    tiny_pool3()
    x = inputs(3)
    x2 = inputs(3, 0.23, -0.4)
    y = tiny_expected(x)
    print("// tiny.onnx, y for x = inputs(3):")
    print("var tinyWant = [][]float64{")
    for row in y:
        print("\t{" + ", ".join(repr(float(v)) for v in row) + "},")
    print("}")
    d = ((x.astype(np.float64) - x2.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    print("// tiny_lpips.onnx, distance for in0 = inputs(3), in1 = inputs(3, 0.23, -0.4):")
    print("var lpipsWant = []float64{" + ", ".join(repr(float(v)) for v in d) + "}")


if __name__ == "__main__":
    main()
