"""Old-print damage applied to lightness: what a scanned photograph looks like to the network.

A historian's input is rarely clean lightness. A scanned print has faded blacks and dull
whites, a tone curve from the toning (sepia, selenium) and the scan, film grain, softness from
the lens, the enlarger and the scan, scratches, dust, and often JPEG damage from an earlier
save. :func:`degrade_lightness` applies a random mix of these to a lightness image; training
uses it on the network's input (the target stays the clean colour) and
``scripts/degrade_eval.py`` writes fixed, seeded copies of the eval sets.

Sizes (blur radius, grain size, scratch width, dust) are given for a 256-px short side and
scaled with the image, so the same seed damages a 160-px crop and a 768-px photo alike.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


@dataclass(frozen=True)
class DamageRanges:
    """How strong each kind of damage can get, and how often each is applied."""

    fade_black: tuple[float, float] = (0.0, 22.0)    # L* the blacks are lifted to
    fade_white: tuple[float, float] = (80.0, 100.0)  # L* the whites are pulled down to
    gamma: tuple[float, float] = (0.75, 1.35)        # tone curve exponent (toning, scanning)
    p_blur: float = 0.5
    blur_sigma: tuple[float, float] = (0.3, 1.6)     # px at a 256-px short side
    p_grain: float = 0.6
    grain_std: tuple[float, float] = (1.0, 7.0)      # L* units
    grain_size: tuple[float, float] = (0.0, 1.0)     # blur of the grain, px at 256
    p_scratches: float = 0.3
    scratches: tuple[int, int] = (1, 4)
    p_dust: float = 0.35
    dust: tuple[int, int] = (3, 40)
    p_jpeg: float = 0.35
    jpeg_quality: tuple[int, int] = (15, 70)


DEFAULT_RANGES = DamageRanges()


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(1, H, W)`` with reflect padding (``sigma`` in px)."""
    if sigma < 0.15:
        return x
    radius = max(1, min(int(math.ceil(3 * sigma)), min(x.shape[-2:]) - 1))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    y = x.unsqueeze(0)
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1))
    return y.squeeze(0)


def _scratches(L: torch.Tensor, rng: np.random.Generator, count: int, scale: float
               ) -> torch.Tensor:
    """Thin, long, nearly vertical bright or dark lines (emulsion scratches)."""
    _, H, W = L.shape
    yy = torch.arange(H, dtype=L.dtype).view(H, 1)
    xx = torch.arange(W, dtype=L.dtype).view(1, W)
    for _ in range(count):
        x0 = rng.uniform(0, W)
        slope = rng.uniform(-0.15, 0.15)
        width = rng.uniform(0.4, 1.2) * scale
        y_start, y_end = sorted(rng.uniform(0, H, size=2))
        if y_end - y_start < 0.3 * H:
            y_start, y_end = 0.0, float(H)
        dist = (xx - (x0 + slope * (yy - y_start))).abs()
        line = torch.clamp(1 - dist / max(width, 0.5), min=0)
        line = line * ((yy >= y_start) & (yy <= y_end)).to(L.dtype)
        target = 100.0 if rng.random() < 0.7 else 5.0
        strength = rng.uniform(0.4, 0.9)
        L = L + (target - L) * line * strength
    return L


def _dust(L: torch.Tensor, rng: np.random.Generator, count: int, scale: float) -> torch.Tensor:
    """Small round specks, mostly white (dust on the negative), some dark (on the print).

    Each speck changes only the pixels within its radius, so only its bounding box is
    computed (the same values as over the whole image, a tenth of the time)."""
    _, H, W = L.shape
    L = L.clone()
    for _ in range(count):
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
        r = rng.uniform(0.5, 2.5) * scale
        target = 100.0 if rng.random() < 0.75 else 0.0
        strength = rng.uniform(0.5, 1.0)
        x0, x1 = max(0, math.floor(cx - r)), min(W, math.ceil(cx + r) + 1)
        y0, y1 = max(0, math.floor(cy - r)), min(H, math.ceil(cy + r) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        xx = torch.arange(x0, x1, dtype=L.dtype).view(1, -1)
        yy = torch.arange(y0, y1, dtype=L.dtype).view(-1, 1)
        spot = torch.clamp(1 - ((xx - cx) ** 2 + (yy - cy) ** 2).sqrt() / r, min=0) ** 0.5
        box = L[:, y0:y1, x0:x1]
        L[:, y0:y1, x0:x1] = box + (target - box) * spot * strength
    return L


def _jpeg(L: torch.Tensor, quality: int) -> torch.Tensor:
    """Round trip through an 8-bit grayscale JPEG at ``quality``."""
    gray = (L[0] * 2.55).round().clamp(0, 255).to(torch.uint8).numpy()
    buf = io.BytesIO()
    Image.fromarray(gray, "L").save(buf, "JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        back = np.asarray(im, dtype=np.float32)
    return torch.from_numpy(back / 2.55).unsqueeze(0).to(L.dtype)


def degrade_lightness(L: torch.Tensor, rng: np.random.Generator,
                      ranges: DamageRanges = DEFAULT_RANGES) -> torch.Tensor:
    """A damaged copy of lightness ``L`` ``(1, H, W)``, L* in [0, 100] (float32).

    Always applies a fade and a tone curve; blur, grain, scratches, dust and JPEG damage each
    with their probability in ``ranges``. Deterministic in the state of ``rng``. Returns
    ``(1, H, W)`` in [0, 100].
    """
    if L.dim() != 3 or L.shape[0] != 1:
        raise ValueError(f"L must be (1, H, W), got {tuple(L.shape)}")
    r = ranges
    scale = min(L.shape[-2:]) / 256.0
    L = L.float()
    black, white = rng.uniform(*r.fade_black), rng.uniform(*r.fade_white)
    gamma = rng.uniform(*r.gamma)
    L = black + (white - black) * (L.clamp(0, 100) / 100.0) ** gamma
    if rng.random() < r.p_blur:
        L = _gaussian_blur(L, rng.uniform(*r.blur_sigma) * scale)
    if rng.random() < r.p_grain:
        noise = torch.from_numpy(rng.standard_normal(L.shape).astype(np.float32))
        size = rng.uniform(*r.grain_size) * scale
        if size >= 0.15:
            noise = _gaussian_blur(noise, size)
            noise = noise / noise.std().clamp(min=1e-6)
        L = L + noise * rng.uniform(*r.grain_std)
    if rng.random() < r.p_scratches:
        L = _scratches(L, rng, int(rng.integers(r.scratches[0], r.scratches[1] + 1)), scale)
    if rng.random() < r.p_dust:
        L = _dust(L, rng, int(rng.integers(r.dust[0], r.dust[1] + 1)), scale)
    L = L.clamp(0, 100)
    if rng.random() < r.p_jpeg:
        L = _jpeg(L, int(rng.integers(r.jpeg_quality[0], r.jpeg_quality[1] + 1)))
    return L.clamp(0, 100)
