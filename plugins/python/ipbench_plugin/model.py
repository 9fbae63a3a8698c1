"""Serve a diffusion model to ipbench as a model plugin.

A model plugin is a process the ipbench host starts (model: {kind: plugin,
plugin: PATH} in a run's configuration) to answer the model calls of the
solvers: the host binds it to each problem and forwards every Denoise, VJP,
DenoiseEPS and Restore call to it, after counting it. The solvers never see
the plugin, so NFE stays host-counted whatever the model is written in.

A model is a class with info() and bind(); a plugin is a script that
serves one:

    #!/usr/bin/python3
    import ipbench_plugin.model as ipm

    class MyModel:
        def info(self):
            return ipm.ModelInfo(name="mymodel", version="1.0", shape=(3, 64, 64),
                                 gives=[ipm.DENOISE, ipm.VJP])

        def bind(self, problem):
            return MyBound(problem)    # has denoise(x, sigma, out) and vjp(x, sigma, v, out)

    ipm.serve(MyModel())

bind gets the problem of one session (Problem: task, label, sigma_y, y, m,
d, operator (an OperatorSpec or None) and condition (the conditioning image
[2d] or None)) and returns an object with the methods the model gives:
denoise(x, sigma, out), vjp(x, sigma, v, out), denoise_eps(pivot, sigma,
out), restore(x, sigma, out). x, v and out are float64 NumPy arrays [n, d]
(in the shared memory region the host offers: no copy); a method fills out
and returns it, or returns another array (NumPy or a torch.Tensor, [n, d]
or [n, *shape]), which is copied into out. See torch_model for PyTorch
networks and plugins/python/README.md ("Serve a PyTorch model").
"""

import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import grpc
import numpy as np

from . import _proc, _serve
from . import ipbench_pb2 as pb
from . import ipbench_pb2_grpc as pbg
from ._tensor import Region, decode, encode, shm_tensor

# What a model gives (ModelInfo.gives).
DENOISE = "denoise"
VJP = "vjp"
EPS = "eps"
RESTORE = "restore"

# The host's task labels (harness/netmodel.Tasks): Problem.label is the
# index of the problem's task here, or -1.
TASKS = ["sr4", "sr4-pool", "inpaint-box", "inpaint-random", "deblur-gauss", "deblur-motion"]


@dataclass
class ModelInfo:
    """What a model plugin serves.

    shape: (C, H, W) for images (channel-first), or (d,) for plain vectors.
    gives: DENOISE (required), VJP, EPS, RESTORE. tasks: the tasks its EPS
    and restore calls serve (empty: every task). condition: whether bind
    needs the conditioning image (harness/netmodel.Condition:
    [(σ_y² I + AᵀA)⁻¹ Aᵀy ; AᵀA𝟙], 2d values)."""
    name: str
    version: str
    shape: Sequence[int]
    gives: List[str] = field(default_factory=lambda: [DENOISE])
    tasks: List[str] = field(default_factory=list)
    condition: bool = False

    def proto(self):
        return pb.ModelInfo(name=self.name, version=self.version, shape=[int(s) for s in self.shape],
                            gives=list(self.gives), tasks=list(self.tasks), condition=bool(self.condition))

    @property
    def d(self):
        return int(np.prod([int(s) for s in self.shape]))


@dataclass
class OperatorSpec:
    """A description of the operator A (harness/operator.Spec): kind is
    "dense" (data: A row-major, m × d), "mask" (data: 1 observed, 0 missing,
    one per entry of the C×H×W image; A keeps the observed entries in
    index order), "separable", "conv" or "gaussian-blur"."""
    kind: str
    shape: tuple
    m: int
    d: int
    data: np.ndarray
    rows_h: int = 0
    rows_w: int = 0
    k: int = 0
    sigma: float = 0.0

    @classmethod
    def from_proto(cls, p):
        return cls(kind=p.kind, shape=(int(p.c), int(p.h), int(p.w)), m=int(p.m), d=int(p.d),
                   data=np.asarray(p.data, dtype=np.float64), rows_h=int(p.rows_h), rows_w=int(p.rows_w),
                   k=int(p.k), sigma=float(p.sigma))


@dataclass
class Problem:
    """The problem of one session, y = A x₀ + σ_y n."""
    session: int
    task: str
    label: int  # index of task in TASKS, or -1
    sigma_y: float
    y: np.ndarray  # [m]
    m: int
    d: int
    operator: Optional[OperatorSpec]  # None when the host's operator cannot describe itself
    condition: Optional[np.ndarray]  # [2d] when ModelInfo.condition


def _want(n, d, shape):
    if len(shape) <= 1:
        return "(%d, %d)" % (n, d)
    return "(%d, %d) or (%d, %s)" % (n, d, n, ", ".join(str(s) for s in shape))


def copy_into(out, res, shape, what):
    """Copies a method's result into out ([n, d] float64), checking its
    shape: [n, d] or [n, *shape]. res may be a NumPy array or a
    torch.Tensor (on any device and of any floating dtype)."""
    if res is out:
        return
    n, d = out.shape
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(res, torch.Tensor):
        got = tuple(res.shape)
        if not (got == (n, d) or (len(got) >= 1 and got[0] == n and int(np.prod(got[1:], dtype=np.int64)) == d
                                  and got[1:] == tuple(shape))):
            raise ValueError("%s returned a tensor of shape %s, want %s" % (what, list(got), _want(n, d, shape)))
        if not (res.dtype.is_floating_point and not res.dtype.is_complex):
            raise ValueError("%s returned a tensor of dtype %s, want a real floating dtype" % (what, res.dtype))
        torch.from_numpy(out).copy_(res.detach().reshape(n, d))
        return
    res = np.asarray(res)
    got = res.shape
    if not (got == (n, d) or (len(got) >= 1 and got[0] == n and got[1:] == tuple(shape))):
        raise ValueError("%s returned an array of shape %s, want %s" % (what, list(got), _want(n, d, shape)))
    if res.dtype.kind != "f":
        raise ValueError("%s returned an array of dtype %s, want float64 or float32" % (what, res.dtype))
    out[...] = res.reshape(n, d)


class _ModelServicer(pbg.ModelPluginServicer):
    def __init__(self, impl, info):
        self.impl, self.info = impl, info
        self.d = info.d
        self._lock = threading.Lock()
        self._region = None
        self._sessions = {}

    def Info(self, request, context):
        return self.info.proto()

    def MapRegion(self, req, context):
        with self._lock:
            old, self._region = self._region, None
        if old is not None:
            old.close()
        if req.path:
            try:
                r = Region(req.path, int(req.size))
            except (OSError, ValueError) as e:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, "model %s cannot map %s: %s"
                              % (self.info.name, req.path, e))
            with self._lock:
                self._region = r
        return pb.Empty()

    def Bind(self, req, context):
        d = int(req.d)
        if d != self.d:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "model %s takes signals of %d values (shape %s), not %d"
                          % (self.info.name, self.d, list(self.info.shape), d))
        try:
            y = decode(req.y, (int(req.m),))
            cond = decode(req.condition, (2 * d,)) if req.HasField("condition") else None
        except ValueError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        if self.info.condition and cond is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "model %s needs the conditioning image" % self.info.name)
        spec = OperatorSpec.from_proto(req.operator) if req.HasField("operator") else None
        prob = Problem(session=int(req.session), task=req.task, label=int(req.label), sigma_y=float(req.sigma_y),
                       y=y, m=int(req.m), d=d, operator=spec, condition=cond)
        try:
            bound = self.impl.bind(prob)
        except Exception as e:
            _proc.log("ERROR", "model %s: bind: %s" % (self.info.name, traceback.format_exc()))
            context.abort(grpc.StatusCode.UNKNOWN, _serve._describe("model", self.info.name, e))
        with self._lock:
            self._sessions[prob.session] = bound
        return pb.Empty()

    def Release(self, req, context):
        with self._lock:
            self._sessions.pop(int(req.session), None)
        return pb.Empty()

    def _call(self, req, context, method, with_v=False):
        name = self.info.name
        with self._lock:
            bound = self._sessions.get(int(req.session))
            region = self._region
        if bound is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "model %s: no session %d (not bound, or released)"
                          % (name, req.session))
        f = getattr(bound, method, None)
        if f is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "model %s gives no %s" % (name, method))
        try:
            x = self._tensor(region, req.x)
            v = self._tensor(region, req.v) if with_v else None
            if v is not None and v.shape != x.shape:
                raise ValueError("v of shape %s for x of shape %s" % (list(v.shape), list(x.shape)))
            n = x.shape[0]
            if req.HasField("out"):
                if region is None:
                    raise ValueError("shared-memory output, but no region is mapped")
                if req.out.length != 8 * n * self.d:
                    raise ValueError("shared-memory output of %d bytes for a [%d %d] result"
                                     % (req.out.length, n, self.d))
                out = region.view(req.out.offset, n, self.d)
            else:
                out = np.empty((n, self.d))
        except ValueError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "model %s: %s" % (name, e))
        try:
            args = (x, req.sigma, v, out) if with_v else (x, req.sigma, out)
            copy_into(out, f(*args), self.info.shape, "%s.%s" % (name, method))
        except Exception as e:
            _proc.log("ERROR", "model %s: %s: %s" % (name, method, traceback.format_exc()))
            context.abort(grpc.StatusCode.UNKNOWN, _serve._describe("model", name, e))
        if req.HasField("out"):
            return pb.OpResponse(y=shm_tensor(req.out.offset, n, self.d))
        return pb.OpResponse(y=encode(out))

    def _tensor(self, region, t):
        if t.HasField("shm"):
            if region is None:
                raise ValueError("shared-memory tensor, but no region is mapped")
            return region.tensor(t, self.d)
        return decode(t, (None, self.d))

    def Denoise(self, req, context):
        return self._call(req, context, "denoise")

    def VJP(self, req, context):
        return self._call(req, context, "vjp", with_v=True)

    def DenoiseEPS(self, req, context):
        return self._call(req, context, "denoise_eps")

    def Restore(self, req, context):
        return self._call(req, context, "restore")


def serve(model):
    """Runs model as an ipbench model plugin process; never returns.

    model has info() -> ModelInfo and bind(problem) -> an object with the
    methods the model gives. The host starts the script; run by hand it
    says that it is a plugin and exits with status 1."""
    _proc.check_cookie("model")
    _proc.guard_stdout()

    def register(server, broker):
        info = model.info()
        if not isinstance(info, ModelInfo) or not info.name:
            raise ValueError("info() must return an ipbench_plugin.model.ModelInfo with a name, got %r" % (info,))
        if DENOISE not in info.gives:
            raise ValueError("info(): a model gives at least %r, got %r" % (DENOISE, info.gives))
        pbg.add_ModelPluginServicer_to_server(_ModelServicer(model, info), server)

    _serve.run_plugin(register)


__all__ = ["serve", "ModelInfo", "Problem", "OperatorSpec", "DENOISE", "VJP", "EPS", "RESTORE", "TASKS",
           "copy_into"]
