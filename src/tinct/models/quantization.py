"""Colour quantization for the classification colorizers (Zhang et al. 2016): the in-gamut ab
bins, learned palettes, soft encoding of true colours, class rebalancing and annealed-mean decoding.

Chroma is in colour-space units (Lab a, b or LUV u, v; see :mod:`tinct.color`); a distribution
over ``Q`` bins is ``(B, Q, H, W)``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.weak import WeakIdKeyDictionary

from tinct.color import check_space, rgb_to_lab, rgb_to_luv

__all__ = [
    "gamut_bins",
    "kmeans_palette",
    "soft_encode",
    "soft_encode_sparse",
    "rebalancing_weights",
    "annealed_mean",
]


@functools.lru_cache(maxsize=4)
def _gamut_bins_cached(step: float, space: str) -> torch.Tensor:
    # every colour on the faces of the 8-bit sRGB cube plus a coarse interior grid: the ab
    # projection of the cube is reached from these samples
    fine = torch.linspace(0, 1, 256, dtype=torch.float64)
    u, v = torch.meshgrid(fine, fine, indexing="ij")
    u, v = u.reshape(-1), v.reshape(-1)
    faces = []
    for axis in range(3):
        for value in (0.0, 1.0):
            cols = [u, v]
            cols.insert(axis, torch.full_like(u, value))
            faces.append(torch.stack(cols))
    coarse = torch.linspace(0, 1, 32, dtype=torch.float64)
    inner = torch.stack(torch.meshgrid(coarse, coarse, coarse, indexing="ij")).reshape(3, -1)
    rgb = torch.cat(faces + [inner], dim=1).unsqueeze(-1)
    full = rgb_to_lab(rgb) if space == "lab" else rgb_to_luv(rgb)
    ab = full[1:].reshape(2, -1).T
    cells = torch.unique(torch.round(ab / step).to(torch.int64), dim=0)
    return (cells.to(torch.float32) * step).contiguous()


def gamut_bins(step: float = 10.0, space: str = "lab") -> torch.Tensor:
    """The in-gamut ab bins of the classification colorizers (Zhang et al. 2016), computed.

    A bin is a ``step`` x ``step`` cell of the ab plane centred on a multiple of ``step``; it is
    kept when some 8-bit sRGB colour falls inside it. With ``step=10`` this gives 261 bins
    spanning a in [-90, 100] and b in [-110, 90], the range of the paper's table. The paper
    reports 313 bins; its table is wider than the sRGB gamut (cells whose centre lies within
    one cell diagonal of an sRGB colour number 317), and the extra cells can only produce
    out-of-gamut colours, so tinct keeps the cells sRGB actually reaches. Returns the
    bin centres, ``(Q, 2)`` float32 in colour-space units, sorted. ``space="luv"`` gives
    the same construction on the uv plane.
    """
    check_space(space)
    if not step > 0:
        raise ValueError(f"step must be positive, got {step}")
    return _gamut_bins_cached(float(step), space).clone()


def kmeans_palette(
    chroma: torch.Tensor, k: int, iterations: int = 50, seed: int = 0
) -> torch.Tensor:
    """A palette of ``k`` chroma colours learned by k-means (k-means++ initialisation).

    ``chroma``: ``(N, 2)`` samples in colour-space units. Returns ``(k, 2)`` float32 centres.
    """
    if chroma.dim() != 2 or chroma.shape[1] != 2:
        raise ValueError(f"chroma samples must have shape (N, 2), got {tuple(chroma.shape)}")
    if chroma.shape[0] < k:
        raise ValueError(f"need at least k={k} samples, got {chroma.shape[0]}")
    x = chroma.to(torch.float32)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    centres = x[torch.randint(len(x), (1,), generator=gen)]
    for _ in range(1, k):
        d2 = torch.cdist(x, centres).amin(dim=1) ** 2
        probs = d2 / d2.sum() if d2.sum() > 0 else torch.full_like(d2, 1 / len(d2))
        centres = torch.cat((centres, x[torch.multinomial(probs, 1, generator=gen)]))
    for _ in range(iterations):
        assign = torch.cdist(x, centres).argmin(dim=1)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).unsqueeze(1).to(x.dtype)
        new = torch.where(counts > 0, sums / counts.clamp(min=1), centres)
        if torch.allclose(new, centres):
            break
        centres = new
    return centres.contiguous()


def soft_encode(
    chroma: torch.Tensor, centres: torch.Tensor, sigma: float = 5.0, neighbours: int = 5
) -> torch.Tensor:
    """Soft-encodes chroma to a distribution over colour bins (Zhang et al. 2016).

    Each pixel's weight goes to its ``neighbours`` nearest bins with a Gaussian of width
    ``sigma`` (Lab units), normalized to sum to 1. ``chroma``: ``(B, 2, H, W)`` in colour-space
    units; ``centres``: ``(Q, 2)``. Returns ``(B, Q, H, W)`` in [0, 1].
    """
    B, _, H, W = chroma.shape
    idx, w = soft_encode_sparse(chroma, centres, sigma, neighbours)
    out = torch.zeros(B, centres.shape[0], H, W, dtype=w.dtype, device=w.device)
    return out.scatter_(1, idx, w)


def soft_encode_sparse(
    chroma: torch.Tensor, centres: torch.Tensor, sigma: float = 5.0, neighbours: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`soft_encode` as (bin indices, weights), each ``(B, k, H, W)``, nearest bin first
    (``k = neighbours``); the weights of a pixel sum to 1."""
    B, _, H, W = chroma.shape
    flat = chroma.permute(0, 2, 3, 1).reshape(-1, 2).to(centres.dtype)
    k = min(neighbours, centres.shape[0])
    dist, idx = nearest_bins(flat, centres, k)
    w = torch.softmax(-(dist**2) / (2 * sigma**2), dim=1)
    return (idx.reshape(B, H, W, k).permute(0, 3, 1, 2).contiguous(),
            w.reshape(B, H, W, k).permute(0, 3, 1, 2).contiguous())


def nearest_bins(points: torch.Tensor, centres: torch.Tensor, k: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` bins nearest to each point, nearest first: (distances, indices), each
    ``(N, k)``, for ``points`` ``(N, 2)`` and ``centres`` ``(Q, 2)`` in colour-space units.

    Bins on a square grid (:func:`gamut_bins`) are searched in the 4 x 4 grid cells around
    each point, 16 candidates instead of ``Q`` (about 261); a point whose ``k``-th candidate
    is farther than any bin outside those cells could be (two grid steps) is searched among
    all bins, so the answer is the same as the full search (up to the order of exact ties).
    Any other palette (k-means) is searched in full.
    """
    layout = _cached_grid_layout(centres) if k <= 16 else None
    if layout is None:
        return torch.cdist(points, centres).topk(k, dim=1, largest=False)
    origin, step, lut = layout
    cell = torch.floor((points - origin) / step).long() - 1                 # (N, 2)
    offsets = torch.arange(4, device=points.device)
    ia, ib = cell[:, :1] + offsets, cell[:, 1:] + offsets                   # (N, 4) each
    inside = (((ia >= 0) & (ia < lut.shape[0]))[:, :, None]
              & ((ib >= 0) & (ib < lut.shape[1]))[:, None, :])              # (N, 4, 4)
    cand = lut[ia.clamp(0, lut.shape[0] - 1)[:, :, None],
               ib.clamp(0, lut.shape[1] - 1)[:, None, :]]
    cand = torch.where(inside, cand, -1).reshape(len(points), 16)           # bin or -1
    d = (centres[cand.clamp(min=0)] - points[:, None, :]).norm(dim=2)
    d = d.masked_fill(cand < 0, float("inf"))
    dist, pos = d.topk(k, dim=1, largest=False)
    idx = cand.gather(1, pos)
    unsure = ~(dist[:, -1] <= 2 * step)  # a bin outside the cells might be nearer
    if bool(unsure.any()):
        rows = unsure.nonzero().squeeze(1)
        full_d, full_i = torch.cdist(points[rows], centres).topk(k, dim=1, largest=False)
        dist, idx = dist.index_put((rows,), full_d), idx.index_put((rows,), full_i)
    return dist, idx


_LAYOUTS = WeakIdKeyDictionary()  # centres tensor -> (its version, its layout)


def _cached_grid_layout(centres: torch.Tensor):
    """:func:`_grid_layout` of a model's bin centres, worked out once per tensor (and again
    only if the tensor is changed in place), not at every training step."""
    hit = _LAYOUTS.get(centres)
    if hit is None or hit[0] != centres._version:
        hit = (centres._version, _grid_layout(centres))
        _LAYOUTS[centres] = hit
    return hit[1]


def _grid_layout(centres: torch.Tensor) -> tuple[torch.Tensor, float, torch.Tensor] | None:
    """(origin ``(2,)``, step, lookup ``(na, nb)`` of bin indices, -1 where there is none)
    when the bin centres sit on one square grid, else None."""
    if centres.dim() != 2 or centres.shape[0] < 2 or centres.shape[1] != 2:
        return None
    c = centres.double()
    gaps = [torch.diff(torch.unique(c[:, j])) for j in range(2)]
    if any(g.numel() == 0 for g in gaps):
        return None
    step = float(min(g.min() for g in gaps))
    origin = c.min(dim=0).values
    grid = (c - origin) / step
    cells = grid.round()
    if step <= 0 or float((grid - cells).abs().max()) > 1e-6:
        return None
    cells = cells.long()
    shape = (int(cells[:, 0].max()) + 1, int(cells[:, 1].max()) + 1)
    if shape[0] * shape[1] > 1_000_000:
        return None
    lut = torch.full(shape, -1, dtype=torch.long, device=centres.device)
    lut[cells[:, 0], cells[:, 1]] = torch.arange(len(c), device=centres.device)
    if int((lut >= 0).sum()) != len(c):  # two bins in one cell
        return None
    return origin.to(centres.dtype), step, lut


def annealed_mean(logits: torch.Tensor, centres: torch.Tensor, temperature: float = 0.38,
                  bias: torch.Tensor | None = None):
    """Annealed-mean decoding: the ``softmax(logits / T + bias)`` weighted mean of the bin
    centres.

    ``logits``: ``(B, Q, H, W)``; ``centres``: ``(Q, 2)`` in colour-space units; ``bias``:
    ``(Q,)`` added to every pixel's scaled logits (decode-time rebalancing), or None. ``T=1``
    is the mean, ``T -> 0`` the mode. Returns chroma ``(B, 2, H, W)`` in colour-space units.

    Without autograd on the CPU (inference) this runs as one compiled pass over the logits
    (:func:`tinct.kernels.annealed_mean_rows`, 3-4x faster); otherwise, and while tracing for
    export, in torch ops. The two agree to float32 rounding.
    """
    if temperature <= 0 or not math.isfinite(temperature):
        raise ValueError(f"temperature must be a positive number, got {temperature}")
    if (logits.device.type == "cpu" and not torch.jit.is_tracing()
            and not (torch.is_grad_enabled() and logits.requires_grad)):
        return _annealed_mean_compiled(logits, centres, temperature, bias)
    z = logits.float() / temperature
    if bias is not None:
        z = z + bias.to(z.dtype)[None, :, None, None]
    p = F.softmax(z, dim=1)
    return torch.einsum("bqhw,qc->bchw", p, centres.to(p.dtype))


def _annealed_mean_compiled(logits: torch.Tensor, centres: torch.Tensor, temperature: float,
                            bias: torch.Tensor | None) -> torch.Tensor:
    from tinct import kernels

    B, Q, H, W = logits.shape
    rows = logits.detach().float().permute(0, 2, 3, 1).reshape(-1, Q)  # a view when
    rows = rows.contiguous().numpy()                                    # channels_last
    shift = np.zeros(Q, np.float32) if bias is None else bias.detach().float().cpu().numpy()
    out = np.empty((rows.shape[0], 2), np.float32)
    with kernels.LOCK:
        kernels.annealed_mean_rows(rows, np.ascontiguousarray(shift), np.float32(1 / temperature),
                                   np.ascontiguousarray(centres.float().cpu().numpy()), out)
    return torch.from_numpy(out).view(B, H, W, 2).permute(0, 3, 1, 2)


def rebalancing_weights(prior: torch.Tensor, mix: float = 0.5) -> torch.Tensor:
    """Zhang et al.: ``w ∝ ((1 - mix) p + mix / Q)^-1``, normalized so ``sum(p * w) = 1``.

    ``prior``: ``(Q,)`` empirical bin distribution. ``mix=1`` disables rebalancing.
    """
    q = prior.numel()
    w = 1.0 / ((1 - mix) * prior + mix / q)
    return w / (prior * w).sum()
