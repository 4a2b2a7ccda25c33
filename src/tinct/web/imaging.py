"""Upload bytes -> checked, decoded, colorized, encoded bytes. No file is ever written.

``sniff`` looks at the content only (never the file name or the declared content type):
bytes that no decoder recognises are 415, a recognised image above the pixel limit is 413
(read from the header, before decoding), and ``decode_upload`` turns a recognised image that
fails to decode into 400. ``colorize_keeping_output`` runs the pipeline's stages and hands back the
network's output, so a result can be decoded again with other settings (``/api/recolor``).
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import PurePath

import torch
from PIL import Image, UnidentifiedImageError

from tinct.imageio import READ_FORMATS as READ_FORMATS
from tinct.imageio import ImageReadError, LoadedImage, read_image
from tinct.inference.pipeline import Colorizer, to_pil, working_shape
from tinct.web.errors import ApiError

OUTPUT_FORMATS = {"png": ("PNG", "image/png", ".png"), "jpeg": ("JPEG", "image/jpeg", ".jpg")}
FORMAT_ALIASES = {"jpg": "jpeg"}
JPEG_QUALITY = 92
# zlib level for PNG responses. On a 512-px photo: level 1 encodes in 19.5 ms (387 KiB),
# 3 in 28.5 ms (376 KiB), 6 (Pillow's default) in 79 ms (375 KiB): 3% bigger, 1.5x faster
PNG_COMPRESS_LEVEL = 1


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
                    output: torch.Tensor | None = None) -> tuple[torch.Tensor, Image.Image]:
    """(the network's output, the colour image) for ``loaded`` at working ``size``.

    With ``output`` (from an earlier call), the network does not run again: only the decoding
    (with ``colorizer``'s decode settings) and the merge with the full-resolution lightness
    are done, which is what re-colouring a result costs."""
    L = colorizer.lightness(loaded)
    size = size or colorizer.working_size
    if output is None:
        output = colorizer.network_output(L[None], size)
    chroma = colorizer.decode_output(output, working_shape(*L.shape[-2:], size))
    rgb = colorizer.render(L, chroma[0])
    return output, to_pil(rgb, loaded.alpha)


def encode(image: Image.Image, output_format: str, icc_profile: bytes | None) -> bytes:
    """``image`` as PNG (alpha kept) or JPEG bytes, with the upload's ICC profile."""
    pil_format, _, _ = OUTPUT_FORMATS[output_format]
    options: dict[str, object] = {}
    if pil_format == "JPEG":
        image = image.convert("RGB")
        options.update(quality=JPEG_QUALITY)
    else:
        options.update(compress_level=PNG_COMPRESS_LEVEL)
    if icc_profile:
        options["icc_profile"] = icc_profile
    out = io.BytesIO()
    image.save(out, format=pil_format, **options)
    return out.getvalue()


def download_name(uploaded: str, output_format: str) -> str:
    """A safe file name for the result: the upload's stem (ASCII letters, digits, ``._-``) plus
    ``-colorized`` and the format's suffix. Used only in a response header, never on disk."""
    stem = PurePath(uploaded.replace("\\", "/")).stem if uploaded else ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:80] or "image"
    return f"{stem}-colorized{OUTPUT_FORMATS[output_format][2]}"
