"""The EDM noise schedule (Karras et al. 2022), as plugins/sdk/edm has it,
for solvers that step along EDM levels."""

import math

import numpy as np

from ._handles import Param, rows

SIGMA_MIN = 0.002
SIGMA_MAX = 80.0
RHO = 7.0


def params():
    """The schedule's parameters as solver parameters: sigma_min and rho
    (sigma_max comes with the problem)."""
    return [
        Param("sigma_min", SIGMA_MIN, 1e-6, 1, "smallest nonzero noise level of the EDM schedule"),
        Param("rho", RHO, 1, 100, "EDM schedule exponent ρ"),
    ]


def sigmas(n, sigma_min, sigma_max, rho):
    """The n+1 EDM levels sigma_0 = sigma_max > ... > sigma_{n-1} = sigma_min
    > sigma_n = 0 (for n = 1: sigma_max, 0), computed as edm.Sigmas does."""
    s = [0.0] * (n + 1)
    s[0] = sigma_max
    if n == 1:
        return s
    hi, lo = math.pow(sigma_max, 1 / rho), math.pow(sigma_min, 1 / rho)
    for i in range(1, n - 1):
        s[i] = math.pow(hi + i / (n - 1) * (lo - hi), rho)
    s[n - 1], s[n] = sigma_min, 0.0
    return s


def grid(nfe, sigma_max, params):
    """The levels of a solver that takes nfe steps on the EDM grid, with
    sigma_min and rho from params (edm.Grid)."""
    if nfe < 1:
        raise ValueError("NFE must be at least 1, got %d" % nfe)
    sigma_min, rho = params["sigma_min"], params["rho"]
    if not (sigma_min > 0 and sigma_max > sigma_min and rho > 0) or math.isinf(sigma_max):
        raise ValueError("need 0 < σ_min < σ_max and ρ > 0, got σ_min=%r σ_max=%r ρ=%r" % (sigma_min, sigma_max, rho))
    return sigmas(nfe, sigma_min, sigma_max, rho)


def start(seeds, d, sigma_max):
    """The starting state x_N ~ N(0, sigma_max^2 I) [len(seeds), d], row i
    from seeds[i].rng alone, in shared memory where there is some."""
    x = rows(len(seeds), d)
    for i, s in enumerate(seeds):
        x[i] = sigma_max * s.rng.standard_normal(d)
    return x


def normals(seeds, d):
    """Standard normal noise [len(seeds), d], row i from seeds[i].rng."""
    z = np.empty((len(seeds), d))
    for i, s in enumerate(seeds):
        s.rng.standard_normal(out=z[i])
    return z
