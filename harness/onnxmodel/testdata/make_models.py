"""Make the tiny ONNX test models of harness/onnxmodel.

Run from the repository root with Debian's interpreter and python3-onnx (1.12):

    /usr/bin/python3 harness/onnxmodel/testdata/make_models.py

Every model works on C x H x W = 2 x 3 x 4 images and has a closed form that
onnxmodel_test.go checks in float64 (s2 = 0.25 is the prior variance of a
N(0, s2 I) image prior, t2 = 0.01 the noise variance of the measurement):

  gauss.onnx         Denoiser  x, sigma -> denoised = s2/(s2+sigma^2) x
                     (the exact denoiser of the N(0, s2 I) prior)
  gauss_vjp.onnx     its VJP   x, sigma, v -> vjp = s2/(s2+sigma^2) v
  gauss_fixed.onnx   gauss.onnx with the batch fixed at 2
  gauss_free.onnx    gauss.onnx with free height and width
  classes.onnx       Denoiser  x, sigma, class_labels [N,3] ->
                     denoised = m + s2/(s2+sigma^2) (x - m), m = (-0.5, 0, 0.5)[k]
                     (the exact denoiser of N(m_k 1, s2 I) given class k)
  eps.onnx           EPS       x, sigma, cond [N,2,3,4] ->
                     denoised = (x/sigma^2 + cond/t2) / (1/s2 + 1/sigma^2 + 1/t2)
                     (E[x0 | x, cond] for x = x0 + sigma e, cond = x0 + sqrt(t2) n)
  eps_vjp.onnx       its VJP   x, sigma, cond, v -> vjp = (1/sigma^2)/(1/s2 + 1/sigma^2 + 1/t2) v
  restorer.onnx      Restorer  x, sigma, cond [N,1,3,4], task [N,2] ->
                     denoised = x/(1+sigma^2) + (1+k) cond (cond broadcast over channels)
  nan.onnx           Denoiser  denoised = x + sqrt(sigma - 1): NaN for sigma < 1

and the models Open must refuse:

  bad_xname.onnx        input "image" instead of "x"
  bad_x_float64.onnx    x is float64
  bad_x_rank3.onnx      x is [N,2,12]
  bad_no_sigma.onnx     no input "sigma"
  bad_no_denoised.onnx  output "out" instead of "denoised"
  bad_out_channels.onnx denoised has 3 channels for x's 2
  bad_task_int64.onnx   EPS model whose task is int64 [N] (ipbench wants one-hot float32)
  not_onnx.onnx         a text file
  truncated.onnx        the first 100 bytes of gauss.onnx

Unused graph inputs are tied into the output with a zero weight so that every
declared input survives. Deterministic: rerunning rewrites the same bytes.
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17
C, H, W = 2, 3, 4
S2 = 0.25  # prior variance
T2 = 0.01  # measurement noise variance

F = TensorProto.FLOAT


def const(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def tensor(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def save(name, nodes, inputs, outputs, inits, doc):
    graph = helper.make_graph(nodes, name.removesuffix(".onnx"), inputs, outputs, initializer=inits)
    graph.doc_string = doc
    model = helper.make_model(
        graph,
        producer_name="ipbench make_models.py",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(HERE, name)
    onnx.save(model, path)
    print(f"# wrote {name} ({os.path.getsize(path)} bytes)")


def sigma_nodes():
    """sig4 = reshape(sigma, [-1,1,1,1]); sig2 = sig4^2."""
    nodes = [
        helper.make_node("Reshape", ["sigma", "shape4"], ["sig4"]),
        helper.make_node("Mul", ["sig4", "sig4"], ["sig2"]),
    ]
    return nodes, [const("shape4", [-1, 1, 1, 1], np.int64)]


def gauss_gain():
    """a = s2 / (s2 + sigma^2), [N,1,1,1]."""
    nodes, inits = sigma_nodes()
    nodes += [
        helper.make_node("Add", ["sig2", "s2"], ["den"]),
        helper.make_node("Div", ["s2", "den"], ["a"]),
    ]
    return nodes, inits + [const("s2", S2)]


def zero_tie(names, out):
    """out = sum of 0*name: keeps the inputs without changing the result."""
    nodes = [helper.make_node("Mul", [n, "zero"], [f"{n}_0"]) for n in names]
    acc = f"{names[0]}_0"
    for i, n in enumerate(names[1:]):
        nxt = f"tie{i}"
        nodes.append(helper.make_node("Add", [acc, f"{n}_0"], [nxt]))
        acc = nxt
    nodes.append(helper.make_node("Identity", [acc], [out]))
    return nodes, [const("zero", 0.0)]


def gauss(name="gauss.onnx", batch="N", hw=(H, W), doc="gauss"):
    nodes, inits = gauss_gain()
    nodes.append(helper.make_node("Mul", ["a", "x"], ["denoised"]))
    x = [batch, C, *hw]
    save(name, nodes, [tensor("x", x), tensor("sigma", [batch])], [tensor("denoised", x)], inits,
         f"{doc}: denoised = {S2}/({S2}+sigma^2) x")


def gauss_vjp():
    nodes, inits = gauss_gain()
    tie, tinits = zero_tie(["x"], "xz")
    nodes += tie + [
        helper.make_node("Mul", ["a", "v"], ["av"]),
        helper.make_node("Add", ["av", "xz"], ["vjp"]),
    ]
    x = ["N", C, H, W]
    save("gauss_vjp.onnx", nodes, [tensor("x", x), tensor("sigma", ["N"]), tensor("v", x)],
         [tensor("vjp", x)], inits + tinits, f"vjp = {S2}/({S2}+sigma^2) v")


def classes():
    nodes, inits = gauss_gain()
    nodes += [
        helper.make_node("MatMul", ["class_labels", "means"], ["m1"]),
        helper.make_node("Reshape", ["m1", "shape4"], ["m"]),
        helper.make_node("Sub", ["x", "m"], ["xm"]),
        helper.make_node("Mul", ["a", "xm"], ["axm"]),
        helper.make_node("Add", ["m", "axm"], ["denoised"]),
    ]
    inits.append(const("means", [[-0.5], [0.0], [0.5]]))
    x = ["N", C, H, W]
    save("classes.onnx", nodes,
         [tensor("x", x), tensor("sigma", ["N"]), tensor("class_labels", ["N", 3])],
         [tensor("denoised", x)], inits,
         f"denoised = m + {S2}/({S2}+sigma^2) (x - m), m = (-0.5, 0, 0.5)[class]")


def eps_gain():
    """isig2 = 1/sigma^2, P = 1/s2 + 1/sigma^2 + 1/t2."""
    nodes, inits = sigma_nodes()
    nodes += [
        helper.make_node("Reciprocal", ["sig2"], ["isig2"]),
        helper.make_node("Add", ["isig2", "is2"], ["p0"]),
        helper.make_node("Add", ["p0", "it2"], ["P"]),
    ]
    return nodes, inits + [const("is2", 1 / S2), const("it2", 1 / T2)]


def eps():
    nodes, inits = eps_gain()
    nodes += [
        helper.make_node("Mul", ["x", "isig2"], ["n0"]),
        helper.make_node("Mul", ["cond", "it2"], ["n1"]),
        helper.make_node("Add", ["n0", "n1"], ["num"]),
        helper.make_node("Div", ["num", "P"], ["denoised"]),
    ]
    x = ["N", C, H, W]
    save("eps.onnx", nodes, [tensor("x", x), tensor("sigma", ["N"]), tensor("cond", x)],
         [tensor("denoised", x)], inits,
         f"denoised = (x/sigma^2 + cond/{T2}) / (1/{S2} + 1/sigma^2 + 1/{T2})")


def eps_vjp():
    nodes, inits = eps_gain()
    tie, tinits = zero_tie(["x", "cond"], "xz")
    nodes += tie + [
        helper.make_node("Div", ["isig2", "P"], ["a"]),
        helper.make_node("Mul", ["a", "v"], ["av"]),
        helper.make_node("Add", ["av", "xz"], ["vjp"]),
    ]
    x = ["N", C, H, W]
    save("eps_vjp.onnx", nodes,
         [tensor("x", x), tensor("sigma", ["N"]), tensor("cond", x), tensor("v", x)],
         [tensor("vjp", x)], inits + tinits,
         f"vjp = (1/sigma^2) / (1/{S2} + 1/sigma^2 + 1/{T2}) v")


def restorer():
    nodes, inits = sigma_nodes()
    nodes += [
        helper.make_node("Add", ["sig2", "one"], ["den"]),
        helper.make_node("Div", ["x", "den"], ["xs"]),
        helper.make_node("MatMul", ["task", "weights"], ["w1"]),
        helper.make_node("Reshape", ["w1", "shape4"], ["w"]),
        helper.make_node("Mul", ["w", "cond"], ["wc"]),
        helper.make_node("Add", ["xs", "wc"], ["denoised"]),
    ]
    inits += [const("one", 1.0), const("weights", [[1.0], [2.0]])]
    x = ["N", C, H, W]
    save("restorer.onnx", nodes,
         [tensor("x", x), tensor("sigma", ["N"]), tensor("cond", ["N", 1, H, W]), tensor("task", ["N", 2])],
         [tensor("denoised", x)], inits,
         "denoised = x/(1+sigma^2) + (1+task) cond")


def nan():
    nodes, inits = sigma_nodes()
    nodes += [
        helper.make_node("Sub", ["sig4", "one"], ["s1"]),
        helper.make_node("Sqrt", ["s1"], ["r"]),
        helper.make_node("Add", ["x", "r"], ["denoised"]),
    ]
    x = ["N", C, H, W]
    save("nan.onnx", nodes, [tensor("x", x), tensor("sigma", ["N"])], [tensor("denoised", x)],
         inits + [const("one", 1.0)], "denoised = x + sqrt(sigma - 1)")


def bad():
    x = ["N", C, H, W]
    nodes, inits = gauss_gain()
    nodes.append(helper.make_node("Mul", ["a", "image"], ["denoised"]))
    save("bad_xname.onnx", nodes, [tensor("image", x), tensor("sigma", ["N"])],
         [tensor("denoised", x)], inits, "x named image")

    nodes, inits = gauss_gain()
    nodes += [helper.make_node("Cast", ["x"], ["xf"], to=F), helper.make_node("Mul", ["a", "xf"], ["denoised"])]
    save("bad_x_float64.onnx", nodes, [tensor("x", x, TensorProto.DOUBLE), tensor("sigma", ["N"])],
         [tensor("denoised", x)], inits, "x is float64")

    nodes, inits = sigma_nodes()
    nodes += [helper.make_node("Reshape", ["sigma", "shape3"], ["s3"]), helper.make_node("Mul", ["s3", "x"], ["denoised"])]
    save("bad_x_rank3.onnx", nodes, [tensor("x", ["N", C, H * W]), tensor("sigma", ["N"])],
         [tensor("denoised", ["N", C, H * W])], inits + [const("shape3", [-1, 1, 1], np.int64)], "x is rank 3")

    save("bad_no_sigma.onnx", [helper.make_node("Identity", ["x"], ["denoised"])],
         [tensor("x", x)], [tensor("denoised", x)], [], "no sigma")

    nodes, inits = gauss_gain()
    nodes.append(helper.make_node("Mul", ["a", "x"], ["out"]))
    save("bad_no_denoised.onnx", nodes, [tensor("x", x), tensor("sigma", ["N"])],
         [tensor("out", x)], inits, "output named out")

    nodes, inits = gauss_gain()
    nodes += [
        helper.make_node("Conv", ["x", "w3"], ["x3"], kernel_shape=[1, 1]),
        helper.make_node("Mul", ["a", "x3"], ["denoised"]),
    ]
    save("bad_out_channels.onnx", nodes, [tensor("x", x), tensor("sigma", ["N"])],
         [tensor("denoised", ["N", 3, H, W])], inits + [const("w3", np.ones((3, C, 1, 1)))],
         "denoised has 3 channels")

    nodes, inits = gauss_gain()
    nodes += [
        helper.make_node("Cast", ["task"], ["tf"], to=F),
        helper.make_node("Reshape", ["tf", "shape4"], ["t4"]),
        helper.make_node("Mul", ["a", "x"], ["ax"]),
        helper.make_node("Add", ["ax", "cond"], ["axc"]),
        helper.make_node("Add", ["axc", "t4"], ["denoised"]),
    ]
    save("bad_task_int64.onnx", nodes,
         [tensor("x", x), tensor("sigma", ["N"]), tensor("cond", x), tensor("task", ["N"], TensorProto.INT64)],
         [tensor("denoised", x)], inits, "task is int64")

    with open(os.path.join(HERE, "not_onnx.onnx"), "w") as f:
        f.write("this is not an ONNX model\n")
    with open(os.path.join(HERE, "gauss.onnx"), "rb") as f:
        head = f.read(100)
    with open(os.path.join(HERE, "truncated.onnx"), "wb") as f:
        f.write(head)
    print("# wrote not_onnx.onnx, truncated.onnx")


def main():
    gauss()
    gauss_vjp()
    gauss("gauss_fixed.onnx", batch=2, doc="gauss, batch fixed at 2")
    gauss("gauss_free.onnx", hw=("H", "W"), doc="gauss, free height and width")
    classes()
    eps()
    eps_vjp()
    restorer()
    nan()
    bad()


if __name__ == "__main__":
    main()
