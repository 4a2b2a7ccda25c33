"""The colour-hint input of hint-taking networks (Zhang et al. 2017, "Real-Time User-Guided
Image Colorization with Learned Deep Priors").

A hint map is ``(B, 3, H, W)`` at the network's input resolution: channels 0-1 hold chroma in
network units (colour-space units / ``chroma_scale``, about [-1, 1]) where a hint is, 0
elsewhere; channel 2 is the mask, 1 where a hint is and 0 elsewhere (so a gray hint, chroma 0,
is told apart from no hint). An all-zero map means "no hints", and a hint-taking network given
it computes exactly what the automatic network it started from computes (its hint weights
start at zero).

:func:`sample_true_hints` draws hints from the true colours, for training and for measuring
quality against the number of hints.
"""

from __future__ import annotations

import math

import torch

HINT_CHANNELS = 3


def empty_hints(batch: int, height: int, width: int, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The hint map of no hints, ``(batch, 3, height, width)`` zeros."""
    return torch.zeros(batch, HINT_CHANNELS, height, width, device=device, dtype=dtype)


def check_hint_map(hints: torch.Tensor, x: torch.Tensor) -> None:
    """Raises ``ValueError`` unless ``hints`` is ``(B, 3, H, W)`` for the lightness batch
    ``x`` ``(B, 1, H, W)``."""
    expected = (x.shape[0], HINT_CHANNELS, *x.shape[-2:])
    if tuple(hints.shape) != expected:
        raise ValueError(f"expected a hint map of shape {expected}, got {tuple(hints.shape)}")


def put_hint(hints: torch.Tensor, index: int, row: int, col: int, chroma: torch.Tensor,
             patch: int = 1) -> None:
    """Writes one hint into ``hints`` ``(B, 3, H, W)`` in place: image ``index``, a square of
    ``patch`` pixels centred on (``row``, ``col``) (clipped at the borders) gets ``chroma``
    ``(2,)`` in network units and mask 1."""
    H, W = hints.shape[-2:]
    top, left = row - (patch - 1) // 2, col - (patch - 1) // 2
    bottom, right = min(H, top + patch), min(W, left + patch)
    top, left = max(0, top), max(0, left)
    hints[index, :2, top:bottom, left:right] = chroma.to(hints.dtype).view(2, 1, 1)
    hints[index, 2, top:bottom, left:right] = 1


def sample_true_hints(chroma: torch.Tensor, share: float, mean_count: float,
                      max_patch: int = 5, generator: torch.Generator | None = None
                      ) -> torch.Tensor:
    """Hints drawn from the true colours, as Zhang et al. 2017 trained with them.

    ``chroma``: true chroma ``(B, 2, H, W)`` in network units. Each image gets hints with
    probability ``share``; their count is geometric with mean ``mean_count`` (at least 1);
    each hint is a square patch of 1..``max_patch`` pixels at a uniformly random place, holding
    the patch's mean true chroma. Returns the hint map ``(B, 3, H, W)`` on ``chroma``'s device.
    Randomness comes from ``generator`` (CPU; default: torch's global generator).
    """
    B, _, H, W = chroma.shape
    hints = empty_hints(B, H, W, chroma.device, chroma.dtype)
    if share <= 0 or mean_count <= 0:
        return hints
    hinted = torch.rand(B, generator=generator) < share
    # geometric on {1, 2, ...} with mean m: success probability 1 / m
    p = min(1.0, 1.0 / mean_count)
    u = torch.rand(B, generator=generator).clamp(min=1e-12)
    geometric = 1 + (u.log() / math.log1p(-p)).floor().long() if p < 1 else torch.ones(B).long()
    counts = torch.where(hinted, geometric, 0)
    for b in range(B):
        n = int(counts[b])
        if not n:
            continue
        sizes = torch.randint(1, max_patch + 1, (n,), generator=generator)
        rows = torch.randint(0, H, (n,), generator=generator)
        cols = torch.randint(0, W, (n,), generator=generator)
        for s, r, c in zip(sizes.tolist(), rows.tolist(), cols.tolist(), strict=True):
            top, left = r - (s - 1) // 2, c - (s - 1) // 2
            patch = chroma[b, :, max(0, top):top + s, max(0, left):left + s]
            put_hint(hints, b, r, c, patch.mean(dim=(1, 2)), s)
    return hints
