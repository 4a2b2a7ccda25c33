"""Full-resolution rendering: lightness of the input pixels, and lightness + chroma -> sRGB.

These are the per-pixel steps around the network, and on a 12-megapixel photo they cost more
than the network itself. Both run in fused, multi-threaded expressions (numexpr: no
full-size temporaries) on bands of rows, so memory stays at a few bytes per pixel:

- :func:`lightness_of_pixels`: 8- or 16-bit sRGB ``(H, W, 3)`` -> L* ``(H, W)`` float32 in
  [0, 100], via per-channel lookup tables of linear-light luminance;
- :func:`merge_to_srgb`: L* ``(H, W)`` plus chroma at any smaller size ``(2, h, w)`` ->
  sRGB ``(H, W, 3)``, uint8 or float32. The chroma is upsampled bilinearly
  (``align_corners=False``); out-of-gamut colours are pulled towards the gray of the same
  luminance in linear light, so the lightness of the input is kept exactly (the same rule as
  :func:`tinct.color.merge_chroma_in_gamut`, the differentiable reference this module is
  tested against).
"""

from __future__ import annotations

import functools

import numexpr as ne
import numpy as np
import torch
import torch.nn.functional as F

from tinct import color

BAND_PIXELS = 1 << 20  # pixels per band of rows

_M_INV = np.linalg.inv(np.array(color.XYZ_FROM_RGB, dtype=np.float64))
_XN, _YN, _ZN = color.WHITE_D65
_EPS = color.LAB_EPSILON
_KAPPA = color.LAB_KAPPA_LINEAR
_LUV_KAPPA = color.LUV_KAPPA
_U0 = 4 * _XN / (_XN + 15 * _YN + 3 * _ZN)
_V0 = 9 * _YN / (_XN + 15 * _YN + 3 * _ZN)


@functools.lru_cache(maxsize=2)
def _luminance_tables(levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per channel: code value -> its share of the luminance Y, float32 ``(levels,)``."""
    v = torch.arange(levels, dtype=torch.float64) / (levels - 1)
    lin = color.srgb_to_linear(v).numpy()
    row = np.array(color.XYZ_FROM_RGB[1], dtype=np.float64)
    return tuple((row[c] * lin).astype(np.float32) for c in range(3))


@functools.lru_cache(maxsize=2)
def _gray_lightness_table(levels: int) -> np.ndarray:
    """Gray code value (R = G = B) -> its L*, float32 ``(levels,)``."""
    v = torch.arange(levels, dtype=torch.float64) / (levels - 1)
    return color.rgb_to_lightness(v.view(1, 1, -1).expand(3, 1, -1))[0, 0].float().numpy()


@functools.lru_cache(maxsize=1)
def _srgb_byte_table() -> np.ndarray:
    """Linear light quantized to 1/65535 -> rounded 8-bit sRGB, uint8 ``(65536,)``; the
    quantization moves a value by at most 0.025 of an 8-bit level."""
    v = torch.arange(65536, dtype=torch.float64) / 65535
    return (color.linear_to_srgb(v) * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()


def _bands(height: int, width: int):
    rows = max(1, BAND_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        yield top, min(height, top + rows)


def lightness_of_pixels(pixels: np.ndarray) -> np.ndarray:
    """sRGB pixels ``(H, W, 3)`` uint8 or uint16 -> L* ``(H, W)`` float32 in [0, 100]."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected (H, W, 3) uint8 or uint16 pixels, got {pixels.shape} "
                         f"{pixels.dtype}")
    levels = 256 if pixels.dtype == np.uint8 else 65536
    tr, tg, tb = _luminance_tables(levels)
    H, W = pixels.shape[:2]
    out = np.empty((H, W), dtype=np.float32)
    for top, bottom in _bands(H, W):
        band = pixels[top:bottom]
        first = band[..., 0]
        if np.array_equal(first, band[..., 1]) and np.array_equal(first, band[..., 2]):
            np.take(_gray_lightness_table(levels), first, out=out[top:bottom])  # gray photos
            continue
        y = tr[band[..., 0]]
        y += tg[band[..., 1]]
        y += tb[band[..., 2]]
        ne.evaluate("where(y > eps, 116 * y ** (1.0 / 3) - 16, lk * y)",
                    local_dict={"y": y, "eps": np.float32(_EPS), "lk": np.float32(_LUV_KAPPA)},
                    out=out[top:bottom], casting="same_kind")
    return out


# linear RGB of Lab, then the gamut pull and the sRGB curve. Lab: y = f^-1(fy) is both the
# luminance of the requested L* and the Y of the colour.
_F_INV = "where({t} > 0.2068966, {t} ** 3, ({t} - 16.0 / 116) / {k})"
_LAB_XYZ = {
    "x": _F_INV.format(t="(fy + a / 500)", k=_KAPPA) + f" * {_XN}",
    "z": _F_INV.format(t="where(fy - b / 200 > 0, fy - b / 200, 0)", k=_KAPPA) + f" * {_ZN}",
}
_Y_OF_L = f"where(L > 7.999625, ((L + 16) / 116) ** 3, L / {_LUV_KAPPA})"
_SRGB = ("where(v > 0.0031308, 1.055 * where(v > 0.0031308, v, 0.0031308) ** (1 / 2.4) - 0.055,"
         " 12.92 * v)")


def _render_band(L: np.ndarray, a: np.ndarray, b: np.ndarray, space: str,
                 out: np.ndarray) -> None:
    """One band: L, chroma planes ``(h, W)`` float32 -> ``out`` ``(h, W, 3)`` (float32 or uint8)."""
    env = {"L": L, "a": a, "b": b}
    y = ne.evaluate(_Y_OF_L, local_dict=env)
    env["y"] = y
    if space == "lab":
        env["fy"] = ne.evaluate("(L + 16) / 116", local_dict=env)
        x = ne.evaluate(_LAB_XYZ["x"], local_dict=env)
        z = ne.evaluate(_LAB_XYZ["z"], local_dict=env)
    else:  # LUV: a, b are u, v
        up = ne.evaluate(f"{_U0} + a / (13 * L + 1e-6)", local_dict=env)
        vp = ne.evaluate(f"{_V0} + b / (13 * L + 1e-6)", local_dict=env)
        vp = ne.evaluate("where(abs(vp) < 1e-6, 1e-6, vp)", local_dict={"vp": vp})
        x = ne.evaluate("y * 9 * up / (4 * vp)", local_dict={"y": y, "up": up, "vp": vp})
        z = ne.evaluate("y * (12 - 3 * up - 20 * vp) / (4 * vp)",
                        local_dict={"y": y, "up": up, "vp": vp})
    m = _M_INV
    env = {"x": x, "y": y, "z": z}
    diffs = [ne.evaluate(f"{m[c, 0]} * x + {m[c, 1]} * y + {m[c, 2]} * z - y", local_dict=env)
             for c in range(3)]
    # gamut pull: the largest s <= 1 with 0 <= y + s * d <= 1 for every channel is
    # 1 / max(1, max(d) / (1 - y), -min(d) / y)
    highest = np.maximum(np.maximum(diffs[0], diffs[1]), diffs[2])
    lowest = np.minimum(np.minimum(diffs[0], diffs[1]), diffs[2])
    s = ne.evaluate("1 / where(g > 1, g, 1)", local_dict={"g": ne.evaluate(
        "where(hi / (1 - y + 1e-12) > -lo / (y + 1e-12), hi / (1 - y + 1e-12), -lo / (y + 1e-12))",
        local_dict={"hi": highest, "lo": lowest, "y": y})})
    if out.dtype == np.uint8:  # the sRGB curve by table: pow() would cost most of the time
        table = _srgb_byte_table()
        index = np.empty(y.shape, dtype=np.int32)
        for c in range(3):
            ne.evaluate("(y + s * d) * 65535 + 0.5", local_dict={"y": y, "s": s, "d": diffs[c]},
                        out=index, casting="unsafe")
            out[..., c] = np.take(table, index, mode="clip")  # clip: rounding past 0 or 1
        return
    for c in range(3):
        v = ne.evaluate("y + s * d", local_dict={"y": y, "s": s, "d": diffs[c]})
        value = ne.evaluate(_SRGB, local_dict={"v": v})
        np.clip(value, 0, 1, out=value)
        out[..., c] = value


def merge_to_srgb(L: np.ndarray, chroma: torch.Tensor | np.ndarray, space: str = "lab",
                  dtype: type = np.uint8) -> np.ndarray:
    """Lightness + chroma -> sRGB at the lightness's resolution.

    ``L``: ``(H, W)`` float32 L* in [0, 100]. ``chroma``: ``(2, h, w)`` ab (or uv) in
    colour-space units, any ``h <= H``, ``w <= W`` (upsampled bilinearly, band by band).
    Returns ``(H, W, 3)`` ``uint8`` (rounded) or ``float32`` in [0, 1].
    """
    color.check_space(space)
    if L.ndim != 2:
        raise ValueError(f"expected lightness of shape (H, W), got {L.shape}")
    chroma = torch.as_tensor(chroma, dtype=torch.float32)
    if chroma.dim() != 3 or chroma.shape[0] != 2:
        raise ValueError(f"expected chroma of shape (2, h, w), got {tuple(chroma.shape)}")
    dtype = np.dtype(dtype)
    if dtype not in (np.uint8, np.float32):
        raise ValueError(f"output dtype must be uint8 or float32, got {dtype}")
    H, W = L.shape
    L = np.ascontiguousarray(L, dtype=np.float32)
    out = np.empty((H, W, 3), dtype=dtype)
    full_width = _upsample_columns(chroma.cpu(), W)  # (2, h, W)
    h = chroma.shape[1]
    for top, bottom in _bands(H, W):
        band = _upsample_rows(full_width, top, bottom, H, h)
        _render_band(L[top:bottom], band[0], band[1], space, out[top:bottom])
    return out


def _upsample_columns(chroma: torch.Tensor, W: int) -> torch.Tensor:
    """``(2, h, w)`` -> ``(2, h, W)``, bilinear along the rows only (align_corners=False)."""
    if chroma.shape[-1] == W:
        return chroma
    h = chroma.shape[1]
    return F.interpolate(chroma[None], size=(h, W), mode="bilinear", align_corners=False)[0]


def _upsample_rows(chroma: torch.Tensor, top: int, bottom: int, H: int, h: int) -> np.ndarray:
    """Rows ``top:bottom`` of the bilinear (align_corners=False) resampling of ``chroma``
    ``(2, h, W)`` to ``H`` rows -> ``(2, bottom - top, W)`` float32 numpy."""
    if h == H:
        return chroma[:, top:bottom].numpy()
    ys = (np.arange(top, bottom, dtype=np.float64) + 0.5) * (h / H) - 0.5
    ys = np.clip(ys, 0, h - 1)
    y0 = np.floor(ys).astype(np.int64)
    y1 = np.minimum(y0 + 1, h - 1)
    wy = (ys - y0).astype(np.float32)[None, :, None]
    c = chroma.numpy()
    top_rows, bottom_rows = c[:, y0], c[:, y1]
    return ne.evaluate("t + wy * (u - t)", local_dict={"t": top_rows, "u": bottom_rows, "wy": wy})
