"""Colorization metrics as the field computes them. Pure functions: no I/O, no model loading.

Image inputs are sRGB tensors ``(B, 3, H, W)`` (or one image ``(3, H, W)``), floating point
(float16/32/64), values in [0, 1], on any device; ``pred`` and ``gt`` must have the same shape.
Per-image metrics return a tensor of shape ``(B,)`` on the input's device, in float64 (float32 on
devices without float64 support, such as Apple MPS); an unbatched ``(3, H, W)`` input gives the
same result without the batch dimension (a 0-d tensor for a scalar metric).

- ab metrics work in CIE Lab (:func:`tinct.color.rgb_to_lab`, D65): L in [0, 100], a and b
  roughly in [-110, 110]; errors are Euclidean distances in the ab plane, in Lab units.
- PSNR and SSIM work on RGB quantized to 0-255 integers (``round(clip(x, 0, 1) * 255)``, what
  saving as 8-bit would give) with data range 255, matching scikit-image on uint8 images.
- Colorfulness (Hasler & Suesstrunk 2003) works on unquantized RGB scaled to [0, 255].
- :func:`frechet_distance` and :class:`FeatureMoments` serve FID-style distances on features
  computed elsewhere; :class:`RunningStats` aggregates per-image values in constant memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from tinct.color import rgb_to_lab

__all__ = [
    "AB_THRESHOLDS",
    "ab_error_map",
    "ab_mse",
    "ab_rmse",
    "ab_accuracy",
    "ab_auc",
    "accuracy_from_error",
    "auc_from_error",
    "psnr",
    "ssim",
    "colorfulness",
    "colorfulness_gap",
    "frechet_distance",
    "frechet_distance_from_moments",
    "RunningStats",
    "FeatureMoments",
    "compute_image_metrics",
    "truth_terms",
    "TruthTerms",
]

AB_THRESHOLDS = (2.5, 5.0, 10.0, 20.0)

# SSIM as Wang et al. 2004 / skimage with gaussian_weights=True: an 11-tap Gaussian (sigma 1.5,
# truncated at 3.5 sigma), population covariances, K1 = 0.01, K2 = 0.03.
_SSIM_SIGMA = 1.5
_SSIM_TRUNCATE = 3.5
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03
_DATA_RANGE = 255.0


# --------------------------------------------------------------------------- input handling


def _work_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 where the device supports it, else float32 (MPS has no float64)."""
    return torch.float32 if x.device.type == "mps" else torch.float64


def _as_batch(x: torch.Tensor, name: str) -> tuple[torch.Tensor, bool]:
    """Checks an image tensor; returns it as ``(B, 3, H, W)`` and whether it was unbatched."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(
            f"{name} must be a floating-point tensor with values in [0, 1], got {x.dtype}"
        )
    if x.dim() == 3 and x.shape[0] == 3:
        return x.unsqueeze(0), True
    if x.dim() == 4 and x.shape[1] == 3:
        return x, False
    raise ValueError(f"{name} must have shape (B, 3, H, W) or (3, H, W), got {tuple(x.shape)}")


def _as_pair(pred: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    p, single = _as_batch(pred, "pred_rgb")
    g, _ = _as_batch(gt, "gt_rgb")
    if p.shape != g.shape:
        raise ValueError(
            f"pred_rgb and gt_rgb must have the same shape, got {tuple(pred.shape)} "
            f"and {tuple(gt.shape)}"
        )
    if p.device != g.device:
        raise ValueError(f"pred_rgb is on {p.device} but gt_rgb is on {g.device}")
    return p, g, single


def _unbatch(x: torch.Tensor, single: bool) -> torch.Tensor:
    return x[0] if single else x


def _quantize(rgb: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` in [0, 1] -> 0-255 integer values (as float), what 8-bit saving gives."""
    return (rgb.to(_work_dtype(rgb)).clamp(0, 1) * 255.0).round()


def _ab(rgb: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` sRGB -> ab ``(B, 2, H, W)`` in Lab units, in the working dtype."""
    return rgb_to_lab(rgb.to(_work_dtype(rgb)))[:, 1:]


def _ab_error(ab_pred: torch.Tensor, ab_gt: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(ab_pred - ab_gt, dim=1)


# --------------------------------------------------------------------------- ab metrics


def ab_error_map(pred_rgb: torch.Tensor, gt_rgb: torch.Tensor) -> torch.Tensor:
    """Per-pixel Euclidean distance in the ab plane of CIE Lab.

    ``pred_rgb``, ``gt_rgb``: sRGB ``(B, 3, H, W)`` or ``(3, H, W)``, float in [0, 1].
    Returns ``(B, H, W)`` (or ``(H, W)``) float64, in Lab units (>= 0; at most about 260).
    """
    p, g, single = _as_pair(pred_rgb, gt_rgb)
    return _unbatch(_ab_error(_ab(p), _ab(g)), single)


def _ab_mse_from_error(err: torch.Tensor) -> torch.Tensor:
    return err.square().mean(dim=(-2, -1))


def ab_mse(pred_rgb: torch.Tensor, gt_rgb: torch.Tensor) -> torch.Tensor:
    """Mean squared ab error per image.

    Convention: the squared Euclidean ab distance ``(a1 - a2)^2 + (b1 - b2)^2`` of each pixel,
    averaged over the H*W pixels (summed, not averaged, over the two chroma channels, so this
    is twice the per-element mean). ``pred_rgb``, ``gt_rgb``: sRGB ``(B, 3, H, W)`` or
    ``(3, H, W)`` in [0, 1]. Returns ``(B,)`` float64 in squared Lab units.
    """
    p, g, single = _as_pair(pred_rgb, gt_rgb)
    return _unbatch(_ab_mse_from_error(_ab_error(_ab(p), _ab(g))), single)


def ab_rmse(pred_rgb: torch.Tensor, gt_rgb: torch.Tensor) -> torch.Tensor:
    """Root of :func:`ab_mse`: the RMS Euclidean ab error per image, ``(B,)`` float64, Lab units."""
    return ab_mse(pred_rgb, gt_rgb).sqrt()


def _cumulative_share(err: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Share of pixels with ``err <= t`` for each t of an increasing 1-D ``thresholds``.

    ``err``: ``(B, H, W)``. Returns ``(B, T)``. Uses one bucketing pass (O(B*H*W) memory)
    instead of a ``(B, T, H, W)`` comparison.
    """
    B = err.shape[0]
    flat = err.reshape(B, -1)
    thresholds = thresholds.to(device=err.device, dtype=err.dtype)
    # first threshold index i with thresholds[i] >= err: the pixel counts for every t_j, j >= i
    idx = torch.searchsorted(thresholds, flat.contiguous(), right=False)
    counts = torch.zeros(B, len(thresholds) + 1, dtype=err.dtype, device=err.device)
    counts.scatter_add_(1, idx, torch.ones_like(flat))
    return counts[:, :-1].cumsum(dim=1) / flat.shape[1]


def _thresholds_tensor(thresholds: Sequence[float] | torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(thresholds, dtype=torch.float64).reshape(-1)
    if t.numel() == 0:
        raise ValueError("thresholds must not be empty")
    if not torch.isfinite(t).all():
        raise ValueError(f"thresholds must be finite, got {t.tolist()}")
    return t


def accuracy_from_error(
    err: torch.Tensor, thresholds: Sequence[float] | torch.Tensor = AB_THRESHOLDS
) -> torch.Tensor:
    """Share of pixels whose error is ``<= t``, for each threshold t (any order).

    ``err``: error maps ``(B, H, W)`` (or ``(H, W)``), e.g. from :func:`ab_error_map`.
    Returns ``(B, T)`` (or ``(T,)``) in [0, 1], in ``err``'s dtype.
    """
    single = err.dim() == 2
    e = err.unsqueeze(0) if single else err
    if e.dim() != 3:
        raise ValueError(f"err must have shape (B, H, W) or (H, W), got {tuple(err.shape)}")
    t = _thresholds_tensor(thresholds)
    order = torch.argsort(t)
    acc_sorted = _cumulative_share(e, t[order])
    acc = torch.empty_like(acc_sorted)
    acc[:, order.to(acc.device)] = acc_sorted
    return _unbatch(acc, single)


def auc_from_error(
    err: torch.Tensor, max_threshold: float = 150.0, steps: int = 151
) -> torch.Tensor:
    """Area under the cumulative accuracy curve of an error map, normalized to [0, 1].

    The accuracy ``acc(t)`` (share of pixels with ``err <= t``) is sampled at ``steps``
    equally spaced thresholds ``t_k = k * max_threshold / (steps - 1)``, k = 0..steps-1,
    integrated with the trapezoidal rule and divided by ``max_threshold``. Hence a
    perfect prediction scores exactly 1, and a constant error e that lies on the grid scores
    ``(max_threshold - e + dt / 2) / max_threshold`` with ``dt = max_threshold / (steps - 1)``.
    ``err``: ``(B, H, W)`` or ``(H, W)``. Returns ``(B,)`` (or 0-d), in ``err``'s dtype.
    """
    if not (max_threshold > 0 and math.isfinite(max_threshold)):
        raise ValueError(f"max_threshold must be a positive number, got {max_threshold}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    single = err.dim() == 2
    e = err.unsqueeze(0) if single else err
    if e.dim() != 3:
        raise ValueError(f"err must have shape (B, H, W) or (H, W), got {tuple(err.shape)}")
    t = torch.linspace(0.0, max_threshold, steps, dtype=torch.float64)
    acc = _cumulative_share(e, t)
    area = torch.trapezoid(acc, t.to(device=acc.device, dtype=acc.dtype), dim=1)
    return _unbatch(area / max_threshold, single)


def ab_accuracy(
    pred_rgb: torch.Tensor,
    gt_rgb: torch.Tensor,
    thresholds: Sequence[float] | torch.Tensor = AB_THRESHOLDS,
) -> torch.Tensor:
    """Share of pixels whose Euclidean ab error is ``<= t`` for each threshold t (Lab units).

    ``pred_rgb``, ``gt_rgb``: sRGB ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1].
    Returns ``(B, len(thresholds))`` (or ``(len(thresholds),)``) float64 in [0, 1].
    """
    return accuracy_from_error(ab_error_map(pred_rgb, gt_rgb), thresholds)


def ab_auc(
    pred_rgb: torch.Tensor,
    gt_rgb: torch.Tensor,
    max_threshold: float = 150.0,
    steps: int = 151,
) -> torch.Tensor:
    """AuC of the cumulative ab accuracy curve (Zhang et al. 2016, not class-rebalanced).

    Thresholds 0..``max_threshold`` Lab units in ``steps`` samples (1 unit apart by default),
    trapezoidal rule, normalized to [0, 1] (see :func:`auc_from_error`; identical images -> 1).
    ``pred_rgb``, ``gt_rgb``: sRGB ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1].
    Returns ``(B,)`` float64 in [0, 1].
    """
    return auc_from_error(ab_error_map(pred_rgb, gt_rgb), max_threshold, steps)


# --------------------------------------------------------------------------- PSNR / SSIM


def _psnr_q(q_pred: torch.Tensor, q_gt: torch.Tensor) -> torch.Tensor:
    mse = (q_pred - q_gt).square().mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(_DATA_RANGE**2 / mse)  # mse == 0 -> +inf


def psnr(pred_rgb: torch.Tensor, gt_rgb: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB on RGB quantized to 0-255, data range 255.

    The MSE is taken over all pixels and the three channels of each image (as
    ``skimage.metrics.peak_signal_noise_ratio`` on uint8 images). ``pred_rgb``, ``gt_rgb``:
    sRGB ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1] (clipped, then ``round(x * 255)``).
    Returns ``(B,)`` float64; identical quantized images give ``+inf``.
    """
    p, g, single = _as_pair(pred_rgb, gt_rgb)
    return _unbatch(_psnr_q(_quantize(p), _quantize(g)), single)


def _gaussian_taps(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    radius = int(_SSIM_TRUNCATE * _SSIM_SIGMA + 0.5)  # as scipy.ndimage: 5 -> 11 taps
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / _SSIM_SIGMA) ** 2)
    return (w / w.sum()).to(dtype=dtype, device=device)


_MID = 127.5


def _ssim_q(q_pred: torch.Tensor, q_gt: torch.Tensor) -> torch.Tensor:
    B, C, H, W = q_pred.shape
    taps = _gaussian_taps(torch.float32, q_pred.device)
    k = taps.numel()
    if min(H, W) < k:
        raise ValueError(f"SSIM needs images of at least {k}x{k} pixels, got {H}x{W}")
    # the local moments are filtered and combined in float32 (a tenth of float64's time on
    # CPUs), from values centred on mid-gray so the variances keep their precision
    # (|x| <= 127.5, not 255): SSIM within 2e-6 of float64's (tests/test_metrics.py checks
    # it against skimage's to 1e-4)
    x = (q_pred - _MID).float()
    y = (q_gt - _MID).float()
    maps = torch.cat((x, y, x * x, y * y, x * y), dim=1)
    n = maps.shape[1]
    # separable Gaussian, no padding: skimage filters with mode='reflect' and then crops
    # (k - 1) // 2 pixels on each side, which leaves exactly the pixels whose window is inside
    maps = F.conv2d(maps, taps.view(1, 1, k, 1).expand(n, 1, k, 1), groups=n)
    maps = F.conv2d(maps, taps.view(1, 1, 1, k).expand(n, 1, 1, k), groups=n)
    mx, my, mxx, myy, mxy = maps.split(C, dim=1)
    vx = mxx - mx * mx  # variances and covariance do not move with the centring
    vy = myy - my * my
    vxy = mxy - mx * my
    ux, uy = mx + _MID, my + _MID
    c1 = (_SSIM_K1 * _DATA_RANGE) ** 2
    c2 = (_SSIM_K2 * _DATA_RANGE) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    # mean over pixels, then channels (equal counts), summed in the working precision
    return s.to(q_pred.dtype).mean(dim=(1, 2, 3))


def ssim(pred_rgb: torch.Tensor, gt_rgb: torch.Tensor) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) on RGB quantized to 0-255, mean over channels.

    Gaussian window (sigma 1.5, 11x11), population covariances, K1 = 0.01, K2 = 0.03, data
    range 255; the SSIM map is averaged over the pixels at least 5 px from the border. Matches
    ``skimage.metrics.structural_similarity(gt, pred, channel_axis=-1, data_range=255,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`` on the uint8 images.
    ``pred_rgb``, ``gt_rgb``: sRGB ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1], H, W >= 11.
    Returns ``(B,)`` float64, at most 1 (1 for identical images).
    """
    p, g, single = _as_pair(pred_rgb, gt_rgb)
    return _unbatch(_ssim_q(_quantize(p), _quantize(g)), single)


# --------------------------------------------------------------------------- colorfulness


def _colorfulness_255(rgb255: torch.Tensor) -> torch.Tensor:
    r, g, b = rgb255.unbind(1)
    rg = (r - g).abs().flatten(1)
    yb = ((r + g) / 2 - b).abs().flatten(1)
    std = (rg.var(dim=1, correction=0) + yb.var(dim=1, correction=0)).sqrt()
    mean = (rg.mean(dim=1).square() + yb.mean(dim=1).square()).sqrt()
    return std + 0.3 * mean


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Colorfulness of Hasler & Suesstrunk (2003), as the colorization literature computes it.

    On RGB scaled to [0, 255] (not quantized): ``rg = |R - G|``, ``yb = |(R + G) / 2 - B|``,
    ``CF = sqrt(std_rg^2 + std_yb^2) + 0.3 * sqrt(mean_rg^2 + mean_yb^2)``, with population
    standard deviations (ddof 0, as ``np.std``) over the pixels of each image.
    ``rgb``: sRGB ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1]. Returns ``(B,)`` float64 >= 0;
    a gray image (R = G = B) gives 0. Natural photos are typically 20-60.
    """
    x, single = _as_batch(rgb, "rgb")
    return _unbatch(_colorfulness_255(x.to(_work_dtype(x)) * 255.0), single)


def colorfulness_gap(pred_cf: torch.Tensor, gt_cf: torch.Tensor) -> float:
    """dCF = ``|mean(pred_cf) - mean(gt_cf)|`` over a set of images.

    ``pred_cf``, ``gt_cf``: per-image colorfulness values (tensors, arrays or sequences, any
    length >= 1; they need not be paired). Returns a Python float >= 0.
    """
    p = np.asarray(_to_numpy(pred_cf), dtype=np.float64).reshape(-1)
    g = np.asarray(_to_numpy(gt_cf), dtype=np.float64).reshape(-1)
    if p.size == 0 or g.size == 0:
        raise ValueError("colorfulness_gap needs at least one value on each side")
    return float(abs(p.mean() - g.mean()))


# --------------------------------------------------------------------------- Frechet distance


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def frechet_distance_from_moments(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Frechet distance between Gaussians ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    ``||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 sqrtm(sigma1 @ sigma2))``, computed in float64
    with ``scipy.linalg.sqrtm`` as the reference FID code does: if the square root is not
    finite or has a non-negligible imaginary part (a near-singular product), ``eps * I`` is
    added to both covariances and it is retried; tiny imaginary parts are dropped.
    ``mu1``, ``mu2``: ``(D,)``; ``sigma1``, ``sigma2``: ``(D, D)`` (tensors or arrays).
    Returns a Python float (>= 0 up to rounding).
    """
    from scipy import linalg  # the 'eval' extra

    mu1, mu2 = _to_numpy(mu1).reshape(-1), _to_numpy(mu2).reshape(-1)
    s1, s2 = np.atleast_2d(_to_numpy(sigma1)), np.atleast_2d(_to_numpy(sigma2))
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"inconsistent shapes: mu1 {mu1.shape}, sigma1 {s1.shape}, mu2 {mu2.shape}, "
            f"sigma2 {s2.shape}"
        )
    diff = mu1 - mu2

    def _ok(m: np.ndarray) -> bool:
        if not np.isfinite(m).all():
            return False
        return not np.iscomplexobj(m) or np.allclose(np.diagonal(m).imag, 0, atol=1e-3)

    covmean = linalg.sqrtm(s1 @ s2)
    if not _ok(covmean):
        offset = np.eye(d) * eps
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
        if not _ok(covmean):
            raise ValueError(
                "matrix square root of the covariance product failed (non-finite or with a "
                f"large imaginary part: {np.max(np.abs(np.imag(covmean)))})"
            )
    covmean = np.real(covmean)
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def frechet_distance(feats_a, feats_b, eps: float = 1e-6) -> float:
    """Frechet distance between two sets of feature vectors (e.g. FID on Inception features).

    ``feats_a``: ``(N, D)``, ``feats_b``: ``(M, D)``, tensors or arrays, N, M >= 2. Means and
    sample covariances (ddof 1, as ``np.cov``) are taken in float64, then
    :func:`frechet_distance_from_moments`. Returns a Python float.
    """
    a, b = _to_numpy(feats_a), _to_numpy(feats_b)
    for name, f in (("feats_a", a), ("feats_b", b)):
        if f.ndim != 2 or f.shape[0] < 2:
            raise ValueError(f"{name} must have shape (N, D) with N >= 2, got {f.shape}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} and {b.shape[1]}")
    return frechet_distance_from_moments(
        a.mean(axis=0), np.cov(a, rowvar=False), b.mean(axis=0), np.cov(b, rowvar=False), eps
    )


# --------------------------------------------------------------------------- aggregation


class RunningStats:
    """Mean and standard deviation of per-image metric values, in constant memory.

    For each metric name it keeps the count, mean and sum of squared deviations in float64,
    merged batch by batch with Chan et al.'s update (numerically stable, equal to summing values
    and squares). Non-finite values (e.g. PSNR = inf for a perfect image) propagate as in numpy:
    any NaN, or both +inf and -inf, make the mean NaN; otherwise an infinity makes it +-inf;
    any non-finite value makes the std NaN.

    >>> stats = RunningStats()
    >>> stats.update("psnr", torch.tensor([20.0, 22.0]))
    >>> stats.mean("psnr"), stats.std("psnr")
    (21.0, 1.0)
    """

    def __init__(self) -> None:
        # name -> [count, mean, m2, n_nan, n_posinf, n_neginf] over the finite values
        self._acc: dict[str, list[float]] = {}

    def update(self, name: str, values) -> None:
        """Adds values (a scalar, sequence, array or tensor of any shape, flattened)."""
        v = _to_numpy(values).reshape(-1)
        acc = self._acc.setdefault(name, [0, 0.0, 0.0, 0, 0, 0])
        acc[3] += int(np.isnan(v).sum())
        acc[4] += int(np.isposinf(v).sum())
        acc[5] += int(np.isneginf(v).sum())
        v = v[np.isfinite(v)]
        if v.size == 0:
            return
        n_a, mean_a, m2_a = acc[0], acc[1], acc[2]
        n_b, mean_b = v.size, float(v.mean())
        m2_b = float(((v - mean_b) ** 2).sum())
        n = n_a + n_b
        delta = mean_b - mean_a
        acc[0] = n
        acc[1] = mean_a + delta * n_b / n
        acc[2] = m2_a + m2_b + delta * delta * n_a * n_b / n

    def _get(self, name: str) -> list[float]:
        if name not in self._acc:
            raise KeyError(f"no values recorded for {name!r}; have {sorted(self._acc)}")
        return self._acc[name]

    def names(self) -> list[str]:
        """Metric names in the order they were first updated."""
        return list(self._acc)

    def count(self, name: str) -> int:
        """Number of values recorded for ``name`` (finite or not)."""
        n, _, _, n_nan, n_pos, n_neg = self._get(name)
        return int(n + n_nan + n_pos + n_neg)

    def mean(self, name: str) -> float:
        """Mean of the values recorded for ``name`` (NaN if there are none)."""
        n, mean, _, n_nan, n_pos, n_neg = self._get(name)
        if n_nan or (n_pos and n_neg) or self.count(name) == 0:
            return math.nan
        if n_pos:
            return math.inf
        if n_neg:
            return -math.inf
        return float(mean)

    def std(self, name: str, ddof: int = 0) -> float:
        """Standard deviation (``ddof=0``: population, as ``np.std``; NaN if undefined)."""
        n, _, m2, n_nan, n_pos, n_neg = self._get(name)
        if n_nan or n_pos or n_neg or n - ddof <= 0:
            return math.nan
        return math.sqrt(max(m2, 0.0) / (n - ddof))

    def as_dict(self) -> dict[str, dict[str, float]]:
        """``{name: {"mean": float, "std": float, "count": int}}`` for every metric."""
        return {
            k: {"mean": self.mean(k), "std": self.std(k), "count": self.count(k)} for k in self._acc
        }


class FeatureMoments:
    """Running mean and covariance of feature vectors in float64, in O(D^2) memory.

    Feed batches ``(N, D)`` with :meth:`update`; :meth:`mean` and :meth:`cov` (sample
    covariance, ddof 1, as ``np.cov``) then equal those of all rows stacked, so a Frechet
    distance over many images never holds all features. Batches are merged with Chan et al.'s
    parallel update (mean and sum of centred outer products), which is the sum / outer-product
    sum bookkeeping without its cancellation. Accumulates on the device of the first batch
    (CPU for devices without float64).
    """

    def __init__(self) -> None:
        self.count = 0
        self._mean: torch.Tensor | None = None
        self._m2: torch.Tensor | None = None

    def update(self, feats) -> None:
        """Adds a batch of feature vectors ``(N, D)`` (tensor or array, any float dtype)."""
        if isinstance(feats, torch.Tensor):
            f = feats.detach()
            if f.device.type == "mps":
                f = f.cpu()
            f = f.to(torch.float64)
        else:
            f = torch.as_tensor(np.asarray(feats, dtype=np.float64))
        if f.dim() != 2:
            raise ValueError(f"feats must have shape (N, D), got {tuple(f.shape)}")
        if self._mean is not None:
            if f.shape[1] != self._mean.shape[0]:
                raise ValueError(
                    f"feature dimension {f.shape[1]} differs from earlier {self._mean.shape[0]}"
                )
            f = f.to(self._mean.device)
        n_b = f.shape[0]
        if n_b == 0:
            return
        mean_b = f.mean(dim=0)
        centred = f - mean_b
        m2_b = centred.T @ centred
        if self._mean is None:
            self._mean, self._m2, self.count = mean_b, m2_b, n_b
            return
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._m2 = self._m2 + m2_b + torch.outer(delta, delta) * (n_a * n_b / n)
        self.count = n

    def mean(self) -> torch.Tensor:
        """Mean feature vector ``(D,)`` float64."""
        if self._mean is None:
            raise ValueError("no features recorded")
        return self._mean.clone()

    def cov(self) -> torch.Tensor:
        """Sample covariance ``(D, D)`` float64 (ddof 1); needs at least 2 vectors."""
        if self._m2 is None or self.count < 2:
            raise ValueError(f"covariance needs at least 2 feature vectors, have {self.count}")
        return self._m2 / (self.count - 1)

    def frechet_distance(self, other: FeatureMoments, eps: float = 1e-6) -> float:
        """Frechet distance between these moments and ``other``'s."""
        return frechet_distance_from_moments(
            self.mean(), self.cov(), other.mean(), other.cov(), eps
        )


# --------------------------------------------------------------------------- all at once


@dataclass(frozen=True)
class TruthTerms:
    """What the per-image metrics need of the ground truth, computed once per photo and
    reused for every model compared on it (a decode sweep compares 25): ab ``(B, 2, H, W)``,
    the 0-255 quantized image ``(B, 3, H, W)`` and the colorfulness ``(B,)``, in the
    working dtype. Make it with :func:`truth_terms`."""

    rgb: torch.Tensor
    ab: torch.Tensor
    quantized: torch.Tensor
    colorfulness: torch.Tensor


def truth_terms(gt_rgb: torch.Tensor) -> TruthTerms:
    """The ground-truth side of :func:`compute_image_metrics` for sRGB ``(B, 3, H, W)`` or
    ``(3, H, W)`` in [0, 1]."""
    g, _ = _as_batch(gt_rgb, "gt_rgb")
    return TruthTerms(g, _ab(g), _quantize(g), _colorfulness_255(g.to(_work_dtype(g)) * 255.0))


def compute_image_metrics(pred_rgb: torch.Tensor, gt_rgb: torch.Tensor | TruthTerms
                          ) -> dict[str, torch.Tensor]:
    """All per-image metrics of a batch, converting to Lab and to 0-255 once.

    ``pred_rgb``, ``gt_rgb``: sRGB ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1], H, W >= 11;
    ``gt_rgb`` may be its :func:`truth_terms` (the same numbers, without redoing the truth's
    share of the work for each model).
    Returns a dict of ``(B,)`` float64 tensors (0-d for one image), on the input's device:
    ``ab_mse``, ``ab_rmse`` (Lab units), ``acc_2.5``, ``acc_5``, ``acc_10``, ``acc_20`` (share of
    pixels within that ab distance), ``auc`` (in [0, 1]), ``psnr`` (dB, +inf if identical),
    ``ssim``, ``cf_pred``, ``cf_gt`` (colorfulness of prediction and ground truth).
    """
    truth = gt_rgb if isinstance(gt_rgb, TruthTerms) else truth_terms(gt_rgb)
    p, _, single = _as_pair(pred_rgb, truth.rgb)
    err = _ab_error(_ab(p), truth.ab)
    mse = _ab_mse_from_error(err)
    out: dict[str, torch.Tensor] = {"ab_mse": mse, "ab_rmse": mse.sqrt()}
    acc = accuracy_from_error(err, AB_THRESHOLDS)
    for i, t in enumerate(AB_THRESHOLDS):
        out[f"acc_{t:g}"] = acc[:, i]
    out["auc"] = auc_from_error(err)
    qp = _quantize(p)
    out["psnr"] = _psnr_q(qp, truth.quantized)
    out["ssim"] = _ssim_q(qp, truth.quantized)
    out["cf_pred"] = _colorfulness_255(p.to(_work_dtype(p)) * 255.0)
    out["cf_gt"] = truth.colorfulness
    return {k: _unbatch(v, single) for k, v in out.items()}
