"""PyTorch networks as an ipbench model plugin.

TorchModel serves torch.nn.Modules with EDM's calling convention,

    denoiser(x, sigma)                          D(x; σ) ≈ E[x₀ | x₀ + σε = x]
    denoiser(x, sigma, class_labels=onehot)     a class-conditional one, at a fixed class
    eps(x, sigma, cond=c)                       the EPS network D(μ*; σ, c(y)) at the pivot μ*
    restorer(x, sigma, cond=c)                  a conditional restorer D(x; σ, c(y))
    eps(x, sigma, cond=c, task=onehot)          amortized over the host's tasks (TASKS)

x is [N, C, H, W] (or [N, d] for a plain shape), sigma [N], cond the
conditioning image of the problem [N, 2C, H, W] (harness/netmodel.Condition,
computed by the host), onehot [N, K] as in EDM's class_labels. The VJP
J(x; σ)ᵀv comes from torch.autograd. The networks run on CUDA when
torch.cuda.is_available() (or the device given), in their own dtype
(float32 unless told otherwise); tensors come from the host's shared memory
as NumPy views, wrapped by torch.from_numpy without a copy.

    import ipbench_plugin.model as ipm
    from ipbench_plugin.torch_model import TorchModel, load_network
    net = load_network("networks.py", "EDMPrecond", "edm-ffhq64.pt", {"img_resolution": 64, ...})
    ipm.serve(TorchModel(net, shape=(3, 64, 64), name="edm-ffhq64"))

See plugins/python/README.md ("Serve a PyTorch model") and the generic
script examples/ipbench-model-torch.
"""

import importlib.util
import os
import sys

import torch

from . import model as ipm


def default_device(device=None):
    """device, or "cuda" when PyTorch sees a GPU, else "cpu"."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_class(path, cls, sys_path=()):
    """The class cls of the Python file at path (imported as a module of
    its own; its folder and sys_path are put on sys.path first, so that it
    may import its neighbours)."""
    path = os.path.abspath(path)
    for p in list(sys_path) + [os.path.dirname(path)]:
        if p not in sys.path:
            sys.path.insert(0, p)
    name = "ipbench_user_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None:
            raise ImportError("cannot import %s" % path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    try:
        return getattr(mod, cls)
    except AttributeError:
        raise AttributeError("%s defines no %s" % (path, cls)) from None


def load_network(module, cls, weights=None, kwargs=None, device=None, dtype=None, sys_path=()):
    """cls(**kwargs) of the Python file module, its state dict loaded from
    weights (torch.save(net.state_dict(), path); a dict holding it under
    "state_dict", "model" or "ema" works too), in eval mode, on device,
    its parameters frozen (autograd still differentiates with respect to
    the input)."""
    net = load_class(module, cls, sys_path)(**(kwargs or {}))
    if weights:
        sd = torch.load(weights, map_location="cpu")
        if isinstance(sd, dict):
            for key in ("state_dict", "model", "ema"):
                if key in sd and isinstance(sd[key], dict):
                    sd = sd[key]
                    break
        if isinstance(sd, torch.nn.Module):
            sd = sd.state_dict()
        net.load_state_dict(sd)
    net.eval().requires_grad_(False)
    if dtype is not None:
        net.to(dtype)
    return net.to(default_device(device))


class TorchModel:
    """Serves a denoiser network and, optionally, an EPS network and a
    conditional restorer (see the module's doc for their calling
    convention).

    shape: (C, H, W) or (d,). vjp: whether to give VJPs (autograd through
    the denoiser). tasks: the tasks the EPS network and the restorer serve
    (a network trained for one task lists it); task_labels: the networks
    take a one-hot task (amortized over TASKS); class_label: the class a
    class-conditional denoiser is run at (a one-hot of class_dim classes).
    dtype: the dtype the networks compute in (default: that of the
    denoiser's first parameter, else float32). Subclasses may override
    eps_function and restore_function to compute those calls otherwise."""

    def __init__(self, denoiser, shape, *, eps=None, restorer=None, name="torch", version="0", vjp=True,
                 tasks=(), task_labels=False, class_label=None, class_dim=None, device=None, dtype=None):
        self.denoiser, self.eps, self.restorer = denoiser, eps, restorer
        self.shape = tuple(int(s) for s in shape)
        self.name, self.version, self.give_vjp = name, version, vjp
        self.tasks, self.task_labels = list(tasks), task_labels
        self.device = default_device(device)
        if dtype is None:
            p = next(iter(denoiser.parameters()), None) if isinstance(denoiser, torch.nn.Module) else None
            dtype = p.dtype if p is not None and p.dtype.is_floating_point else torch.float32
        self.dtype = dtype
        self.class_onehot = None
        if class_label is not None:
            k = class_dim or getattr(denoiser, "label_dim", 0)
            if not k:
                raise ValueError("class_label %d for a denoiser without class_dim or label_dim" % class_label)
            self.class_onehot = torch.zeros(1, k, dtype=dtype, device=self.device)
            self.class_onehot[0, class_label] = 1

    def gives(self):
        g = [ipm.DENOISE]
        if self.give_vjp:
            g.append(ipm.VJP)
        if self.eps is not None:
            g.append(ipm.EPS)
        if self.restorer is not None:
            g.append(ipm.RESTORE)
        return g

    def needs_condition(self):
        return self.eps is not None or self.restorer is not None

    def info(self):
        return ipm.ModelInfo(name=self.name, version=self.version, shape=self.shape, gives=self.gives(),
                             tasks=self.tasks, condition=self.needs_condition())

    def bind(self, problem):
        return TorchBound(self, problem)

    def conditional(self, net, problem):
        """The call of a conditional network for the problem: f(x, sigma)
        on tensors [N, *shape] and [N]."""
        cond = torch.from_numpy(problem.condition).to(self.device, self.dtype)
        cond = cond.reshape((1, 2 * self.shape[0]) + self.shape[1:] if len(self.shape) == 3 else (1, -1))
        onehot = None
        if self.task_labels:
            if problem.label < 0:
                raise ValueError("task %r has no label (the labelled tasks are %s)" % (problem.task, ipm.TASKS))
            onehot = torch.zeros(1, len(ipm.TASKS), dtype=self.dtype, device=self.device)
            onehot[0, problem.label] = 1

        def f(x, sigma):
            n = x.shape[0]
            kw = {"cond": cond.expand((n,) + cond.shape[1:])}
            if onehot is not None:
                kw["task"] = onehot.expand(n, -1)
            return net(x, sigma, **kw)
        return f

    def eps_function(self, problem):
        """DenoiseEPS of the problem: f(pivot, sigma) on tensors."""
        return self.conditional(self.eps, problem) if self.eps is not None else None

    def restore_function(self, problem):
        """Restore of the problem: f(x, sigma) on tensors."""
        return self.conditional(self.restorer, problem) if self.restorer is not None else None

    def run_denoiser(self, x, sigma):
        if self.class_onehot is not None:
            return self.denoiser(x, sigma, class_labels=self.class_onehot.expand(x.shape[0], -1))
        return self.denoiser(x, sigma)


class TorchBound:
    """A TorchModel bound to one problem: the calls of the host."""

    def __init__(self, model, problem):
        self.m = model
        self.eps = model.eps_function(problem)
        self.rest = model.restore_function(problem)
        # A call the model does not give is None (the SDK answers that it
        # does not give it).
        if self.eps is None:
            self.denoise_eps = None
        if self.rest is None:
            self.restore = None
        if not model.give_vjp:
            self.vjp = None

    def _in(self, a):
        """A host array [n, d] as a tensor [n, *shape] on the device: no
        copy on the CPU in float64 (a view of the shared memory)."""
        t = torch.from_numpy(a)
        return t.to(self.m.device, self.m.dtype).reshape((a.shape[0],) + self.m.shape)

    def _sigma(self, n, sigma):
        return torch.full((n,), float(sigma), dtype=self.m.dtype, device=self.m.device)

    def denoise(self, x, sigma, out):
        with torch.no_grad():
            return self.m.run_denoiser(self._in(x), self._sigma(x.shape[0], sigma))

    def vjp(self, x, sigma, v, out):
        xt = self._in(x).detach().requires_grad_(True)
        with torch.enable_grad():
            d = self.m.run_denoiser(xt, self._sigma(x.shape[0], sigma))
            (g,) = torch.autograd.grad(d, xt, grad_outputs=self._in(v).to(d.dtype))
        return g

    def denoise_eps(self, pivot, sigma, out):
        with torch.no_grad():
            return self.eps(self._in(pivot), self._sigma(pivot.shape[0], sigma))

    def restore(self, x, sigma, out):
        with torch.no_grad():
            return self.rest(self._in(x), self._sigma(x.shape[0], sigma))


__all__ = ["TorchModel", "TorchBound", "load_network", "load_class", "default_device"]
