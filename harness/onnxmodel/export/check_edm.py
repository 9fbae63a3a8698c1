"""Compare an ONNX export of an NVlabs/edm network with the original.

    pip install onnxruntime      # the Python package, any recent release
    python check_edm.py --edm ~/src/edm --pkl edm-ffhq-64x64-uncond-vp.pkl \
        --onnx edm-ffhq64.onnx [--vjp edm-ffhq64-vjp.onnx] [--tol 1e-3]

It loads the pickle in this process without export_edm.py's rewrites, draws
random inputs in ipbench's convention (x0 uniform in [-1, 1], x = x0 + sigma
eps, sigma log-uniform over EDM's [0.002, 80], random one-hot labels), runs
both on the CPU in float32 for batches of 1 and 3 (the export used 2, so this
also checks the dynamic batch axis) and prints the largest absolute error.
It exits 1 when an error exceeds --tol. The VJP is compared with
torch.autograd.grad of the original network.
"""

import argparse
import pickle
import sys

import numpy as np
import torch


def inputs(net, n, seed):
    """x, sigma, one-hot labels (or None) and v for a batch of n."""
    g = torch.Generator().manual_seed(seed)
    c, r = net.img_channels, net.img_resolution
    x0 = torch.rand(n, c, r, r, generator=g) * 2 - 1
    sigma = torch.exp(torch.empty(n).uniform_(np.log(0.002), np.log(80), generator=g))
    x = x0 + sigma.reshape(-1, 1, 1, 1) * torch.randn(n, c, r, r, generator=g)
    labels = None
    if net.label_dim:
        k = torch.randint(net.label_dim, (n,), generator=g)
        labels = torch.nn.functional.one_hot(k, net.label_dim).float()
    v = torch.randn(n, c, r, r, generator=g)
    return x, sigma, labels, v


def reference(net, x, sigma, labels, v=None):
    """D(x; sigma) of the original network, or J_x D^T v when v is given."""
    if v is None:
        with torch.no_grad():
            return net(x, sigma, labels, force_fp32=True).numpy()
    x = x.clone().requires_grad_(True)
    d = net(x, sigma, labels, force_fp32=True)
    (g,) = torch.autograd.grad(d, x, grad_outputs=v)
    return g.numpy()


def feeds(x, sigma, labels, v=None):
    f = {"x": x.numpy(), "sigma": sigma.numpy()}
    if labels is not None:
        f["class_labels"] = labels.numpy()
    if v is not None:
        f["v"] = v.numpy()
    return f


def check(net, run, vjp=False, batches=(1, 3), seed=1):
    """Largest |export - original| over the batches; run(feeds) runs the export."""
    worst = 0.0
    for n in batches:
        x, sigma, labels, v = inputs(net, n, seed + n)
        want = reference(net, x, sigma, labels, v if vjp else None)
        got = run(feeds(x, sigma, labels, v if vjp else None))
        err = float(np.abs(got - want).max())
        scale = float(np.abs(want).max())
        print(f"  batch {n}: sigma {np.array2string(sigma.numpy(), precision=4)}: "
              f"max |error| {err:.3g} (max |output| {scale:.3g})")
        worst = max(worst, err)
    return worst


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--edm", required=True, help="checkout of github.com/NVlabs/edm")
    p.add_argument("--pkl", required=True, help="network pickle (path or URL)")
    p.add_argument("--onnx", required=True, help="exported denoiser")
    p.add_argument("--vjp", help="exported VJP graph (optional)")
    p.add_argument("--tol", type=float, default=1e-3, help="largest acceptable |error|")
    a = p.parse_args()

    import onnxruntime as ort

    sys.path.insert(0, a.edm)
    import dnnlib  # noqa: E402

    with dnnlib.util.open_url(a.pkl) as f:
        net = pickle.load(f)["ema"].eval().requires_grad_(False).cpu()

    ok = True
    for path, out, vjp in [(a.onnx, "denoised", False), (a.vjp, "vjp", True)]:
        if not path:
            continue
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        print(f"{path}:")
        worst = check(net, lambda f: sess.run([out], f)[0], vjp=vjp)
        verdict = "ok" if worst <= a.tol else "TOO LARGE"
        print(f"  largest |error| {worst:.3g} (tolerance {a.tol:g}): {verdict}")
        ok = ok and worst <= a.tol
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
