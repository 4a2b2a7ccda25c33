"""Upload bytes -> checked, decoded, colorized, encoded bytes. No file is ever written.

``sniff`` looks at the content only (never the file name or the declared content type):
bytes that no decoder recognises are 415, a recognised image above the pixel limit is 413
(read from the header, before decoding), and ``decode_upload`` turns a recognised image that
fails to decode into 400. ``colorize_keeping_output`` runs the pipeline's stages and hands back the
network's output, so a result can be decoded again with other settings (``/api/recolor``).
``encode`` writes PNG responses with ``png_bytes`` (numpy filtering, ISA-L's deflate) rather than
Pillow: about 6x faster for the same lossless pixels (a PNG encode was most of a re-colour).
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from tinct.imageio import READ_FORMATS as READ_FORMATS
from tinct.imageio import ImageReadError, LoadedImage, read_image
from tinct.inference.hints import Hint
from tinct.inference.pipeline import Colorizer, to_pil
from tinct.web.errors import ApiError

OUTPUT_FORMATS = {"png": ("PNG", "image/png", ".png"), "jpeg": ("JPEG", "image/jpeg", ".jpg")}
FORMAT_ALIASES = {"jpg": "jpeg"}
JPEG_QUALITY = 92
# PNG responses are deflated by ISA-L (python-isal, the web extra's dependency where it has a
# wheel: x86-64 and ARM64), else by zlib. A 512-px colorized photo, timed in one process on 2
# busy cores: Pillow at zlib level 1 (this module's encoder until then) 20 ms, 387 KiB;
# png_bytes with ISA-L level 2: 3 ms, 397 KiB (2.6% bigger); with zlib level 1: 11 ms, 386 KiB.
# Pillow's default (zlib 6) took 79 ms for 375 KiB.
try:
    from isal import isal_zlib as _deflate

    PNG_DEFLATE_LEVEL = 2  # of ISA-L's 0-3: level 3 is 1.5x slower for 1% less
except ImportError:  # pragma: no cover - only where python-isal has no wheel
    _deflate = zlib
    PNG_DEFLATE_LEVEL = 1
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IDAT_BYTES = 1 << 20  # the compressed pixels are written in chunks of at most this size


@dataclass(frozen=True)
class Sniffed:
    format: str  # Pillow's name: JPEG, PNG, ...
    width: int
    height: int


def _pixels(n: int) -> str:
    return f"{n / 1e6:.3g} megapixels" if n >= 1_000_000 else f"{n:,} pixels"


def sniff(data: bytes, max_pixels: int) -> Sniffed:
    """The image format and size from the header of ``data``; raises ``ApiError`` 400/413/415."""
    if not data:
        raise ApiError(400, "the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=READ_FORMATS) as im:
                found = Sniffed(str(im.format), *im.size)
    except Image.DecompressionBombError:
        raise ApiError(413, f"the image has more than {_pixels(max_pixels)}") from None
    except UnidentifiedImageError:
        raise ApiError(415, "expected a JPEG, PNG, TIFF, WebP, BMP or GIF file; the content "
                            "of this one is none of these") from None
    except Exception as exc:  # a recognised format with a broken header
        raise ApiError(400, f"the image cannot be decoded ({exc})") from None
    if found.width * found.height > max_pixels:
        raise ApiError(413, f"the image is {found.width}x{found.height} = "
                            f"{_pixels(found.width * found.height)}, above the limit of "
                            f"{_pixels(max_pixels)}")
    return found


def decode_upload(data: bytes, max_pixels: int) -> LoadedImage:
    """The uploaded bytes decoded (EXIF orientation applied); 400 when they do not decode."""
    try:
        return read_image(data, max_pixels=max_pixels)
    except ImageReadError as exc:
        problem = str(exc).split(": ", 1)[-1]
        raise ApiError(400, f"the image cannot be decoded: {problem}") from None


def colorize_keeping_output(colorizer: Colorizer, loaded: LoadedImage, size: int | None,
                            output: torch.Tensor | None = None,
                            hints: Sequence[Hint] | None = None
                            ) -> tuple[torch.Tensor, Image.Image]:
    """(the network's output, the colour image) for ``loaded`` at working ``size``, with
    colour ``hints`` (in pixels of ``loaded``) when given.

    With ``output`` (from an earlier call with the same hints), the network does not run
    again: only the decoding (with ``colorizer``'s decode settings), the hints' correction and
    the merge with the full-resolution lightness are done, which is what re-colouring a result
    costs."""
    L = colorizer.lightness(loaded)
    size = size or colorizer.working_size
    if output is None:
        output = colorizer.network_output(L[None], size, [hints] if hints else None)
    return output, to_pil(colorizer.render_output(L, output, size, hints), loaded.alpha)


def encode(image: Image.Image, output_format: str, icc_profile: bytes | None) -> bytes:
    """``image`` as PNG (alpha kept) or JPEG bytes, with the upload's ICC profile."""
    pil_format, _, _ = OUTPUT_FORMATS[output_format]
    if pil_format == "PNG":
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        return png_bytes(np.asarray(image), icc_profile)
    image = image.convert("RGB")
    options: dict[str, object] = {"quality": JPEG_QUALITY}
    if icc_profile:
        options["icc_profile"] = icc_profile
    out = io.BytesIO()
    image.save(out, format=pil_format, **options)
    return out.getvalue()


def png_bytes(pixels: np.ndarray, icc_profile: bytes | None = None) -> bytes:
    """8-bit RGB or RGBA pixels ``(H, W, 3 or 4)`` -> a PNG file (lossless, 8 bits a channel,
    not interlaced), with ``icc_profile`` in an iCCP chunk when given.

    Every row is stored with PNG's "Up" filter (its difference from the row above, modulo 256),
    which deflates about as well on photos as Pillow's per-row choice among the five filters
    and is one numpy subtraction; the filtered rows are deflated in one stream (ISA-L where
    installed, else zlib; ``PNG_DEFLATE_LEVEL``)."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"expected uint8 pixels (H, W, 3 or 4), got {pixels.dtype} "
                         f"{tuple(pixels.shape)}")
    height, width, channels = pixels.shape
    rows = pixels.reshape(height, width * channels)
    filtered = np.empty((height, width * channels + 1), np.uint8)
    filtered[:, 0] = 2  # the filter type byte of each row: Up
    filtered[0, 1:] = rows[0]  # the row above the first one counts as zeros
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # uint8: wraps modulo 256
    color_type = 6 if channels == 4 else 2  # RGBA or RGB
    parts = [PNG_SIGNATURE]
    _png_chunk(parts, b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
    if icc_profile:  # name, NUL, compression method 0 (deflate), the deflated profile
        _png_chunk(parts, b"iCCP", b"ICC Profile\0\0"
                   + _deflate.compress(icc_profile, PNG_DEFLATE_LEVEL))
    data = memoryview(_deflate.compress(filtered, PNG_DEFLATE_LEVEL))
    for start in range(0, len(data), PNG_IDAT_BYTES):
        _png_chunk(parts, b"IDAT", data[start:start + PNG_IDAT_BYTES])
    _png_chunk(parts, b"IEND", b"")
    return b"".join(parts)


def _png_chunk(parts: list, kind: bytes, data: bytes | memoryview) -> None:
    """Appends a PNG chunk to ``parts``: length, type, data and the CRC-32 of type and data."""
    crc = _deflate.crc32(data, _deflate.crc32(kind))
    parts += [struct.pack(">I4s", len(data), kind), data, struct.pack(">I", crc)]


def download_name(uploaded: str, output_format: str) -> str:
    """A safe file name for the result: the upload's stem (ASCII letters, digits, ``._-``) plus
    ``-colorized`` and the format's suffix. Used only in a response header, never on disk."""
    stem = PurePath(uploaded.replace("\\", "/")).stem if uploaded else ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:80] or "image"
    return f"{stem}-colorized{OUTPUT_FORMATS[output_format][2]}"
