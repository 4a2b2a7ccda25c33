"""Edge-aware spreading of sparse colour corrections (colorization by optimization, Levin,
Lischinski and Weiss 2004, on the network's residual).

A user's hint says what colour one pixel should have; the network's chroma there is off by
some amount. :func:`spread_corrections` turns those few per-pixel corrections into a smooth
correction field over the image that changes little between neighbouring pixels of similar
lightness and freely across lightness edges, and fades with distance from the hints, so a
hint recolours its region (the dress) and stops at its outline. It minimises

    sum over neighbours p~q of w_pq (r_p - r_q)^2  +  mu * sum_p r_p^2
        +  lam * sum over hints k of (r(x_k) - d_k)^2,

with ``w_pq = exp(-(L_p - L_q)^2 / (2 s^2))`` (``s``: ``lightness_width`` L*), ``mu = 1 /
reach^2`` (a correction fades over about ``reach`` pixels of similar lightness) and ``r(x_k)``
the bilinear value at hint ``k``'s place. The minimiser solves a sparse, symmetric positive
definite system on the 4-neighbour grid, solved here without a matrix by conjugate gradients
with a Jacobi preconditioner (tens of milliseconds at 256 x 384 on one core).
"""

from __future__ import annotations

import numba
import numpy as np
import torch
import torch.nn.functional as F

import tinct.kernels  # noqa: F401  (sets numba's cache folder before anything compiles)

DATA_WEIGHT = 100.0     # lam: how hard the field meets each hint before the exact correction
COARSEST = 48           # the coarsest level of the pyramid has at most this many pixels a side
COARSE_ITERATIONS = 300
FINE_ITERATIONS = 40    # per finer level, starting from the coarser level's solution
TOLERANCE = 1e-4        # relative residual at which conjugate gradients stops


def bilinear_taps(rows: torch.Tensor, cols: torch.Tensor, shape: tuple[int, int]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Fractional grid places ``rows``, ``cols`` ``(K,)`` on a grid of ``shape`` (h, w) ->
    (flat indices ``(K, 4)``, weights ``(K, 4)``) of their four bilinear neighbours."""
    h, w = shape
    r0 = rows.floor().long().clamp(0, h - 1)
    c0 = cols.floor().long().clamp(0, w - 1)
    r1, c1 = (r0 + 1).clamp(max=h - 1), (c0 + 1).clamp(max=w - 1)
    fr, fc = (rows - r0).clamp(0, 1), (cols - c0).clamp(0, 1)
    index = torch.stack([r0 * w + c0, r0 * w + c1, r1 * w + c0, r1 * w + c1], 1)
    weight = torch.stack([(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc], 1)
    return index, weight


def spread_corrections(corrections: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                       guide: torch.Tensor, lightness_width: float, reach: float
                       ) -> torch.Tensor:
    """Corrections ``(C, K)`` wanted at ``K`` fractional grid places (``rows``, ``cols``
    ``(K,)``) -> a correction field ``(C, h, w)`` on the grid of ``guide`` (L* ``(h, w)``),
    spread along similar lightness (``lightness_width`` L*) and fading over about ``reach``
    grid pixels. The field is close to, not exactly, the wanted values at the places."""
    guide = guide.double()
    levels = [guide]
    while max(levels[-1].shape) > COARSEST:
        h, w = levels[-1].shape
        levels.append(F.interpolate(levels[-1][None, None], size=((h + 1) // 2, (w + 1) // 2),
                                    mode="area")[0, 0])
    corrections = corrections.double().numpy()
    full_h, full_w = guide.shape
    solution = None
    for level in reversed(levels):  # coarse to fine: each level starts from the coarser one
        h, w = level.shape
        if solution is None:
            start, iterations = np.zeros((corrections.shape[0], h, w)), COARSE_ITERATIONS
        else:
            start = F.interpolate(torch.from_numpy(solution)[None], size=(h, w),
                                  mode="bilinear", align_corners=False)[0].numpy().copy()
            iterations = FINE_ITERATIONS
        across = torch.exp(-(level[:, 1:] - level[:, :-1]) ** 2 / (2 * lightness_width**2))
        down = torch.exp(-(level[1:] - level[:-1]) ** 2 / (2 * lightness_width**2))
        screening = 1.0 / max(reach * h / full_h, 1e-3) ** 2
        index, weight = bilinear_taps((rows.double() + 0.5) * h / full_h - 0.5,
                                      (cols.double() + 0.5) * w / full_w - 0.5, (h, w))
        solution = _solve(across.contiguous().numpy(), down.contiguous().numpy(), screening,
                          index.contiguous().numpy(), weight.contiguous().numpy(),
                          DATA_WEIGHT, corrections, start, TOLERANCE, iterations)
    return torch.from_numpy(solution).float()


@numba.njit(cache=True)
def _apply(across, down, screening, index, weight, lam, field, out):  # pragma: no cover
    """``out = A @ field`` for one channel ``field`` (h, w) (see the module docstring)."""
    h, w = field.shape
    for i in range(h):
        for j in range(w):
            out[i, j] = screening * field[i, j]
    for i in range(h):
        for j in range(w - 1):
            step = across[i, j] * (field[i, j + 1] - field[i, j])
            out[i, j + 1] += step
            out[i, j] -= step
    for i in range(h - 1):
        for j in range(w):
            step = down[i, j] * (field[i + 1, j] - field[i, j])
            out[i + 1, j] += step
            out[i, j] -= step
    flat_field = field.reshape(-1)
    flat_out = out.reshape(-1)
    for k in range(index.shape[0]):
        value = 0.0
        for t in range(4):
            value += weight[k, t] * flat_field[index[k, t]]
        for t in range(4):
            flat_out[index[k, t]] += lam * weight[k, t] * value


@numba.njit(cache=True)
def _solve(across, down, screening, index, weight, lam, corrections, start, tolerance,
           max_iterations):  # pragma: no cover - compiled
    """Jacobi-preconditioned conjugate gradients for each channel of ``corrections``
    ``(C, K)``, from ``start`` ``(C, h, w)`` (overwritten) -> fields ``(C, h, w)`` (``h,
    w``: ``down.shape[0] + 1``, ``across.shape[1] + 1``)."""
    h, w = down.shape[0] + 1, across.shape[1] + 1
    channels = corrections.shape[0]
    diagonal = np.full((h, w), screening)
    for i in range(h):
        for j in range(w - 1):
            diagonal[i, j] += across[i, j]
            diagonal[i, j + 1] += across[i, j]
    for i in range(h - 1):
        for j in range(w):
            diagonal[i, j] += down[i, j]
            diagonal[i + 1, j] += down[i, j]
    flat_diagonal = diagonal.reshape(-1)
    for k in range(index.shape[0]):
        for t in range(4):
            flat_diagonal[index[k, t]] += lam * weight[k, t] ** 2
    result = start
    applied = np.empty((h, w))
    for c in range(channels):
        rhs = np.zeros((h, w))
        flat_rhs = rhs.reshape(-1)
        for k in range(index.shape[0]):
            for t in range(4):
                flat_rhs[index[k, t]] += lam * weight[k, t] * corrections[c, k]
        target = tolerance * np.sqrt((rhs * rhs).sum())
        x = result[c]
        _apply(across, down, screening, index, weight, lam, x, applied)
        residual = rhs - applied
        pre = residual / diagonal
        direction = pre.copy()
        product = (residual * pre).sum()
        for _ in range(max_iterations):
            if np.sqrt((residual * residual).sum()) <= target:
                break
            _apply(across, down, screening, index, weight, lam, direction, applied)
            curvature = (direction * applied).sum()
            if curvature <= 0.0:
                break
            step = product / curvature
            x += step * direction
            residual -= step * applied
            pre = residual / diagonal
            new_product = (residual * pre).sum()
            direction = pre + (new_product / product) * direction
            product = new_product
    return result
