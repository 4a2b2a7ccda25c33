"""Colour hints from people: "her dress was blue" as ``{"x": 120, "y": 80, "color": "#2050c0"}``.

A hint names a pixel of the input as displayed (after EXIF orientation; ``x`` from the left,
``y`` from the top, in pixels) and the colour it should have. Only the colour's chroma is used:
the photo's own lightness is kept, so ``#2050c0`` on a light dress gives a light blue.

- :func:`parse_hints` / :func:`read_hints_file`: JSON -> :class:`Hint` list, with one-line
  errors naming the source and the entry;
- :func:`hint_map`: hints -> the network's hint input at the working size
  (:mod:`tinct.models.hints`);
- :func:`honour_hints`: after decoding, a smooth correction so the hinted pixels get exactly
  their colour once the chroma is upsampled to full resolution (the network spreads a hint
  over its region; this makes the hinted pixel itself exact);
- :func:`gamut_notes`: which hints cannot be shown at their pixel's lightness, and what they
  become there;
- :func:`suggest_colors`: the few most likely distinct colours of a colour classifier at a
  pixel (Zhang et al. 2017's palette suggestions).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from tinct import color
from tinct.errors import InputError
from tinct.inference.propagation import spread_corrections
from tinct.models.hints import empty_hints, put_hint

MAX_HINTS = 256
MAX_HINT_FILE_BYTES = 1 << 20
HINT_PATCH = 3            # side of the square a hint covers in the network's input, px
# how far the exact-at-the-pixel correction spreads (honour_hints): a share of the longer side,
# and the lightness difference (L*) at which it fades; chosen on validation photos (docs/hints.md)
SPREAD_WIDTH = 0.015
SPREAD_LIGHTNESS = 10.0
# the edge-aware spread of a hint over its region (chosen on validation photos, docs/hints.md)
BUMPS_AT_ONCE = 16        # hints whose bump maps are held in memory together
REGION_REACH = 1.0       # share of the longer side over which a hint's correction fades
REGION_LIGHTNESS = 4.0   # L* difference between neighbours at which the spread weakens
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class Hint:
    """One colour hint: pixel (``x``, ``y``) of the displayed input, colour ``#rrggbb``."""

    x: float
    y: float
    color: str

    @property
    def pixel(self) -> tuple[int, int]:
        """(row, column) of the hinted pixel."""
        return int(self.y), int(self.x)

    def rgb(self) -> torch.Tensor:
        """The colour as sRGB ``(3,)`` in [0, 1]."""
        return torch.tensor([int(self.color[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0

    def chroma(self, space: str = "lab") -> torch.Tensor:
        """The colour's chroma ``(2,)`` (ab or uv, colour-space units)."""
        _, chroma = color.to_lightness_chroma(self.rgb().view(1, 3, 1, 1), space)
        return chroma.view(2)


def parse_hints(entries: object, source: str) -> list[Hint]:
    """A JSON value (a list of ``{"x", "y", "color"}`` objects) -> hints. Raises
    ``InputError`` naming ``source`` and the entry (1-based) for anything else: not a list,
    more than 256 entries, missing or extra keys, coordinates that are not numbers >= 0,
    colours that are not ``#rrggbb``."""
    if not isinstance(entries, list):
        raise InputError(f"{source}: hints must be a JSON list of {{\"x\", \"y\", \"color\"}} "
                         f"objects, got {type(entries).__name__}")
    if len(entries) > MAX_HINTS:
        raise InputError(f"{source}: {len(entries)} hints; at most {MAX_HINTS}")
    hints = []
    for i, entry in enumerate(entries, 1):
        where = f"{source}: hint {i}"
        if not isinstance(entry, dict) or set(entry) != {"x", "y", "color"}:
            keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise InputError(f"{where}: expected an object with x, y and color, got {keys}")
        for axis in ("x", "y"):
            value = entry[axis]
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not math.isfinite(value) or value < 0):
                raise InputError(f"{where}: {axis} must be a number of pixels >= 0, got "
                                 f"{value!r}")
        if not isinstance(entry["color"], str) or not _HEX.fullmatch(entry["color"]):
            raise InputError(f"{where}: color must be #rrggbb, got {entry['color']!r}")
        hints.append(Hint(float(entry["x"]), float(entry["y"]), entry["color"].lower()))
    return hints


def read_hints_file(path: str | os.PathLike) -> list[Hint]:
    """A JSON hint file -> hints; ``InputError`` naming the file for an unreadable,
    oversized (> 1 MiB) or malformed one."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_HINT_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read hints ({exc.strerror or exc})") from None
    if len(raw) > MAX_HINT_FILE_BYTES:
        raise InputError(f"{path}: hint file larger than 1 MiB")
    try:
        entries = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON hint file ({exc})") from None
    return parse_hints(entries, str(path))


def check_inside(hints: Sequence[Hint], width: int, height: int, source: str) -> None:
    """Raises ``InputError`` for the first hint outside a ``width`` x ``height`` image."""
    for i, hint in enumerate(hints, 1):
        if not (hint.x < width and hint.y < height):
            raise InputError(f"{source}: hint {i} at x={hint.x:g}, y={hint.y:g} is outside the "
                             f"{width}x{height} image")


def hint_map(hints: Sequence[Hint], full_shape: tuple[int, int], work_shape: tuple[int, int],
             space: str, chroma_scale: float) -> torch.Tensor:
    """Hints on a ``full_shape`` (H, W) image -> the network's hint input ``(3, h, w)`` at
    ``work_shape`` (h, w): each hint a ``HINT_PATCH``-pixel square of its chroma in network
    units, mask 1 (later hints win where squares overlap)."""
    (H, W), (h, w) = full_shape, work_shape
    planes = empty_hints(1, h, w)
    for hint in hints:
        row, col = hint.pixel
        put_hint(planes, 0, min(h - 1, int((row + 0.5) * h / H)),
                 min(w - 1, int((col + 0.5) * w / W)), hint.chroma(space) / chroma_scale,
                 HINT_PATCH)
    return planes[0]


def _source_position(index: float, size_in: int, size_out: int) -> float:
    """Where full-resolution sample ``index`` (of ``size_out``) falls on a grid of
    ``size_in`` samples, as bilinear upsampling (``align_corners=False``) sees it."""
    return min(max((index + 0.5) * size_in / size_out - 0.5, 0.0), size_in - 1.0)


def _taps(position: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    first = position.floor().long()
    return first, (first + 1).clamp(max=size - 1), position - first


def honour_hints(chroma: torch.Tensor, hints: Sequence[Hint], full_shape: tuple[int, int],
                 space: str, width_share: float = SPREAD_WIDTH,
                 guide: torch.Tensor | None = None,
                 lightness_width: float = SPREAD_LIGHTNESS,
                 reach_share: float = REGION_REACH,
                 region_lightness: float = REGION_LIGHTNESS) -> torch.Tensor:
    """Corrects ``chroma`` ``(2, h, w)`` (colour-space units, the chroma that rendering
    upsamples bilinearly to ``full_shape``) so that each hinted full-resolution pixel gets its
    hint's chroma exactly, and nearby pixels of about the same lightness follow.

    The correction is a sum of bumps, one per hint, whose heights solve the small linear system
    that makes the upsampled value at every hinted pixel equal its hint. A bump is a Gaussian
    of the distance (standard deviation ``width_share`` of the longer side, at least one
    pixel) times, with a ``guide`` (L* ``(h, w)`` at the chroma's resolution), a Gaussian of the
    lightness difference from the hinted place (standard deviation ``lightness_width`` L*), so
    a hint spreads over its region and stops at edges, as in colorization by optimization
    (Levin et al. 2004). Far from the hints nothing changes. Two hints a few pixels apart with
    different colours are met as nearly as they can be (a least-squares compromise).

    With a ``guide``, and ``reach_share`` > 0, the difference between each hint and the
    network's chroma is first spread over the hint's region by an edge-aware solve
    (:func:`tinct.inference.propagation.spread_corrections`: along similar lightness,
    ``region_lightness`` L*, fading over ``reach_share`` of the longer side), so a hint on a
    dress recolours the dress; the bumps above then make the hinted pixels exact. Returns the
    corrected chroma.
    """
    if not hints:
        return chroma
    (H, W), (h, w) = full_shape, chroma.shape[-2:]
    rows = torch.tensor([_source_position(hint.pixel[0], h, H) for hint in hints])
    cols = torch.tensor([_source_position(hint.pixel[1], w, W) for hint in hints])
    sigma = max(1.0, width_share * max(h, w))
    grid_rows = torch.arange(h, dtype=torch.float32)
    grid_cols = torch.arange(w, dtype=torch.float32)
    r0, r1, wr = _taps(rows, h)
    c0, c1, wc = _taps(cols, w)

    def at_hints(maps: torch.Tensor) -> torch.Tensor:  # (C, h, w) -> (C, K), bilinear
        return (maps[:, r0, c0] * ((1 - wr) * (1 - wc)) + maps[:, r0, c1] * ((1 - wr) * wc)
                + maps[:, r1, c0] * (wr * (1 - wc)) + maps[:, r1, c1] * (wr * wc))

    chroma = chroma.float()
    target = torch.stack([hint.chroma(space) for hint in hints], 1)  # (2, K)
    centre = None
    if guide is not None:
        guide = guide.float().reshape(h, w)
        if reach_share > 0:
            chroma = chroma + spread_corrections(target - at_hints(chroma), rows, cols, guide,
                                                 region_lightness, reach_share * max(h, w))
        centre = at_hints(guide[None])[0]  # (K,) the lightness at each hinted place

    def bumps(part: slice) -> torch.Tensor:  # the bumps of hints ``part``: (k, h, w)
        maps = (torch.exp(-(grid_rows[None] - rows[part, None]) ** 2 / (2 * sigma**2))[:, :, None]
                * torch.exp(-(grid_cols[None] - cols[part, None]) ** 2 / (2 * sigma**2))[:, None])
        if centre is not None:
            maps = maps * torch.exp(-(guide[None] - centre[part, None, None]) ** 2
                                    / (2 * lightness_width**2))
        return maps

    # a few hints' maps at a time: 256 hints at a large working size would be gigabytes
    parts = [slice(i, i + BUMPS_AT_ONCE) for i in range(0, len(hints), BUMPS_AT_ONCE)]
    system = torch.cat([at_hints(bumps(part)) for part in parts]).T  # [i, j]: bump j at hint i
    ridge = 1e-4 * torch.eye(len(hints))
    heights = torch.linalg.solve(system.T @ system + ridge,
                                 system.T @ (target - at_hints(chroma)).T)  # (K, 2)
    for part in parts:
        chroma = chroma + torch.einsum("khw,kc->chw", bumps(part), heights[part])
    return chroma


def gamut_notes(hints: Sequence[Hint], lightness: np.ndarray | torch.Tensor, space: str
                ) -> list[str]:
    """For each hint whose colour cannot be shown at its pixel's lightness (``lightness``
    ``(H, W)`` or ``(1, H, W)`` L*): a line saying what it becomes there (the colour rendering
    gives it: pulled towards the gray of that lightness)."""
    from tinct.inference.render import merge_to_srgb

    L = np.asarray(lightness, dtype=np.float32).reshape(np.shape(lightness)[-2:])
    notes = []
    for i, hint in enumerate(hints, 1):
        row, col = hint.pixel
        wanted = hint.chroma(space)
        shown = merge_to_srgb(L[row:row + 1, col:col + 1], wanted.view(2, 1, 1), space,
                              np.float32)
        _, got = color.to_lightness_chroma(torch.from_numpy(shown).permute(2, 0, 1)[None],
                                           space)
        if float((got.view(2) - wanted).norm()) > 3:
            notes.append(f"hint {i} ({hint.color}) is out of gamut at the lightness of its pixel "
                         f"(L* {L[row, col]:.0f}); it becomes {to_hex(shown[0, 0])} there")
    return notes


def to_hex(rgb: np.ndarray | torch.Tensor) -> str:
    """sRGB ``(3,)`` in [0, 1] -> ``#rrggbb``."""
    values = np.clip(np.round(np.asarray(rgb, dtype=np.float64) * 255), 0, 255).astype(int)
    return "#" + "".join(f"{v:02x}" for v in values)


def suggest_colors(probabilities: torch.Tensor, centres: torch.Tensor, lightness: float,
                   space: str, count: int = 6, min_distance: float = 12.0,
                   min_probability: float = 0.01) -> list[dict]:
    """The most likely distinct colours of a colour distribution, as a user would pick them.

    ``probabilities``: ``(Q,)`` over the bins ``centres`` ``(Q, 2)`` (colour-space units) at
    one place; ``lightness``: that pixel's L*. Bins are taken from the most likely down, each
    at least ``min_distance`` from those taken, up to ``count`` with probability at least
    ``min_probability`` (the first always). Returns ``[{"color": "#rrggbb", "probability": p}]``
    where the colour is the bin shown at the pixel's lightness (in gamut) and ``p`` the summed
    probability of the bins nearer to it than to any other suggestion (the ``p`` add up to 1).
    """
    from tinct.inference.render import merge_to_srgb

    order = probabilities.argsort(descending=True)
    chosen: list[int] = []
    for q in order.tolist():
        if len(chosen) == count or (chosen and probabilities[q] < min_probability):
            break
        if all(float((centres[q] - centres[c]).norm()) >= min_distance for c in chosen):
            chosen.append(q)
    picked = centres[chosen]  # (S, 2)
    nearest = torch.cdist(centres.float(), picked.float()).argmin(1)
    mass = torch.zeros(len(chosen)).index_add_(0, nearest, probabilities.float())
    L = np.full((1, len(chosen)), lightness, dtype=np.float32)
    rgb = merge_to_srgb(L, picked.T.reshape(2, 1, -1).float(), space, np.float32)[0]
    return [{"color": to_hex(rgb[i]), "probability": round(float(mass[i]), 4)}
            for i in range(len(chosen))]
