"""Export an NVlabs/edm network pickle to ONNX in ipbench's denoiser convention.

    python export_edm.py --edm ~/src/edm --pkl edm-ffhq-64x64-uncond-vp.pkl \
        --out edm-ffhq64.onnx [--vjp edm-ffhq64-vjp.onnx]

--edm is a checkout of https://github.com/NVlabs/edm (the pickle's classes
need its dnnlib and torch_utils); --pkl a local path or URL. The graph is
EDM's D(x; sigma) with its preconditioning (c_skip, c_out, c_in, c_noise),
in float32 on the CPU:

    x             float32 [N, C, H, W]  noisy image, x = x0 + sigma * eps, x0 in [-1, 1]
    sigma         float32 [N]           noise level per row
    class_labels  float32 [N, K]        one-hot class (only when net.label_dim > 0)
    denoised      float32 [N, C, H, W]  D(x; sigma)

with a dynamic batch N. --vjp also tries J_x D(x; sigma)^T v (inputs x,
sigma, v[, class_labels], output vjp) by tracing torch.autograd.grad with
create_graph=True; with PyTorch 1.13 that fails for EDM's networks (the
tracer cannot record the convolutions' backward), and the script then says
the model has no VJP and keeps the denoiser. Check the files with
check_edm.py. See ../EXPORT.md.
"""

import argparse
import pickle
import sys

import numpy as np
import torch

OPSET = 17


class Denoiser(torch.nn.Module):
    """D(x; sigma[, class_labels]) in float32 (force_fp32: no fp16 on CUDA)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, sigma, class_labels=None):
        return self.net(x, sigma, class_labels, force_fp32=True)


class VJP(torch.nn.Module):
    """J_x D(x; sigma)^T v through torch.autograd.grad with create_graph=True,
    so that the tracer records the backward pass as ordinary operators."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, sigma, v, class_labels=None):
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            d = self.net(x, sigma, class_labels, force_fp32=True)
            (g,) = torch.autograd.grad(d, x, grad_outputs=v, create_graph=True)
        return g


class PlainAttention:
    """EDM's AttentionOp (softmax(q^T k / sqrt(c)) over the last axis) as plain
    operators: the custom autograd.Function does not export, and its
    hand-written backward would not trace. Same numbers in float32."""

    @staticmethod
    def apply(q, k):
        c = int(k.shape[1])  # channels per head: fixed by the weights
        return torch.einsum("ncq,nck->nqk", q, k / np.sqrt(c)).softmax(dim=2)


def static_padding(conv):
    """conv with a padding the tracer turned into a tensor made an int again.
    EDM's Conv2d computes padding from weight.shape, which tracing records as
    a tensor; the functional convolutions want ints, and the value is fixed
    by the weights anyway."""

    def f(*args, padding=0, **kwargs):
        if isinstance(padding, torch.Tensor):
            padding = int(padding)
        return conv(*args, padding=padding, **kwargs)

    return f


def load(edm, pkl):
    """The EMA network of an EDM pickle, as example.py loads it, in eval mode."""
    sys.path.insert(0, edm)
    import dnnlib  # noqa: E402 (needs the edm checkout on the path)

    with dnnlib.util.open_url(pkl) as f:
        net = pickle.load(f)["ema"]
    return net.eval().requires_grad_(False).cpu()


def tile(t, dims):
    """Tensor.tile as Tensor.repeat, which the exporter knows (PyTorch 1.13
    has no ONNX form of aten::tile)."""
    dims = [1] * (t.dim() - len(dims)) + list(dims)
    return t.repeat(*dims)


def make_exportable(net):
    """Rewrite, for this process only, the constructs of EDM's networks.py
    that do not trace to ONNX (with PyTorch 1.13), keeping the numbers:
    AttentionOp becomes PlainAttention in the module the network's classes
    were loaded into (torch_utils.persistence rebuilds networks.py from the
    pickle, so the swap happens there, after loading), the functional
    convolutions accept the traced padding, and Tensor.tile becomes repeat.
    check_edm.py compares against the untouched network."""
    for m in net.modules():
        mod = sys.modules.get(type(m).__module__)
        if mod is not None and hasattr(mod, "AttentionOp"):
            mod.AttentionOp = PlainAttention
    F = torch.nn.functional
    if not getattr(F.conv2d, "_ipbench", False):
        for name in ("conv2d", "conv_transpose2d"):
            f = static_padding(getattr(F, name))
            f._ipbench = True
            setattr(F, name, f)
    torch.Tensor.tile = tile
    return net


def example_inputs(net, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    c, r = net.img_channels, net.img_resolution
    x = torch.rand(n, c, r, r, generator=g) * 2 - 1
    sigma = torch.tensor([0.5, 5.0][:n] + [1.0] * max(0, n - 2))
    x = x + sigma.reshape(-1, 1, 1, 1) * torch.randn(n, c, r, r, generator=g)
    labels = None
    if net.label_dim:
        labels = torch.nn.functional.one_hot(torch.arange(n) % net.label_dim, net.label_dim).float()
    return x, sigma, labels


def export(net, out, vjp=None):
    """Write the denoiser graph for net to out and, when vjp is given, try the
    VJP graph; return whether the VJP graph (if asked for) was written."""
    make_exportable(net)
    x, sigma, labels = example_inputs(net)
    cond = labels is not None
    names = ["x", "sigma"] + (["class_labels"] if cond else [])
    args = (x, sigma) + ((labels,) if cond else ())
    torch.onnx.export(
        Denoiser(net), args, out, opset_version=OPSET,
        input_names=names, output_names=["denoised"],
        dynamic_axes={k: {0: "N"} for k in names + ["denoised"]},
    )
    print(f"wrote {out}")
    if not vjp:
        return True
    v = torch.randn_like(x)
    names = ["x", "sigma", "v"] + (["class_labels"] if cond else [])
    args = (x, sigma, v) + ((labels,) if cond else ())
    try:
        torch.onnx.export(
            VJP(net), args, vjp, opset_version=OPSET,
            input_names=names, output_names=["vjp"],
            dynamic_axes={k: {0: "N"} for k in names + ["vjp"]},
        )
    except Exception as e:  # the tracer's limits, not a bug of the network
        print(f"no VJP graph: tracing torch.autograd.grad failed ({type(e).__name__}: {e}); "
              f"this model has no VJP in ipbench")
        return False
    print(f"wrote {vjp}")
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--edm", required=True, help="checkout of github.com/NVlabs/edm")
    p.add_argument("--pkl", required=True, help="network pickle (path or URL)")
    p.add_argument("--out", required=True, help="denoiser .onnx to write")
    p.add_argument("--vjp", help="VJP .onnx to write (optional)")
    a = p.parse_args()
    net = load(a.edm, a.pkl)
    print(f"{type(net).__name__}: {net.img_channels}x{net.img_resolution}x{net.img_resolution}, "
          f"label_dim {net.label_dim}, sigma_data {getattr(net, 'sigma_data', '?')}")
    with torch.no_grad():
        export(net, a.out, a.vjp)


if __name__ == "__main__":
    main()
