"""What a Python solver is written against: its Info, the problem, the
operator and model handles (the host's services), seeds and shared-memory
arrays."""

import math
import threading
from dataclasses import dataclass, field
from typing import List

import grpc
import numpy as np

from . import _doorbell
from . import ipbench_pb2 as pb
from ._tensor import F64, decode, encode, shm_tensor

# Capabilities a solver declares (plugins/sdk.Capability).
NEEDS_VJP = "needs-vjp"
NEEDS_SVD = "needs-svd"
NEEDS_EPS_MODEL = "needs-eps-model"
CONDITIONAL = "conditional"


@dataclass
class Param:
    """A solver parameter with its default and allowed range [min, max]."""
    name: str
    default: float
    min: float
    max: float
    doc: str = ""


@dataclass
class Info:
    """What a solver says of itself: recorded with every result and shown by
    `ipbench solvers`."""
    name: str
    version: str
    capabilities: List[str] = field(default_factory=list)
    nfe_grid: List[int] = field(default_factory=list)
    params: List[Param] = field(default_factory=list)

    def proto(self):
        return pb.InfoResponse(
            name=self.name, version=self.version, capabilities=list(self.capabilities),
            nfe_grid=[int(n) for n in self.nfe_grid],
            params=[pb.Param(name=p.name, default=p.default, min=p.min, max=p.max, doc=p.doc) for p in self.params])


def resolve_params(info, given):
    """Fills in the defaults of info's parameters and checks the given
    values, as plugins/sdk.ResolveParams does."""
    out = {p.name: float(p.default) for p in info.params}
    known = {p.name: p for p in info.params}
    for k in sorted(given):
        v = given[k]
        p = known.get(k)
        if p is None:
            raise ValueError("solver %s: unknown parameter %r" % (info.name, k))
        if math.isnan(v) or v < p.min or v > p.max:
            raise ValueError("solver %s: parameter %s = %r is outside [%r, %r]" % (info.name, k, v, p.min, p.max))
        out[k] = float(v)
    return out


class Seed:
    """One sample's random stream: the host's two 64-bit words (hi, lo).

    rng is a NumPy Generator (PCG64DXSM) seeded from them alone, so a sample
    does not depend on its batch. It is not the Go SDK's stream: Go's
    math/rand/v2 PCG and NumPy's generators draw different numbers from the
    same seed, so a Python solver's samples are not bit-identical to a Go
    solver's; only their distributions agree."""

    __slots__ = ("hi", "lo", "_rng")

    def __init__(self, hi, lo):
        self.hi, self.lo, self._rng = int(hi), int(lo), None

    @property
    def rng(self):
        if self._rng is None:
            ss = np.random.SeedSequence((self.hi << 64) | self.lo)
            self._rng = np.random.Generator(np.random.PCG64DXSM(ss))
        return self._rng

    def __repr__(self):
        return "Seed(hi=%#x, lo=%#x)" % (self.hi, self.lo)


_call = threading.local()  # the Solve call in hand on this thread: its region


def rows(n, d):
    """A zeroed float64 array [n, d] for a solver's working state.

    Inside a Solve call with shared memory it lives in the region the host
    maps too, so passing it to a model or operator call (as an input or as
    out=) costs no copy; it is valid until the call returns. Elsewhere, or
    when the region is full, it is an ordinary array."""
    region = getattr(_call, "region", None)
    if region is not None:
        a = region.rows(n, d)
        if a is not None:
            return a
    return np.zeros((n, d))


class HostError(RuntimeError):
    """A call to the host's Operator or Model service failed."""


def _rows(name, a, d):
    """a as a float64 batch [n, d] (a vector [d] becomes [1, d]); returns it
    and whether it was a vector."""
    a = np.asarray(a)
    vector = a.ndim == 1
    if vector:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != d:
        raise ValueError("%s: shape %s, want [n, %d] or [%d]" % (name, a.shape, d, d))
    if a.dtype != np.float64:
        if a.dtype.kind not in "fiu":
            raise ValueError("%s: dtype %s, want float64" % (name, a.dtype))
        a = a.astype(np.float64)
    return a, vector


def _out(name, out, n, d, vector):
    """Checks an out= array: float64 [n, d] ([d] for a vector input), and
    returns it as [n, d] (a view)."""
    if out is None:
        return None
    if not isinstance(out, np.ndarray) or out.dtype != np.float64 or not (
            out.shape == (n, d) or (vector and out.shape == (d,))):
        raise ValueError("%s: out= of shape %s and dtype %s, want (%d, %d) float64" % (
            name, getattr(out, "shape", None), getattr(out, "dtype", type(out).__name__), n, d))
    return out.reshape(1, d) if out.ndim == 1 else out


class _Transport:
    """Moves a call's tensors: through the session's shared memory where
    there is room, inside the messages otherwise (as the Go SDK does)."""

    def __init__(self, region):
        self.region = region

    def call(self, name, inputs, n, dout, out, send, bell=None):
        """Runs one host call. inputs are [n, ·] arrays (None: absent); out
        is the caller's array [n, dout] or None; send(tensors, out_ref)
        makes the gRPC call and returns the reply tensor; bell(offsets,
        out_off) rings the doorbell instead when every tensor is in shared
        memory. Returns the result [n, dout]."""
        region = self.region
        frees = []
        try:
            offs = []  # each input's offset in the region; None: in the message (or absent)
            for a in inputs:
                put = region.put(a) if (region is not None and a is not None) else None
                if put is None:
                    offs.append(None)
                    continue
                off, release = put
                if release is not None:
                    frees.append(release)
                offs.append(off)
            out_off, in_place = None, False
            if region is not None and n * dout > 0:
                if out is not None:
                    out_off = region.locate(out)
                    in_place = out_off is not None
                if out_off is None:
                    out_off = region.alloc(8 * n * dout)
                    if out_off is not None:
                        frees.append(out_off)
            if bell is not None and out_off is not None and all(
                    o is not None for o, a in zip(offs, inputs) if a is not None):
                bell(offs, out_off)
                res, shared = region.view(out_off, n, dout), True
            else:
                tensors = [None if a is None else encode(a) if o is None else shm_tensor(o, a.shape[0], a.shape[1])
                           for a, o in zip(inputs, offs)]
                ref = pb.ShmRef(offset=out_off, length=8 * n * dout) if out_off is not None else None
                t = send(tensors, ref)
                if t is not None and t.HasField("shm"):
                    if region is None:
                        raise HostError("%s: shared-memory reply without a region" % name)
                    res, shared = region.tensor(t, dout), True
                    in_place = in_place and t.shm.offset == out_off
                else:
                    res, shared = decode(t, (n, dout)), False
                    in_place = False
                if res.shape != (n, dout):
                    raise HostError("%s: reply of shape %s for [%d %d]" % (name, res.shape, n, dout))
            if in_place:
                return out
            if out is not None:
                out[...] = res
                return out
            # A block of the region is freed below: its numbers are copied out.
            return res.copy() if shared else res
        finally:
            for off in frees:
                region.free(off)


def _rpc(name, f, req):
    try:
        return f(req)
    except grpc.RpcError as e:
        raise HostError("%s: %s" % (name, e.details() if hasattr(e, "details") else e)) from None


class Operator:
    """The host's handle on the measurement operator A: R^d -> R^m of
    y = A x0 + sigma_y n, through its Operator service (operator calls are
    not counted). Batched: each row of the input is one vector; a vector
    [k] is taken as a batch of one and gives a vector back. out=, if given,
    is written in place and returned."""

    def __init__(self, stub, session, m, d, tr, has_svd):
        self._c, self._s, self.m, self.d, self._tr = stub, session, m, d, tr
        self.has_svd = has_svd

    @property
    def dims(self):
        return self.m, self.d

    def _call(self, name, f, x, din, dout, out, a=0.0, b=0.0):
        x, vector = _rows("operator %s: input" % name, x, din)
        o = _out("operator " + name, out, x.shape[0], dout, vector)

        def send(tensors, ref):
            return _rpc("operator " + name, f, pb.OpRequest(session=self._s, x=tensors[0], a=a, b=b, out=ref)).y

        res = self._tr.call("operator " + name, [x], x.shape[0], dout, o, send)
        if out is not None:
            return out
        return res[0] if vector else res

    def apply(self, x, out=None):
        """A x."""
        return self._call("Apply", self._c.Apply, x, self.d, self.m, out)

    def adjoint(self, y, out=None):
        """A^T y."""
        return self._call("Adjoint", self._c.Adjoint, y, self.m, self.d, out)

    def solve_shifted(self, a, b, v, out=None):
        """(a I + b A^T A)^-1 v, a > 0, b >= 0."""
        return self._call("SolveShifted", self._c.SolveShifted, v, self.d, self.d, out, a, b)

    def pinv(self, y, out=None):
        """A^+ y."""
        return self._call("Pinv", self._c.Pinv, y, self.m, self.d, out)

    def gram_eigenvalues(self):
        """The d eigenvalues of A^T A."""
        r = _rpc("operator GramEigenvalues", self._c.GramEigenvalues, pb.SessionRequest(session=self._s))
        return np.array(r.values, dtype=np.float64)

    # The SVD A = U S V^T (harness/operator.SVD's conventions), when the
    # problem has one (has_svd; solvers that need it declare NEEDS_SVD).

    def _svd(self):
        if not self.has_svd:
            raise HostError("this operator has no SVD (declare ipbench_plugin.NEEDS_SVD)")

    def singular(self):
        """The singular values of A."""
        self._svd()
        r = _rpc("operator Singular", self._c.Singular, pb.SessionRequest(session=self._s))
        return np.array(r.values, dtype=np.float64)

    def vt(self, x, out=None):
        """V^T x."""
        self._svd()
        return self._call("Vt", self._c.Vt, x, self.d, self.d, out)

    def v(self, c, out=None):
        """V c."""
        self._svd()
        return self._call("V", self._c.V, c, self.d, self.d, out)

    def ut(self, y, out=None):
        """U^T y."""
        self._svd()
        return self._call("Ut", self._c.Ut, y, self.m, self.m, out)

    def u(self, c, out=None):
        """U c."""
        self._svd()
        return self._call("U", self._c.U, c, self.m, self.m, out)


class Model:
    """The host's handle on the diffusion model (EDM interpolant
    x_sigma = x0 + sigma eps). Every row counts as one NFE (denoise,
    denoise_eps, restore) or one VJP (vjp), counted by the host. Inputs are
    float64 batches [n, d]; out=, if given, is written in place and
    returned (no copy when it comes from ipbench_plugin.rows)."""

    def __init__(self, stub, session, d, tr, bell=None, alive=None):
        self._c, self._s, self.d, self._tr, self._bell, self._alive = stub, session, d, tr, bell, alive
        self.doorbell = bell is not None  # whether calls ring the doorbell

    def _call(self, name, op, f, x, sigma, v, out):
        x, vector = _rows("model %s: x" % name, x, self.d)
        n = x.shape[0]
        if v is not None:
            v, _ = _rows("model %s: v" % name, v, self.d)
            if v.shape[0] != n:
                raise ValueError("model %s: v has %d rows, x %d" % (name, v.shape[0], n))
        o = _out("model " + name, out, n, self.d, vector)
        sigma = float(sigma)

        def send(tensors, ref):
            req = pb.ModelRequest(session=self._s, x=tensors[0], sigma=sigma, v=tensors[1], out=ref)
            return _rpc("model " + name, f, req).y

        bell = None
        if self._bell is not None:
            def bell(offs, out_off):
                try:
                    self._bell.ring(op, sigma, n, self.d, offs[0], offs[1], out_off, self._alive)
                except _doorbell.DoorbellError as e:
                    raise HostError("model %s: %s" % (name, e)) from None

        res = self._tr.call("model " + name, [x, v], n, self.d, o, send, bell)
        if out is not None:
            return out
        return res[0] if vector else res

    def denoise(self, x, sigma, out=None):
        """D(x; sigma) ~ E[x0 | x0 + sigma eps = x] (1 NFE per row)."""
        return self._call("Denoise", _doorbell.OP_DENOISE, self._c.Denoise, x, sigma, None, out)

    def vjp(self, x, sigma, v, out=None):
        """J(x; sigma)^T v, J the Jacobian of D(.; sigma) (1 VJP per row)."""
        return self._call("VJP", _doorbell.OP_VJP, self._c.VJP, x, sigma, v, out)

    def denoise_eps(self, pivot, sigma, out=None):
        """EPS's posterior denoiser E[x0 | mu*, y] at the pivot mu* (1 NFE per row)."""
        return self._call("DenoiseEPS", _doorbell.OP_DENOISE_EPS, self._c.DenoiseEPS, pivot, sigma, None, out)

    def restore(self, x, sigma, out=None):
        """A conditional model's E[x0 | x, y] (1 NFE per row)."""
        return self._call("Restore", _doorbell.OP_RESTORE, self._c.Restore, x, sigma, None, out)


class Problem:
    """One linear inverse problem y = A x0 + sigma_y n, n ~ N(0, I).

    op: the Operator; y: the measurement [m]; sigma_y; sigma_max: the
    largest noise level of the diffusion, chosen by the host for the prior;
    m, d: the dimensions of A."""

    def __init__(self, op, y, sigma_y, sigma_max):
        self.op, self.y, self.sigma_y, self.sigma_max = op, y, sigma_y, sigma_max
        self.m, self.d = op.m, op.d

    def __repr__(self):
        return "Problem(m=%d, d=%d, sigma_y=%g, sigma_max=%g)" % (self.m, self.d, self.sigma_y, self.sigma_max)


def samples_of(result, n, d, name):
    """Checks a solver's result: an array-like [n, d] of floats."""
    try:
        a = np.asarray(result)
    except Exception as e:  # ragged lists and the like
        raise ValueError("solver %s returned %s, not an array of samples: %s" % (name, type(result).__name__, e))
    if a.dtype.kind != "f":
        raise ValueError("solver %s returned samples of dtype %s; want float64 (or float32), one row per seed" % (name, a.dtype))
    if a.shape != (n, d):
        raise ValueError("solver %s returned samples of shape %s; want (%d, %d): one row of length d = %d per seed"
                         % (name, a.shape, n, d, d))
    if a.dtype != F64 and a.dtype != np.float64:
        a = a.astype(np.float64)  # float32 and float16 widen exactly
    return a
