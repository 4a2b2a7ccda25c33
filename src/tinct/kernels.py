"""Compiled per-pixel kernels (numba) for the inference steps around the network.

Each kernel touches every pixel once, on all cores (``prange`` over rows):

- :func:`merge_rows`: bilinear upsampling of low-resolution chroma, Lab or LUV -> linear RGB,
  the gamut pull towards the gray of the same luminance, and the sRGB curve (by table for
  8-bit output), fused into one pass; :func:`merge_lab_bytes` is its float32 SIMD twin for
  the common case (Lab in, 8-bit sRGB out), after :func:`interpolate_columns`;
- :func:`luminance_rows`: 8- or 16-bit sRGB -> L* via per-channel luminance tables;
- :func:`annealed_mean_rows`: a colour classifier's logits -> the annealed mean of its bin
  centres (softmax and weighted mean fused; the logits are read once).

The maths is :mod:`tinct.color`'s (the differentiable reference the tests compare with), in
float64. Compiled code is cached on disk (``$NUMBA_CACHE_DIR``, by default
``~/.cache/tinct/numba``), so only the first run on a machine pays the compilation (a few
seconds).

Threads: numba's ``workqueue`` layer is used unless ``$NUMBA_THREADING_LAYER`` says otherwise,
because it survives ``fork`` (DataLoader workers, multiprocessing), which GNU OpenMP does not;
it must not run two kernels at once, so callers hold :data:`LOCK` while one runs (each
already uses every core).
"""

from __future__ import annotations

import os
from pathlib import Path

if "NUMBA_CACHE_DIR" not in os.environ:  # site-packages is often read-only
    _cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tinct" / "numba"
    os.environ["NUMBA_CACHE_DIR"] = str(_cache)

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import threading  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

LOCK = threading.Lock()  # one kernel at a time (see above)

_JIT = {"nogil": True, "cache": True, "parallel": True}

LAB, LUV = 0, 1  # the ``space`` codes of merge_rows


@numba.njit(inline="always", cache=True)
def _bilinear(plane, r0, r1, wr, c0, c1, wc):  # pragma: no cover - compiled
    """``plane`` ``(h, w)`` sampled between rows ``r0``/``r1`` (weight ``wr`` of ``r1``) and
    columns ``c0``/``c1`` (weight ``wc`` of ``c1``)."""
    top = plane[r0, c0] + wc * (plane[r0, c1] - plane[r0, c0])
    bottom = plane[r1, c0] + wc * (plane[r1, c1] - plane[r1, c0])
    return top + wr * (bottom - top)


@numba.njit(inline="always", cache=True, fastmath=True)
def _linear_rgb_in_gamut(lum, a, b, space, m_inv, white):  # pragma: no cover - compiled
    """L* ``lum`` in [0, 100] and chroma ``a``, ``b`` (Lab or LUV units) -> linear RGB
    ``(r, g, b)`` in [0, 1] with the luminance of ``lum``: out-of-gamut colours are pulled
    towards the gray of the same luminance (the largest s <= 1 that fits every channel)."""
    xn, yn, zn = white[0], white[1], white[2]
    y = ((lum + 16) / 116) ** 3 if lum > 7.999625 else lum / 903.3
    if space == LAB:
        fy = (lum + 16) / 116
        t = fy + a / 500
        x = (t ** 3 if t > 0.2068966 else (t - 16.0 / 116) / 7.787) * xn
        t = fy - b / 200
        if t < 0:
            t = 0.0
        z = (t ** 3 if t > 0.2068966 else (t - 16.0 / 116) / 7.787) * zn
    else:
        u0 = 4 * xn / (xn + 15 * yn + 3 * zn)
        v0 = 9 * yn / (xn + 15 * yn + 3 * zn)
        up = u0 + a / (13 * lum + 1e-6)
        vp = v0 + b / (13 * lum + 1e-6)
        if abs(vp) < 1e-6:
            vp = 1e-6
        x = y * 9 * up / (4 * vp)
        z = y * (12 - 3 * up - 20 * vp) / (4 * vp)
    dr = m_inv[0, 0] * x + m_inv[0, 1] * y + m_inv[0, 2] * z - y
    dg = m_inv[1, 0] * x + m_inv[1, 1] * y + m_inv[1, 2] * z - y
    db = m_inv[2, 0] * x + m_inv[2, 1] * y + m_inv[2, 2] * z - y
    hi = max(dr, dg, db)
    lo = min(dr, dg, db)
    g = max(hi / (1 - y + 1e-12), -lo / (y + 1e-12))
    s = 1.0 / g if g > 1 else 1.0
    return (y + s * dr, y + s * dg, y + s * db)


@numba.njit(fastmath=True, **_JIT)
def merge_rows(L, a_low, b_low, row0, row1, row_w, col0, col1, col_w, space, m_inv, white,
               table, as_bytes, out):  # pragma: no cover - compiled; tested via render
    """Writes sRGB ``out`` ``(H, W, 3)``: uint8 through ``table`` when ``as_bytes``, else
    float32 in [0, 1].

    ``L``: ``(H, W)`` float32 L*. ``a_low``, ``b_low``: ``(h, w)`` float32 chroma planes.
    ``row0``, ``row1``, ``row_w``: for each output row, the two source rows and the weight of
    the second (``(H,)``); ``col0``, ``col1``, ``col_w`` the same for columns (``(W,)``).
    ``space``: :data:`LAB` or :data:`LUV`. ``m_inv``: XYZ -> linear RGB ``(3, 3)`` float64;
    ``white``: the white point ``(3,)``. ``table``: linear light quantized to 1/65535 ->
    8-bit sRGB ``(65536,)`` (unused for float32 output).
    """
    H, W = L.shape
    for i in numba.prange(H):
        r0, r1, wr = row0[i], row1[i], np.float64(row_w[i])
        for j in range(W):
            c0, c1, wc = col0[j], col1[j], np.float64(col_w[j])
            a = _bilinear(a_low, r0, r1, wr, c0, c1, wc)
            b = _bilinear(b_low, r0, r1, wr, c0, c1, wc)
            rgb = _linear_rgb_in_gamut(np.float64(L[i, j]), a, b, space, m_inv, white)
            for c in range(3):
                v = rgb[c]
                if as_bytes:
                    k = int(v * 65535 + 0.5)
                    out[i, j, c] = table[min(max(k, 0), 65535)]
                else:
                    v = 1.055 * v ** (1 / 2.4) - 0.055 if v > 0.0031308 else 12.92 * v
                    out[i, j, c] = min(max(v, 0.0), 1.0)


@numba.njit(**_JIT)
def interpolate_columns(plane, col0, col1, col_w, out):  # pragma: no cover - compiled
    """``plane`` ``(h, w)`` float32 resampled along its rows to ``out`` ``(h, W)`` by the
    column plan ``col0``, ``col1``, ``col_w`` (``(W,)``; see :func:`merge_rows`)."""
    h, W = out.shape
    for r in numba.prange(h):
        for j in range(W):
            left = plane[r, col0[j]]
            out[r, j] = left + col_w[j] * (plane[r, col1[j]] - left)


_F = np.float32  # float32 constants keep the loop below in float32 (8 or 16 lanes)
_THIRD_EPS, _KAPPA = _F(0.2068966), _F(903.3)
_L_KNEE, _F_OFFSET, _F_SLOPE = _F(7.999625), _F(16.0 / 116), _F(7.787)


@numba.njit(fastmath=True, **_JIT)
def merge_lab_bytes(L, a_cols, b_cols, row0, row1, row_w, m_inv, white, table,
                    out):  # pragma: no cover - compiled; tested via render
    """:func:`merge_rows` for Lab chroma and 8-bit output, in float32 and vectorized: the
    chroma planes come already resampled along columns (``a_cols``, ``b_cols`` ``(h, W)``,
    :func:`interpolate_columns`), so each output row is one blend of two source rows into a
    row buffer, then a branch-free pass over the row (the compiler turns it into SIMD code;
    the float64 kernel's per-pixel gathers prevent that). Same maths as
    :func:`_linear_rgb_in_gamut`; results differ from :func:`merge_rows` by at most one 8-bit
    level on a few pixels in a million.

    ``L``: ``(H, W)`` float32 L*. ``row0``, ``row1``, ``row_w``: the row plan ``(H,)``.
    ``m_inv`` ``(3, 3)`` and ``white`` ``(3,)`` float32. ``table``: linear light quantized to
    1/65535 -> 8-bit sRGB ``(65536,)``. Writes ``out`` ``(H, W, 3)`` uint8.
    """
    H, W = L.shape
    xn, zn = white[0], white[2]  # Y of the white is 1
    m00, m01, m02 = m_inv[0, 0], m_inv[0, 1], m_inv[0, 2]
    m10, m11, m12 = m_inv[1, 0], m_inv[1, 1], m_inv[1, 2]
    m20, m21, m22 = m_inv[2, 0], m_inv[2, 1], m_inv[2, 2]
    one, zero, tiny = _F(1.0), _F(0.0), _F(1e-12)
    for i in numba.prange(H):
        r0, r1, wr = row0[i], row1[i], row_w[i]
        a_row = np.empty(W, np.float32)
        b_row = np.empty(W, np.float32)
        for j in range(W):
            a_row[j] = a_cols[r0, j] + wr * (a_cols[r1, j] - a_cols[r0, j])
            b_row[j] = b_cols[r0, j] + wr * (b_cols[r1, j] - b_cols[r0, j])
        for j in range(W):
            lum = L[i, j]
            fy = (lum + _F(16)) / _F(116)
            y = fy * fy * fy if lum > _L_KNEE else lum / _KAPPA
            t = fy + a_row[j] / _F(500)
            x = (t * t * t if t > _THIRD_EPS else (t - _F_OFFSET) / _F_SLOPE) * xn
            t = max(fy - b_row[j] / _F(200), zero)
            z = (t * t * t if t > _THIRD_EPS else (t - _F_OFFSET) / _F_SLOPE) * zn
            dr = m00 * x + m01 * y + m02 * z - y
            dg = m10 * x + m11 * y + m12 * z - y
            db = m20 * x + m21 * y + m22 * z - y
            hi = max(dr, max(dg, db))
            lo = min(dr, min(dg, db))
            g = max(hi / (one - y + tiny), -lo / (y + tiny))
            s = one / g if g > one else one
            kr = min(max(int((y + s * dr) * _F(65535) + _F(0.5)), 0), 65535)
            kg = min(max(int((y + s * dg) * _F(65535) + _F(0.5)), 0), 65535)
            kb = min(max(int((y + s * db) * _F(65535) + _F(0.5)), 0), 65535)
            out[i, j, 0] = table[kr]
            out[i, j, 1] = table[kg]
            out[i, j, 2] = table[kb]


@numba.njit(**_JIT)
def luminance_rows(pixels, tr, tg, tb, gray, out):  # pragma: no cover - compiled
    """``pixels`` ``(H, W, 3)`` uint8/uint16 -> L* into ``out`` ``(H, W)`` float32, through
    per-channel tables of each code value's share of the luminance Y; a gray pixel
    (R = G = B) through ``gray``, the table of code value -> L*."""
    H, W = out.shape
    for i in numba.prange(H):
        for j in range(W):
            r, g, b = pixels[i, j, 0], pixels[i, j, 1], pixels[i, j, 2]
            if r == g and g == b:
                out[i, j] = gray[r]
                continue
            y = np.float64(tr[r]) + tg[g] + tb[b]
            out[i, j] = 116 * np.cbrt(y) - 16 if y > 0.008856 else 903.3 * y


@numba.njit(fastmath=True, **_JIT)
def annealed_mean_rows(logits, bias, inverse_temperature, centres, out):  # pragma: no cover
    """``logits`` ``(N, Q)`` float32 -> ``out`` ``(N, 2)``: for each row, the mean of
    ``centres`` ``(Q, 2)`` weighted by ``softmax(logits * inverse_temperature + bias)``."""
    n, q = logits.shape
    for r in numba.prange(n):
        # float32 throughout (expf, not exp): 1.6x faster, within 1e-3 ab of float64
        top = np.float32(-np.inf)
        for k in range(q):
            v = logits[r, k] * inverse_temperature + bias[k]
            if v > top:
                top = v
        total = np.float32(0.0)
        first = np.float32(0.0)
        second = np.float32(0.0)
        for k in range(q):
            e = np.exp((logits[r, k] * inverse_temperature + bias[k]) - top)
            total += e
            first += e * centres[k, 0]
            second += e * centres[k, 1]
        out[r, 0] = first / total
        out[r, 1] = second / total


@numba.njit(fastmath=True, **_JIT)
def yuv420_rows(luma, lightness, a_low, b_low, row0, row1, row_w, col0, col1, col_w, space,
                m_inv, white, srgb, fix_luma, luma_out, cb_out, cr_out):  # pragma: no cover
    """Colour of a gray film frame as limited-range BT.601 4:2:0 planes, one 2x2 block at a
    time (each full-resolution pixel is read once, and written once when ``fix_luma``).

    ``luma``: ``(H, W)`` uint8 luma codes (16-235) of the gray frame. ``lightness``: code ->
    L* ``(256,)`` float64. ``a_low``, ``b_low``: ``(h, w)`` float32 chroma planes, resampled
    to the ``(ceil(H/2), ceil(W/2))`` chroma grid by the plans ``row*`` and ``col*`` (as in
    :func:`merge_rows`). ``srgb``: linear light quantized to 1/65535 -> sRGB in [0, 1]
    ``(65536,)`` float32. Per block: L* = mean L* of its pixels; (L*, a, b) -> linear RGB
    with the gamut pull -> sRGB' -> Cb, Cr (16-240) into ``cb_out``, ``cr_out``. With
    ``fix_luma``, ``luma_out`` ``(H, W)`` gets each pixel's luma plus the block's difference
    between the colour's luma (0.299 R' + 0.587 G' + 0.114 B') and the gray's, so the decoded
    colour has the block's L*; without it ``luma_out`` is not touched.
    """
    H, W = luma.shape
    Hc, Wc = cb_out.shape
    for i in numba.prange(Hc):
        r0, r1, wr = row0[i], row1[i], np.float64(row_w[i])
        y0, y1 = 2 * i, min(2 * i + 1, H - 1)
        for j in range(Wc):
            x0, x1 = 2 * j, min(2 * j + 1, W - 1)
            lum = 0.25 * (lightness[luma[y0, x0]] + lightness[luma[y0, x1]]
                          + lightness[luma[y1, x0]] + lightness[luma[y1, x1]])
            c0, c1, wc = col0[j], col1[j], np.float64(col_w[j])
            a = _bilinear(a_low, r0, r1, wr, c0, c1, wc)
            b = _bilinear(b_low, r0, r1, wr, c0, c1, wc)
            lin = _linear_rgb_in_gamut(lum, a, b, space, m_inv, white)
            rp = srgb[min(max(int(lin[0] * 65535 + 0.5), 0), 65535)]
            gp = srgb[min(max(int(lin[1] * 65535 + 0.5), 0), 65535)]
            bp = srgb[min(max(int(lin[2] * 65535 + 0.5), 0), 65535)]
            yp = 0.299 * rp + 0.587 * gp + 0.114 * bp
            cb_out[i, j] = min(max(int(128.5 + 224 * (bp - yp) / 1.772), 16), 240)
            cr_out[i, j] = min(max(int(128.5 + 224 * (rp - yp) / 1.402), 16), 240)
            if fix_luma:
                y_lin = ((lum + 16) / 116) ** 3 if lum > 7.999625 else lum / 903.3
                shift = 219 * (yp - srgb[min(max(int(y_lin * 65535 + 0.5), 0), 65535)])
                for y in range(y0, y1 + 1):
                    for x in range(x0, x1 + 1):
                        v = int(luma[y, x] + shift + 0.5)
                        luma_out[y, x] = min(max(v, 16), 235)
