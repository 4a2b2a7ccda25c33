"""Input levels: a faded scan's lightness stretched to the full range before the network sees it.

A scanned print rarely spans L* 0-100: its blacks are lifted and its whites dulled by fading,
toning and the scan. The network was trained with such damage on part of its inputs
(:mod:`tinct.train.degrade`), yet it still colours a faded copy of a photo worse than the photo
itself, and the fade is most of the difference: on the damaged copy of `everyday` the drop in
PSNR gain over gray was 1.06 dB for the half with the strongest fade and 0.44 dB for the other
half. Mapping each image's dark and light ends to 0 and 100 before the network runs (the "auto
levels" of photo editors) gives it back the input it knows best: on the validation photos'
damaged copy, +0.40 dB (21.70 -> 22.10) for v3's second run, and +0.02 dB on the clean photos
(docs/v3.md, session 35). How much it helps depends on the network: the shipped v3 gains
0.13 dB on the validation photos' damaged copy and 0.01 dB on a second held-out folder's, and
loses 0.10-0.34 dB on their clean photos, so it ships with levels off (session 52). Only the
network's input changes: the output keeps the photo's own lightness, so the result is never
brighter or darker than the scan.

A clean photo already spans nearly the whole range, so the stretch barely changes it; a photo
that is dark or misty by nature is stretched at most ``100 / min_span`` times.
"""

from __future__ import annotations

import torch

#: quantiles mapped to L* 0 and 100: a few specks of dust or a scratch do not set the levels
LOW_QUANTILE = 0.005
HIGH_QUANTILE = 0.995
#: the narrowest range that is stretched to the full one (at most 100 / 50 = 2x)
MIN_SPAN = 50.0
#: pixels per image the quantiles are estimated from (an evenly spaced subset beyond this)
QUANTILE_PIXELS = 1 << 16


def stretch_levels(L: torch.Tensor, low: float = LOW_QUANTILE, high: float = HIGH_QUANTILE,
                   min_span: float = MIN_SPAN) -> torch.Tensor:
    """Each image's lightness mapped linearly so its ``low`` and ``high`` quantiles become 0
    and 100.

    ``L``: ``(B, 1, H, W)`` L* in [0, 100] (any float dtype and device). The span between the
    two quantiles counts as at least ``min_span`` (in L* units), and a span widened that way
    keeps its dark end where the image allows it. Returns a new ``(B, 1, H, W)`` tensor in
    [0, 100] of ``L``'s dtype. Deterministic; an image already spanning the range is returned
    nearly unchanged.
    """
    if L.dim() != 4 or L.shape[1] != 1:
        raise ValueError(f"L must be (B, 1, H, W), got {tuple(L.shape)}")
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"need 0 <= low < high <= 1, got {low}, {high}")
    if not 0.0 < min_span <= 100.0:
        raise ValueError(f"min_span must be in (0, 100], got {min_span}")
    flat = L.detach().flatten(1).float()
    if flat.shape[1] > QUANTILE_PIXELS:
        step = flat.shape[1] // QUANTILE_PIXELS
        flat = flat[:, ::step]
    q = torch.quantile(flat, torch.tensor([low, high], device=flat.device), dim=1)
    lo, hi = q[0], q[1]
    span = (hi - lo).clamp(min=min_span)
    lo = torch.minimum(lo, 100.0 - span)
    lo, span = lo.view(-1, 1, 1, 1), span.view(-1, 1, 1, 1)
    return ((L.float() - lo) * (100.0 / span)).clamp(0.0, 100.0).to(L.dtype)
