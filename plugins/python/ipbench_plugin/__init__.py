"""ipbench_plugin: write an ipbench solver plugin in Python.

A solver is a class with info() and solve(); a plugin is a script that
serves one:

    #!/usr/bin/python3
    import ipbench_plugin as ip

    class MySolver:
        def info(self):
            return ip.Info(name="mysolver", version="0.1.0", nfe_grid=[20, 100],
                           params=[ip.Param("zeta", 1.0, 0, 10, "step size")])

        def solve(self, problem, model, seeds, nfe, params):
            x = ...  # float64 [len(seeds), problem.d]: one sample per seed
            return x

    ip.serve(MySolver())

solve gets the problem (problem.op, problem.y, problem.sigma_y,
problem.sigma_max, problem.m, problem.d), the model (denoise, vjp,
denoise_eps, restore: every row is counted by the host), one Seed per sample
(seed.rng: a NumPy Generator from that sample's seed alone), the NFE and the
parameters (defaults filled in, ranges checked). An exception in solve fails
the call with an error that names it; the process lives on.

A model plugin (a process holding the run's diffusion model, e.g. a
PyTorch network, whose calls the host forwards after counting them) is
written against ipbench_plugin.model (and ipbench_plugin.torch_model for
torch.nn.Modules); see "Serve a PyTorch model" in the README.

See plugins/python/README.md. Needs Debian's python3-grpcio,
python3-protobuf, python3-numpy and python3-cryptography, under
/usr/bin/python3.
"""

from . import _proc

# Before anything else: nothing but the handshake may reach stdout.
_proc.guard_stdout()

try:
    import grpc  # noqa: F401
    import numpy  # noqa: F401
    from google import protobuf  # noqa: F401
except ImportError as _e:
    if _proc.as_plugin():
        _proc.log("ERROR", "ipbench_plugin needs Debian's python3-grpcio, python3-protobuf, python3-numpy and "
                  "python3-cryptography, run by /usr/bin/python3 (apt-get install python3-grpcio python3-protobuf "
                  "python3-numpy python3-cryptography): %s" % _e)
        raise SystemExit(1)
    raise

from ._handles import (  # noqa: E402
    CONDITIONAL, NEEDS_EPS_MODEL, NEEDS_SVD, NEEDS_VJP, HostError, Info, Model, Operator, Param, Problem, Seed,
    resolve_params, rows)
from ._serve import serve  # noqa: E402
from . import edm  # noqa: E402

__all__ = [
    "serve", "Info", "Param", "Problem", "Operator", "Model", "Seed", "HostError", "rows", "resolve_params",
    "NEEDS_VJP", "NEEDS_SVD", "NEEDS_EPS_MODEL", "CONDITIONAL", "edm",
]
