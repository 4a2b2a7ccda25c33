"""Reading and writing images: robust decoding in, atomic encoding out.

Reading (:func:`read_image`) accepts a path, raw bytes, a binary stream, a PIL image or a numpy
array and always returns a :class:`LoadedImage` whose ``pixels`` are ``(H, W, 3)`` sRGB, ``uint8``
for 8-bit sources and ``uint16`` for 16-bit (and float) sources, with the EXIF orientation
already applied. The image size is checked against a pixel limit from the header, before
anything is decoded. Every problem with the input is an :class:`ImageReadError` whose message
is one line, ``"<source>: <problem>"``.

Writing (:func:`write_image`) picks the format from the suffix, writes to a temporary file in
the destination folder and renames it into place, so a reader never sees a half-written file;
``protect`` lists paths (the inputs) that must never be overwritten.

Output is always 8 bits per channel: Pillow cannot write 16-bit RGB in any format, so ``uint16``
and float input is rounded to 8 bits on writing.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import tempfile
import warnings
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError, features

from tinct.errors import InputError, TinctError
from tinct.fileio import new_file_mode

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "WRITE_SUFFIXES",
    "ImageReadError",
    "ImageWriteError",
    "LoadedImage",
    "read_image",
    "write_image",
    "list_images",
    "is_same_file",
    "to_uint",
    "READ_FORMATS",
]

PathLike = str | os.PathLike
ImageSource = str | os.PathLike | bytes | BinaryIO | Image.Image | np.ndarray

DEFAULT_MAX_PIXELS = 100_000_000
"""Largest accepted width * height; override with ``TINCT_MAX_PIXELS`` or ``max_pixels``."""

MAX_PIXELS_ENV = "TINCT_MAX_PIXELS"

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"}
)
"""Lower-case file suffixes that :func:`list_images` picks up."""

# Pillow formats read_image decodes. Deliberately short: no EPS (Ghostscript), no exotic plugins.
READ_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "BMP", "GIF")

# suffix -> (Pillow format, keeps alpha)
_WRITE_FORMATS = {
    ".jpg": ("JPEG", False),
    ".jpeg": ("JPEG", False),
    ".png": ("PNG", True),
    ".tif": ("TIFF", True),
    ".tiff": ("TIFF", True),
    ".webp": ("WEBP", True),
    ".bmp": ("BMP", False),  # Pillow reads 32-bit BMPs back without alpha: do not pretend
}
WRITE_SUFFIXES: frozenset[str] = frozenset(_WRITE_FORMATS)
"""Lower-case suffixes :func:`write_image` can write."""

# Mean per-pixel |R-G| + |G-B| (on [0, 1] values, after a box downsample) above which an image
# counts as colour. Gray images, JPEG-compressed gray and scanner noise give < 0.015, a tint of a
# few levels about 0.025; ordinary colour photos give 0.15 and more, and so do sepia-toned prints.
_COLOR_THRESHOLD = 0.04
_COLOR_PROBE_SIZE = 256

# What Pillow raises for broken files, besides OSError (which covers "image file is truncated").
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError)


class ImageReadError(TinctError, ValueError):
    """An input image cannot be read. ``str(e)`` is one line: ``"<source>: <problem>"``."""


class ImageWriteError(TinctError, OSError):
    """An output image cannot be written. ``str(e)`` is one line: ``"<path>: <problem>"``."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _read_error(source: str, problem: object) -> ImageReadError:
    return ImageReadError(f"{_one_line(source)}: {_one_line(problem)}")


def _write_error(path: PathLike, problem: object) -> ImageWriteError:
    return ImageWriteError(f"{_one_line(os.fspath(path))}: {_one_line(problem)}")


@dataclass
class LoadedImage:
    """A decoded image.

    Attributes:
        pixels: ``(H, W, 3)`` ``uint8`` (8-bit sources) or ``uint16`` (16-bit and float
            sources), sRGB, EXIF orientation applied. Gray sources are one plane seen as 3
            channels: a read-only view (:func:`is_gray_view`); copy it before writing to it.
        alpha: ``(H, W)`` with the dtype of ``pixels`` (255 / 65535 = opaque), or ``None``.
        source: the name used in messages: the path as given, ``'<upload>'`` for bytes and
            streams, ``'<array>'`` for numpy input, ``'<image>'`` for an unnamed PIL image.
        was_color: True when the input had real colour (its channels differ noticeably).
        icc_profile: the embedded ICC profile when it describes RGB data, else ``None``.
        frames: how many pages or frames the file holds; only the first is read.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None
    source: str
    was_color: bool
    icc_profile: bytes | None = None
    frames: int = 1  # pages of a TIFF / frames of a GIF or WebP; only the first is decoded

    def to_float(self) -> np.ndarray:
        """The pixels as ``(H, W, 3)`` float32 in [0, 1]."""
        return self.pixels.astype(np.float32) / np.float32(_max_value(self.pixels.dtype))

    @property
    def nbytes(self) -> int:
        """Bytes the pixels and alpha hold (a gray source's one plane counts once)."""
        alpha = self.alpha.nbytes if self.alpha is not None else 0
        return stored_plane(self.pixels).nbytes + alpha

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels, as PIL reports it."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


# --------------------------------------------------------------------------- pixel limit


def _resolve_max_pixels(max_pixels: int | None) -> int:
    if max_pixels is None:
        env = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if not env:
            return DEFAULT_MAX_PIXELS
        try:
            max_pixels = int(float(env)) if any(c in env for c in ".eE") else int(env)
        except ValueError:
            raise InputError(f"{MAX_PIXELS_ENV} must be a positive integer, got {env!r}") from None
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)):
        raise TypeError(f"max_pixels must be an int, got {type(max_pixels).__name__}")
    if max_pixels <= 0:
        raise InputError(f"max_pixels must be positive, got {max_pixels}")
    return int(max_pixels)


def _megapixels(n: float) -> str:
    """A pixel count for messages: '2500 MP', '12.3 MP', or '3,072 pixels' below 1 MP."""
    if n < 1_000_000:
        return f"{int(n):,} pixels"
    mp = n / 1e6
    return f"{mp:.0f} MP" if mp >= 100 else f"{mp:.3g} MP"


def _limit_hint(limit: int) -> str:
    return (
        f"above the limit of {_megapixels(limit)} "
        f"(set {MAX_PIXELS_ENV} or --max-pixels to raise it)"
    )


def _check_pixel_limit(source: str, width: int, height: int, limit: int) -> None:
    if width * height > limit:
        raise _read_error(
            source,
            f"image is {width}x{height} = {_megapixels(width * height)}, {_limit_hint(limit)}",
        )


def _bomb_error(source: str, error: Exception, limit: int) -> ImageReadError:
    # Pillow refused before telling us the size; its message carries the pixel count.
    found = re.search(r"\((\d+) pixels\)", str(error))
    size = f"{_megapixels(int(found.group(1)))}" if found else "too large"
    return _read_error(source, f"image is {size}, {_limit_hint(limit)}")


def _allow_in_pillow(limit: int) -> None:
    # Pillow raises DecompressionBombError itself above 2 * Image.MAX_IMAGE_PIXELS, before we
    # can see the size. Our own limit is the one that counts, so when it is higher, raise
    # Pillow's to match (a process-wide setting; it is only ever raised, never lowered).
    pillow_max = Image.MAX_IMAGE_PIXELS
    if pillow_max is not None and 2 * pillow_max < limit:
        Image.MAX_IMAGE_PIXELS = limit


# --------------------------------------------------------------------------- reading


def read_image(source: ImageSource, max_pixels: int | None = None) -> LoadedImage:
    """Decode an image into ``(H, W, 3)`` sRGB pixels with the EXIF orientation applied.

    Args:
        source: a path; ``bytes`` (e.g. an upload); a binary stream; a PIL image (not closed or
            modified); or a numpy array ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or
            ``(H, W, 4)`` (last channel alpha) of ``uint8``, ``uint16`` or float in [0, 1]
            (float becomes ``uint16``).
        max_pixels: largest accepted width * height; defaults to ``$TINCT_MAX_PIXELS`` or
            :data:`DEFAULT_MAX_PIXELS`. Checked from the header, before decoding.

    Files in JPEG, PNG (8/16-bit), TIFF, WebP, BMP or GIF (first frame) are read. PIL modes
    1/L/P/RGB/CMYK/YCbCr become ``uint8``; I;16* become ``uint16``; ``I`` becomes ``uint8`` when
    its values fit 0..255, else ``uint16`` (values must lie in 0..65535); ``F`` is taken as
    [0, 1] (-> ``uint16``) when its maximum is <= 1, else as 0..255 (-> ``uint8``) or 0..65535
    (-> ``uint16``). Alpha from LA, RGBA, PA and palette/gray/RGB transparency is kept.

    Raises:
        ImageReadError: missing, empty, unreadable, truncated or corrupt input, a folder, an
            unsupported mode or array, or an image above the pixel limit.
    """
    limit = _resolve_max_pixels(max_pixels)
    if isinstance(source, np.ndarray):
        return _from_array(source, "<array>", limit)
    if isinstance(source, Image.Image):
        name = getattr(source, "filename", "") or "<image>"
        return _from_pil(source, os.fsdecode(name), limit, owned=False)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise _read_error("<upload>", "file is empty (0 bytes)")
        return _decode_stream(io.BytesIO(bytes(source)), "<upload>", limit)
    if isinstance(source, (str, os.PathLike)):
        return _read_path(Path(os.fsdecode(source)), os.fsdecode(source), limit)
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        return _decode_stream(source, name if isinstance(name, str) else "<upload>", limit)
    raise TypeError(
        "read_image expects a path, bytes, a binary stream, a PIL image or a numpy array, "
        f"got {type(source).__name__}"
    )


def _read_path(path: Path, name: str, limit: int) -> LoadedImage:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _read_error(name, "file not found") from None
    except OSError as e:
        raise _read_error(name, f"cannot access file ({e.strerror or e})") from None
    if path.is_dir():
        raise _read_error(name, "is a folder, not an image file")
    kind = path.stat().st_mode
    if not stat.S_ISREG(kind):  # opening a FIFO would wait forever for a writer
        what = ("a named pipe (FIFO)" if stat.S_ISFIFO(kind) else
                "a socket" if stat.S_ISSOCK(kind) else "a device")
        raise _read_error(name, f"is {what}, not an image file")
    if size == 0:
        raise _read_error(name, "file is empty (0 bytes)")
    try:
        fp = open(path, "rb")  # noqa: SIM115 - closed below, after decoding
    except OSError as e:
        raise _read_error(name, f"cannot open file ({e.strerror or e})") from None
    with fp:
        return _decode_stream(fp, name, limit)


def _decode_stream(fp: BinaryIO, name: str, limit: int) -> LoadedImage:
    _allow_in_pillow(limit)
    try:
        with warnings.catch_warnings():
            # Our own limit replaces Pillow's DecompressionBombWarning (checked just below);
            # its notes on damaged metadata (corrupt EXIF, oversized tags) are not errors:
            # a file that cannot be decoded is refused in one line below instead.
            warnings.simplefilter("ignore")
            im = Image.open(fp, formats=READ_FORMATS)
    except Image.DecompressionBombError as e:
        raise _bomb_error(name, e, limit) from None
    except UnidentifiedImageError:
        if _stream_is_empty(fp):
            raise _read_error(name, "file is empty (0 bytes)") from None
        raise _read_error(
            name, "not a recognised image file (expected JPEG, PNG, TIFF, WebP, BMP or GIF)"
        ) from None
    except _DECODE_ERRORS as e:
        raise _read_error(name, f"file is truncated or corrupt ({e})") from None
    with im:
        return _from_pil(im, name, limit, owned=True)


def _stream_is_empty(fp: BinaryIO) -> bool:
    try:
        fp.seek(0, io.SEEK_END)
        return fp.tell() == 0
    except (OSError, AttributeError, ValueError):
        return False


def _from_pil(im: Image.Image, name: str, limit: int, *, owned: bool) -> LoadedImage:
    width, height = im.size
    _check_pixel_limit(name, width, height, limit)
    _allow_in_pillow(limit)
    with warnings.catch_warnings():
        # Pillow warns about e.g. corrupt EXIF or palette transparency; reading stays silent.
        warnings.simplefilter("ignore")
        try:
            im.load()  # full decode: truncated data raises here (LOAD_TRUNCATED_IMAGES stays off)
        except Image.DecompressionBombError as e:
            raise _bomb_error(name, e, limit) from None
        except _DECODE_ERRORS as e:
            raise _read_error(name, f"file is truncated or corrupt ({e})") from None
        im = _exif_transposed(im, in_place=owned)  # never modify a caller's image
        pixels, alpha = _pil_to_arrays(im, name)
    icc = im.info.get("icc_profile")
    # A gray or CMYK profile does not describe the RGB pixels we return: drop it.
    icc = bytes(icc) if isinstance(icc, bytes) and icc[16:20] == b"RGB " else None
    frames = int(getattr(im, "n_frames", 1) or 1)
    return LoadedImage(pixels, alpha, name, _has_color(pixels), icc, frames)


def _exif_transposed(im: Image.Image, *, in_place: bool) -> Image.Image:
    try:
        if in_place:
            ImageOps.exif_transpose(im, in_place=True)
            return im
        return ImageOps.exif_transpose(im)
    except _DECODE_ERRORS + (AttributeError,):
        # Unreadable EXIF must not make the photo unreadable: keep the stored orientation.
        return im


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    """``(H, W)`` -> ``(H, W, 3)`` read-only view of the one plane: no copy of a 12 MP scan
    three times over. :func:`is_gray_view` recognises it (its channel stride is 0)."""
    gray = np.ascontiguousarray(gray)
    return np.broadcast_to(gray[:, :, None], (*gray.shape, 3))


def is_gray_view(pixels: np.ndarray) -> bool:
    """True for ``(H, W, 3)`` pixels that are one gray plane seen three times (gray sources):
    ``pixels[:, :, 0]`` is then the whole image."""
    return pixels.ndim == 3 and pixels.strides[2] == 0


def stored_plane(pixels: np.ndarray) -> np.ndarray:
    """The pixels as held in memory: a gray source's one ``(H, W)`` plane, else ``pixels``."""
    return pixels[:, :, 0] if is_gray_view(pixels) else pixels


def _pil_to_arrays(im: Image.Image, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    mode = im.mode
    has_key = "transparency" in im.info
    if mode in ("P", "PA"):
        im = im.convert("RGBA" if mode == "PA" or has_key else "RGB")
    elif mode in ("L", "1") and has_key:
        im = im.convert("LA")
    elif mode == "RGB" and has_key:
        im = im.convert("RGBA")
    elif mode == "1":
        im = im.convert("L")
    elif mode == "La":
        im = im.convert("LA")
    elif mode == "RGBa":
        im = im.convert("RGBA")
    elif mode in ("RGBX", "CMYK", "YCbCr"):
        im = im.convert("RGB")
    mode = im.mode

    if mode == "L":
        return _gray_to_rgb(np.asarray(im)), None
    if mode == "LA":
        la = np.asarray(im)
        return _gray_to_rgb(la[:, :, 0]), la[:, :, 1].copy()
    if mode == "RGB":
        return np.array(im), None
    if mode == "RGBA":
        rgba = np.asarray(im)
        return rgba[:, :, :3].copy(), rgba[:, :, 3].copy()
    if mode.startswith("I;16"):
        return _gray_to_rgb(np.asarray(im).astype(np.uint16)), None
    if mode == "I":
        return _gray_to_rgb(_int_to_uint(np.asarray(im), name)), None
    if mode == "F":
        return _gray_to_rgb(_float_gray_to_uint(np.asarray(im), name)), None
    raise _read_error(name, f"unsupported image mode {mode!r}")


def _int_to_uint(values: np.ndarray, name: str) -> np.ndarray:
    lo, hi = int(values.min()), int(values.max())
    if lo < 0 or hi > 65535:
        raise _read_error(
            name, f"32-bit integer pixels in {lo}..{hi} are not supported (expected 0..65535)"
        )
    return values.astype(np.uint8 if hi <= 255 else np.uint16)


def _float_gray_to_uint(values: np.ndarray, name: str) -> np.ndarray:
    if not np.isfinite(values).all():
        raise _read_error(name, "float pixels contain NaN or infinite values")
    lo, hi = float(values.min()), float(values.max())
    if lo < 0 or hi > 65535:
        raise _read_error(name, f"float pixels in {lo:g}..{hi:g} are not supported")
    if hi <= 1.0:
        return np.round(values * 65535.0).astype(np.uint16)
    return np.round(values).astype(np.uint8 if hi <= 255 else np.uint16)


def _from_array(array: np.ndarray, name: str, limit: int) -> LoadedImage:
    shape = array.shape
    if array.ndim == 3 and shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise _read_error(
            name,
            f"array of shape {shape} is not an image (expected (H, W), (H, W, 1), "
            "(H, W, 3) or (H, W, 4))",
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise _read_error(name, f"array of shape {shape} is empty")
    _check_pixel_limit(name, array.shape[1], array.shape[0], limit)
    if array.dtype in (np.uint8, np.uint16):
        array = array.copy()
    elif np.issubdtype(array.dtype, np.floating):
        array = _float_to_uint16(array, name)
    else:
        raise _read_error(
            name,
            f"array dtype {array.dtype} is not supported (expected uint8, uint16 or "
            "float in [0, 1])",
        )
    if array.ndim == 2:
        pixels, alpha = _gray_to_rgb(array), None
    else:
        pixels = np.ascontiguousarray(array[:, :, :3])
        alpha = np.ascontiguousarray(array[:, :, 3]) if array.shape[2] == 4 else None
    return LoadedImage(pixels, alpha, name, _has_color(pixels), None)


def _float_to_uint16(array: np.ndarray, name: str, tolerance: float = 1e-4) -> np.ndarray:
    if not np.isfinite(array).all():
        raise _read_error(name, "float array contains NaN or infinite values")
    lo, hi = float(array.min()), float(array.max())
    if lo < -tolerance or hi > 1 + tolerance:
        raise _read_error(name, f"float array values are in {lo:g}..{hi:g}, expected [0, 1]")
    scaled = np.clip(array.astype(np.float64), 0.0, 1.0) * 65535.0
    return np.round(scaled).astype(np.uint16)


def _max_value(dtype: np.dtype) -> int:
    return 65535 if np.dtype(dtype) == np.uint16 else 255


def _has_color(pixels: np.ndarray) -> bool:
    """Whether ``(H, W, 3)`` pixels carry colour, judged on a box-downsampled copy."""
    if is_gray_view(pixels):
        return False
    h, w = pixels.shape[:2]
    step = max(1, -(-max(h, w) // _COLOR_PROBE_SIZE))
    sh, sw = min(step, h), min(step, w)
    h2, w2 = h // sh * sh, w // sw * sw
    # Averaging blocks before comparing channels cancels sensor and JPEG noise on gray scans.
    # Rows first, then columns, in integers: 4x faster than one mean over two strided axes.
    rows = pixels[:h2, :w2].reshape(h2 // sh, sh, w2, 3).sum(axis=1, dtype=np.uint64)
    small = rows.reshape(h2 // sh, w2 // sw, sw, 3).sum(axis=2) / float(
        sh * sw * _max_value(pixels.dtype))
    chroma = np.abs(small[..., 0] - small[..., 1]) + np.abs(small[..., 1] - small[..., 2])
    return bool(chroma.mean() > _COLOR_THRESHOLD)


# --------------------------------------------------------------------------- writing


def write_image(
    path: PathLike,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    *,
    quality: int = 95,
    icc_profile: bytes | None = None,
    protect: Iterable[PathLike] = (),
) -> Path:
    """Write an image atomically; the format follows the suffix of ``path``.

    Args:
        path: destination; parent folders are created. Suffixes: see :data:`WRITE_SUFFIXES`.
        rgb: ``(H, W, 3)`` ``uint8``, ``uint16`` or float in [0, 1]. Written with 8 bits per
            channel (Pillow cannot write 16-bit RGB), rounding to nearest.
        alpha: ``(H, W)`` in the same conventions, or ``None``. Kept in PNG, TIFF and WebP;
            dropped for JPEG and BMP.
        quality: JPEG / WebP quality, 1..100.
        icc_profile: embedded as is (JPEG, PNG, TIFF, WebP).
        protect: paths that must not be overwritten (the inputs); writing onto any of them,
            or onto a link to one, is refused.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ImageWriteError: unknown suffix, protected destination, a folder in the way, or any
            file-system or encoder failure (the temporary file is removed).
        ValueError: ``rgb`` / ``alpha`` of the wrong shape, dtype or range, or a bad quality.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _WRITE_FORMATS:
        supported = ", ".join(sorted(_WRITE_FORMATS))
        raise _write_error(
            path, f"unsupported output format {suffix or '(no suffix)'!r} (supported: {supported})"
        )
    fmt, keeps_alpha = _WRITE_FORMATS[suffix]
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
        raise TypeError(f"quality must be an int, got {type(quality).__name__}")
    if not 1 <= quality <= 100:
        raise InputError(f"quality must be in 1..100, got {quality}")
    for guarded in protect:
        if is_same_file(path, guarded):
            raise _write_error(path, "refusing to overwrite an input image")
    if path.is_dir():
        raise _write_error(path, "is a folder")

    pixels = _to_uint8(rgb, "rgb")
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise InputError(f"rgb must have shape (H, W, 3), got {np.shape(rgb)}")
    if alpha is not None and keeps_alpha:
        a = _to_uint8(alpha, "alpha")
        if a.shape != pixels.shape[:2]:
            raise InputError(f"alpha must have shape {pixels.shape[:2]}, got {np.shape(alpha)}")
        pixels = np.dstack([pixels, a])
    image = Image.fromarray(np.ascontiguousarray(pixels))

    options: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = int(quality)
    if fmt == "TIFF" and features.check("libtiff"):
        options["compression"] = "tiff_deflate"
    if icc_profile and fmt != "BMP":
        options["icc_profile"] = icc_profile
    _save_atomically(image, path, fmt, options)
    return path


def _to_uint8(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise InputError(f"{what} contains NaN or infinite values")
        lo, hi = float(array.min(initial=0.0)), float(array.max(initial=0.0))
        if lo < -1e-4 or hi > 1 + 1e-4:
            raise InputError(f"float {what} must be in [0, 1], got values in {lo:g}..{hi:g}")
        return np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise InputError(f"{what} must be uint8, uint16 or float in [0, 1], got {array.dtype}")


def _save_atomically(image: Image.Image, path: Path, fmt: str, options: dict) -> None:
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        mode = new_file_mode(path)
        tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed before the rename
            dir=folder, prefix=f".{path.name}.", suffix=".tmp", delete=False
        )
    except OSError as e:
        raise _write_error(path, f"cannot create file ({e.strerror or e})") from None
    try:
        with tmp:
            image.save(tmp, format=fmt, **options)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp.name, mode)
        os.replace(tmp.name, path)
    except BaseException as e:
        with suppress(OSError):
            os.unlink(tmp.name)
        if isinstance(e, OSError):
            raise _write_error(path, f"cannot write file ({e.strerror or e})") from e
        if isinstance(e, (ValueError, TypeError, KeyError)):
            raise _write_error(path, f"cannot encode as {fmt} ({e})") from e
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    # Make the rename itself durable; not possible on every platform, so best effort.
    with suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- files


def list_images(root: PathLike, recursive: bool = True,
                problems: list[str] | None = None) -> list[Path]:
    """Image files under ``root`` (by suffix, see :data:`IMAGE_SUFFIXES`), sorted.

    Hidden files and folders (name starting with ``.``) below ``root`` are skipped; linked
    folders are followed once. A ``root`` that is a file is returned as ``[root]`` whatever
    its suffix (it was named explicitly; :func:`read_image` will judge it).

    ``problems``: when given, a one-line message is appended for every entry that cannot be
    used (a folder that cannot be listed, an image name that is a symlink loop or a broken
    link), and the entry is left out; the rest of the listing goes on.

    Raises:
        ImageReadError: ``root`` does not exist.
    """
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise _read_error(os.fspath(root), "no such file or folder")
    problems = problems if problems is not None else []
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()

    def cannot_list(exc: OSError) -> None:
        problems.append(f"{_one_line(exc.filename or '?')}: cannot list this folder "
                        f"({exc.strerror or exc}); its photos were skipped")

    for folder, dirnames, filenames in os.walk(root, followlinks=True, onerror=cannot_list):
        try:
            st = os.stat(folder)
        except OSError as exc:
            cannot_list(exc)
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:  # a link back up the tree
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = [d for d in dirnames if not d.startswith(".")] if recursive else []
        for name in filenames:
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in IMAGE_SUFFIXES:
                continue
            path = Path(folder, name)
            try:
                os.stat(path)
            except OSError as exc:  # a symlink loop or a link to nothing
                what = ("a symlink loop" if exc.errno == errno.ELOOP else
                        "a broken link" if os.path.islink(path) else (exc.strerror or str(exc)))
                problems.append(f"{_one_line(os.fspath(path))}: {what}; skipped")
                continue
            found.append(path)
    return sorted(found)


def is_same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file (same inode, or same resolved path)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, TypeError, ValueError):
        pass
    try:
        pa, pb = Path(a).resolve(), Path(b).resolve()
    except (OSError, TypeError, ValueError, RuntimeError):
        return False
    return os.path.normcase(pa) == os.path.normcase(pb)


def to_uint(rgb: np.ndarray, dtype: type = np.uint8) -> np.ndarray:
    """Float RGB in [0, 1] -> uint8 or uint16 with rounding."""
    peak = np.iinfo(dtype).max
    return (rgb * peak + 0.5).clip(0, peak).astype(dtype)
