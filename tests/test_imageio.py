"""Tests for tinct.imageio: every input mode and format, every failure, atomic writing."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from skimage import data

from tinct import imageio
from tinct.imageio import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    ImageReadError,
    ImageWriteError,
    LoadedImage,
    is_gray_view,
    is_same_file,
    list_images,
    read_image,
    write_image,
)

W, H = 64, 48


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    """A colour photo, (48, 64, 3) uint8."""
    return np.asarray(Image.fromarray(data.astronaut()).resize((W, H), Image.BILINEAR))


@pytest.fixture(scope="module")
def gray(astronaut) -> np.ndarray:
    """The same photo in gray, (48, 64) uint8."""
    return np.asarray(Image.fromarray(astronaut).convert("L"))


@pytest.fixture(autouse=True)
def _no_env_limit(monkeypatch):
    monkeypatch.delenv("TINCT_MAX_PIXELS", raising=False)


def save(im: Image.Image, path: Path, **kwargs) -> Path:
    im.save(path, **kwargs)
    return path


def read_error(source, name: str, **kwargs) -> str:
    """Read ``source`` expecting an ImageReadError; check the message is one line naming it."""
    with pytest.raises(ImageReadError) as info:
        read_image(source, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{name}: ")
    return message


def gray3(g: np.ndarray) -> np.ndarray:
    return np.repeat(g[:, :, None], 3, axis=2)


def folder_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- modes


def test_rgb_png_round_trip(tmp_path, astronaut):
    loaded = read_image(save(Image.fromarray(astronaut), tmp_path / "rgb.png"))
    assert isinstance(loaded, LoadedImage)
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape == (H, W, 3)
    np.testing.assert_array_equal(loaded.pixels, astronaut)
    assert loaded.alpha is None
    assert loaded.size == (W, H)
    assert loaded.source == str(tmp_path / "rgb.png")
    assert loaded.was_color


def test_mode_1(tmp_path, gray):
    bits = gray > 128
    loaded = read_image(save(Image.fromarray(bits), tmp_path / "one.png"))
    assert loaded.pixels.dtype == np.uint8
    np.testing.assert_array_equal(loaded.pixels, gray3(np.where(bits, 255, 0).astype(np.uint8)))
    assert not loaded.was_color


def test_mode_l(tmp_path, gray):
    loaded = read_image(save(Image.fromarray(gray), tmp_path / "l.png"))
    assert loaded.pixels.dtype == np.uint8 and loaded.alpha is None
    np.testing.assert_array_equal(loaded.pixels, gray3(gray))
    assert not loaded.was_color


def test_a_gray_source_is_one_plane_seen_three_times(tmp_path, gray):
    """A 12 MP gray scan is not copied three times: its pixels are a read-only view, and its
    lightness (from the one plane) equals that of the same pixels written out in full."""
    from tinct.inference.pipeline import lightness_of

    for bits, saved in ((8, gray), (16, gray.astype(np.uint16) * 257)):
        loaded = read_image(save(Image.fromarray(saved), tmp_path / f"g{bits}.png"))
        assert is_gray_view(loaded.pixels) and not loaded.pixels.flags.writeable
        assert not loaded.was_color
        assert loaded.nbytes == gray.size * (bits // 8)  # the one plane, counted once
        full = np.ascontiguousarray(loaded.pixels)
        assert not is_gray_view(full)
        np.testing.assert_array_equal(lightness_of(loaded.pixels).numpy(),
                                      lightness_of(full).numpy())
    assert not is_gray_view(read_image(data.astronaut()).pixels)


def test_mode_la(tmp_path, gray):
    alpha = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))
    la = Image.fromarray(np.dstack([gray, alpha]))
    assert la.mode == "LA"
    loaded = read_image(save(la, tmp_path / "la.png"))
    np.testing.assert_array_equal(loaded.pixels, gray3(gray))
    assert loaded.alpha is not None and loaded.alpha.dtype == np.uint8
    np.testing.assert_array_equal(loaded.alpha, alpha)


def test_mode_p(tmp_path, astronaut):
    pal = Image.fromarray(astronaut).quantize(16)
    expected = np.asarray(pal.convert("RGB"))
    loaded = read_image(save(pal, tmp_path / "p.png"))
    assert loaded.alpha is None and loaded.pixels.dtype == np.uint8
    np.testing.assert_array_equal(loaded.pixels, expected)
    assert loaded.was_color


def test_mode_p_with_transparency(tmp_path):
    pal = Image.new("P", (8, 6), 0)
    pal.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    pal.putpixel((1, 1), 1)
    loaded = read_image(save(pal, tmp_path / "pt.png", transparency=1))
    assert loaded.alpha is not None
    assert loaded.pixels[0, 0].tolist() == [10, 20, 30]
    assert loaded.pixels[1, 1].tolist() == [200, 100, 50]
    assert loaded.alpha[0, 0] == 255 and loaded.alpha[1, 1] == 0
    assert int((loaded.alpha == 0).sum()) == 1


def test_rgb_with_transparency_key(tmp_path):
    im = Image.new("RGB", (8, 6), (5, 6, 7))
    im.putpixel((2, 3), (1, 2, 3))
    loaded = read_image(save(im, tmp_path / "key.png", transparency=(1, 2, 3)))
    assert loaded.alpha is not None
    assert loaded.alpha[3, 2] == 0 and int(loaded.alpha.sum()) == 255 * (8 * 6 - 1)


def test_mode_rgba(tmp_path, astronaut):
    alpha = np.tile(np.linspace(0, 255, H).astype(np.uint8)[:, None], (1, W))
    loaded = read_image(save(Image.fromarray(np.dstack([astronaut, alpha])), tmp_path / "a.png"))
    np.testing.assert_array_equal(loaded.pixels, astronaut)
    np.testing.assert_array_equal(loaded.alpha, alpha)


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_mode_cmyk(tmp_path, astronaut, suffix):
    cmyk = Image.fromarray(astronaut).convert("CMYK")
    loaded = read_image(save(cmyk, tmp_path / f"cmyk{suffix}", quality=95))
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape == (H, W, 3)
    diff = np.abs(loaded.pixels.astype(int) - astronaut.astype(int)).mean()
    assert diff < 4  # JPEG loss only; a wrong CMYK conversion is off by far more
    assert loaded.was_color
    assert loaded.icc_profile is None


def test_mode_i16_png(tmp_path):
    values = (np.arange(H * W).reshape(H, W) * 21).astype(np.uint16)  # up to ~64500
    im = Image.fromarray(values)
    assert im.mode == "I;16"
    loaded = read_image(save(im, tmp_path / "g16.png"))
    assert loaded.pixels.dtype == np.uint16
    np.testing.assert_array_equal(loaded.pixels, gray3(values))
    assert not loaded.was_color
    np.testing.assert_allclose(loaded.to_float()[..., 0], values / 65535, atol=1e-6)


def test_mode_i16b_tiff(tmp_path):
    values = (np.arange(H * W).reshape(H, W) * 19).astype(np.uint16)
    im = Image.frombytes("I;16B", (W, H), values.astype(">u2").tobytes())
    loaded = read_image(save(im, tmp_path / "g16b.tif"))
    assert loaded.pixels.dtype == np.uint16
    np.testing.assert_array_equal(loaded.pixels, gray3(values))


def test_mode_i_16bit_range(tmp_path):
    values = (np.arange(H * W).reshape(H, W) * 20).astype(np.int32)
    im = Image.fromarray(values)
    assert im.mode == "I"
    loaded = read_image(save(im, tmp_path / "i.tif"))
    assert loaded.pixels.dtype == np.uint16
    np.testing.assert_array_equal(loaded.pixels, gray3(values.astype(np.uint16)))


def test_mode_i_8bit_range(gray):
    loaded = read_image(Image.fromarray(gray.astype(np.int32)))
    assert loaded.pixels.dtype == np.uint8
    np.testing.assert_array_equal(loaded.pixels, gray3(gray))


def test_mode_i_out_of_range():
    im = Image.fromarray(np.array([[0, 70000]], dtype=np.int32))
    assert "65535" in read_error(im, "<image>")


def test_mode_f(tmp_path, gray):
    values = gray.astype(np.float32) / 255
    loaded = read_image(save(Image.fromarray(values), tmp_path / "f.tif"))
    assert loaded.pixels.dtype == np.uint16
    np.testing.assert_allclose(loaded.to_float()[..., 1], values, atol=1e-5)


def test_unsupported_mode():
    assert "unsupported image mode 'LAB'" in read_error(Image.new("LAB", (4, 4)), "<image>")


def test_pil_input_is_not_modified(astronaut):
    im = Image.fromarray(astronaut)
    exif = Image.Exif()
    exif[0x0112] = 6
    im.info["exif"] = exif.tobytes()
    loaded = read_image(im)
    assert loaded.size == (H, W)  # rotated
    assert im.size == (W, H) and im.getexif().get(0x0112) == 6  # caller's image untouched


# --------------------------------------------------------------------------- formats


def test_jpeg(tmp_path, astronaut):
    loaded = read_image(save(Image.fromarray(astronaut), tmp_path / "a.jpg", quality=95))
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape == (H, W, 3)
    assert np.abs(loaded.pixels.astype(int) - astronaut).mean() < 4


def test_tiff_and_bmp_are_lossless(tmp_path, astronaut):
    for name in ("a.tif", "a.tiff", "a.bmp"):
        loaded = read_image(save(Image.fromarray(astronaut), tmp_path / name))
        np.testing.assert_array_equal(loaded.pixels, astronaut)


def test_webp(tmp_path, astronaut):
    loaded = read_image(save(Image.fromarray(astronaut), tmp_path / "a.webp", lossless=True))
    np.testing.assert_array_equal(loaded.pixels, astronaut)


def test_gif_reads_first_frame(tmp_path):
    first = Image.new("RGB", (8, 6), (255, 0, 0))
    second = Image.new("RGB", (8, 6), (0, 0, 255))
    path = save(first, tmp_path / "two.gif", save_all=True, append_images=[second])
    assert Image.open(path).n_frames == 2
    loaded = read_image(path)
    assert loaded.pixels.shape == (6, 8, 3)
    assert (loaded.pixels.reshape(-1, 3) == [255, 0, 0]).all()


def test_exif_orientation_applied(tmp_path, astronaut):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = save(Image.fromarray(astronaut), tmp_path / "rot.jpg", exif=exif.tobytes())
    stored = np.asarray(Image.open(path).convert("RGB"))  # as stored, not rotated
    loaded = read_image(path)
    assert loaded.size == (H, W)
    np.testing.assert_array_equal(loaded.pixels, np.rot90(stored, k=-1))


def test_icc_profile_kept(tmp_path, astronaut):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = save(Image.fromarray(astronaut), tmp_path / "icc.png", icc_profile=icc)
    assert read_image(path).icc_profile == icc
    assert read_image(save(Image.fromarray(astronaut), tmp_path / "no.png")).icc_profile is None


def test_gray_icc_profile_dropped(tmp_path, gray):
    # A gray profile does not describe the 3-channel pixels returned: it must not travel on.
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    icc[16:20] = b"GRAY"
    loaded = read_image(save(Image.fromarray(gray), tmp_path / "g.png", icc_profile=bytes(icc)))
    assert loaded.icc_profile is None
    np.testing.assert_array_equal(loaded.pixels, gray3(gray))


def test_bytes_and_stream_input(tmp_path, astronaut):
    path = save(Image.fromarray(astronaut), tmp_path / "a.png")
    from_bytes = read_image(path.read_bytes())
    assert from_bytes.source == "<upload>"
    np.testing.assert_array_equal(from_bytes.pixels, astronaut)
    from_stream = read_image(io.BytesIO(path.read_bytes()))
    np.testing.assert_array_equal(from_stream.pixels, astronaut)
    with open(path, "rb") as f:
        assert read_image(f).source == str(path)
        assert not f.closed  # the caller's stream stays open


# --------------------------------------------------------------------------- errors


def test_truncated_files(tmp_path, astronaut):
    for name in ("t.jpg", "t.png", "t.webp", "t.tif"):
        path = save(Image.fromarray(astronaut), tmp_path / name)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        assert "truncated or corrupt" in read_error(path, str(path))


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.touch()
    assert "empty" in read_error(path, str(path))
    assert "empty" in read_error(b"", "<upload>")


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not\nan image\n")
    assert "not a recognised image" in read_error(path, str(path))


def test_missing_file_and_folder(tmp_path):
    assert "not found" in read_error(tmp_path / "nope.png", str(tmp_path / "nope.png"))
    (tmp_path / "dir.png").mkdir()
    assert "folder" in read_error(tmp_path / "dir.png", str(tmp_path / "dir.png"))


def test_unsupported_type():
    with pytest.raises(TypeError, match="read_image expects"):
        read_image(12)


def _png_with_size(tmp_path: Path, width: int, height: int) -> Path:
    buf = io.BytesIO()
    Image.new("L", (4, 4), 7).save(buf, "PNG")
    png = bytearray(buf.getvalue())
    assert png[12:16] == b"IHDR"
    png[16:24] = struct.pack(">II", width, height)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    path = tmp_path / "huge.png"
    path.write_bytes(bytes(png))
    return path


def test_huge_header_is_refused_fast(tmp_path):
    path = _png_with_size(tmp_path, 100_000, 100_000)
    start = time.perf_counter()
    message = read_error(path, str(path))
    assert time.perf_counter() - start < 1.0
    assert "10000 MP" in message and "limit of 100 MP" in message
    assert "TINCT_MAX_PIXELS" in message


def test_header_above_limit_names_dimensions(tmp_path):
    path = _png_with_size(tmp_path, 12_000, 10_000)  # 120 MP: Pillow only warns, we refuse
    message = read_error(path, str(path))
    assert "12000x10000 = 120 MP" in message and "limit of 100 MP" in message


def test_custom_max_pixels(tmp_path, astronaut, monkeypatch):
    path = save(Image.fromarray(astronaut), tmp_path / "a.png")
    message = read_error(path, str(path), max_pixels=W * H - 1)
    assert f"{W}x{H} = 3,072 pixels" in message and "limit of 3,071 pixels" in message
    assert read_image(path, max_pixels=W * H).size == (W, H)
    monkeypatch.setenv("TINCT_MAX_PIXELS", "1000")
    assert "limit of 1,000 pixels" in read_error(path, str(path))
    assert read_image(path, max_pixels=DEFAULT_MAX_PIXELS).size == (W, H)  # argument wins
    monkeypatch.setenv("TINCT_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="TINCT_MAX_PIXELS"):
        read_image(path)
    with pytest.raises(ValueError, match="positive"):
        read_image(path, max_pixels=0)


def test_limit_above_pillow_default(tmp_path, astronaut, monkeypatch):
    # Pillow refuses by itself above 2 * MAX_IMAGE_PIXELS; a higher limit of ours must win.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    path = save(Image.fromarray(astronaut), tmp_path / "a.png")
    assert read_image(path, max_pixels=10_000).size == (W, H)
    assert Image.MAX_IMAGE_PIXELS >= 10_000


# --------------------------------------------------------------------------- numpy input


def test_numpy_gray_inputs(gray):
    for array in (gray, gray[:, :, None]):
        loaded = read_image(array)
        assert loaded.source == "<array>" and loaded.pixels.dtype == np.uint8
        np.testing.assert_array_equal(loaded.pixels, gray3(gray))
        assert not loaded.was_color


def test_numpy_rgb_uint16_and_rgba(astronaut):
    rgb16 = astronaut.astype(np.uint16) * 257
    loaded = read_image(rgb16)
    assert loaded.pixels.dtype == np.uint16
    np.testing.assert_array_equal(loaded.pixels, rgb16)
    assert loaded.was_color
    rgba = np.dstack([astronaut, np.full((H, W), 128, np.uint8)])
    loaded = read_image(rgba)
    np.testing.assert_array_equal(loaded.pixels, astronaut)
    assert loaded.alpha is not None and (loaded.alpha == 128).all()


def test_numpy_input_is_copied(astronaut):
    array = astronaut.copy()
    loaded = read_image(array)
    loaded.pixels[:] = 0
    np.testing.assert_array_equal(array, astronaut)


def test_numpy_float_becomes_uint16():
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    loaded = read_image(values)
    assert loaded.pixels.dtype == np.uint16
    assert loaded.pixels[0, :, 0].tolist() == [0, 32768, 65535]
    np.testing.assert_allclose(loaded.to_float()[0, :, 0], values[0], atol=1e-4)


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.zeros((4, 5, 2), np.uint8), "shape (4, 5, 2)"),
        (np.zeros((2, 4, 5, 3), np.uint8), "shape (2, 4, 5, 3)"),
        (np.zeros((0, 5), np.uint8), "empty"),
        (np.zeros((4, 5), np.int64), "dtype int64"),
        (np.full((4, 5), 1.5), "1.5"),
        (np.full((4, 5), np.nan), "NaN"),
    ],
)
def test_numpy_bad_inputs(array, words):
    assert words in read_error(array, "<array>")


# --------------------------------------------------------------------------- was_color


def test_was_color(tmp_path, astronaut, gray):
    assert read_image(astronaut).was_color
    assert not read_image(gray3(gray)).was_color
    gray_jpeg = save(Image.fromarray(gray3(gray)), tmp_path / "g.jpg", quality=60)
    assert not read_image(gray_jpeg).was_color
    tinted = np.clip(gray3(gray).astype(int) + [3, 0, -3], 0, 255).astype(np.uint8)
    assert not read_image(tinted).was_color  # slight tint of a gray scan
    noise = np.random.default_rng(0).normal(0, 3, (H, W, 3))
    noisy = np.clip(gray3(gray) + noise, 0, 255).astype(np.uint8)
    assert not read_image(noisy).was_color  # per-channel scanner noise
    assert read_image(data.chelsea()).was_color  # full size: exercises the downsampling


# --------------------------------------------------------------------------- writing


def test_write_png_round_trip_with_alpha(tmp_path, astronaut):
    alpha = np.tile(np.arange(W, dtype=np.uint8) * 4, (H, 1))
    out = write_image(tmp_path / "out.png", astronaut, alpha)
    assert out == tmp_path / "out.png"
    loaded = read_image(out)
    np.testing.assert_array_equal(loaded.pixels, astronaut)
    np.testing.assert_array_equal(loaded.alpha, alpha)
    assert folder_entries(tmp_path) == ["out.png"]  # no temporary file left behind


def test_write_jpeg_drops_alpha(tmp_path, astronaut):
    out = write_image(tmp_path / "out.JPG", astronaut, np.zeros((H, W), np.uint8), quality=90)
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.mode == "RGB"
    loaded = read_image(out)
    assert loaded.alpha is None
    assert np.abs(loaded.pixels.astype(int) - astronaut).mean() < 5


def test_write_other_formats(tmp_path, astronaut):
    alpha = np.full((H, W), 200, np.uint8)
    for name, fmt, lossless, keeps_alpha in [
        ("o.tif", "TIFF", True, True),
        ("o.webp", "WEBP", False, True),
        ("o.bmp", "BMP", True, False),
    ]:
        out = write_image(tmp_path / name, astronaut, alpha)
        with Image.open(out) as im:
            assert im.format == fmt
        loaded = read_image(out)
        if lossless:
            np.testing.assert_array_equal(loaded.pixels, astronaut)
        else:
            assert np.abs(loaded.pixels.astype(int) - astronaut).mean() < 6
        assert (loaded.alpha is not None) == keeps_alpha
        if keeps_alpha:
            assert np.abs(loaded.alpha.astype(int) - 200).max() <= 1


def test_write_uint16_and_float_are_rounded_to_8_bits(tmp_path):
    rgb16 = np.array([[[0, 257, 65535], [128, 32896, 65406]]], dtype=np.uint16)
    loaded = read_image(write_image(tmp_path / "a.png", rgb16))
    assert loaded.pixels.dtype == np.uint8
    assert loaded.pixels.tolist() == [[[0, 1, 255], [0, 128, 254]]]
    rgbf = np.array([[[0.0, 0.5, 1.0], [0.002, 0.2, 0.998]]])
    loaded = read_image(write_image(tmp_path / "b.png", rgbf))
    assert loaded.pixels.tolist() == [[[0, 128, 255], [1, 51, 254]]]


def test_write_icc_profile(tmp_path, astronaut):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert (
        read_image(write_image(tmp_path / "a.jpg", astronaut, icc_profile=icc)).icc_profile == icc
    )


def test_write_creates_parents_and_keeps_normal_permissions(tmp_path, astronaut):
    out = write_image(tmp_path / "a" / "b" / "c.png", astronaut)
    assert out.is_file()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not the 0600 of a temporary file


def test_write_replaces_existing_file(tmp_path, astronaut):
    out = tmp_path / "a.png"
    write_image(out, np.zeros((H, W, 3), np.uint8))
    write_image(out, astronaut)
    np.testing.assert_array_equal(read_image(out).pixels, astronaut)
    assert folder_entries(tmp_path) == ["a.png"]


def test_write_unknown_suffix(tmp_path, astronaut):
    with pytest.raises(ImageWriteError) as info:
        write_image(tmp_path / "a.xyz", astronaut)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "a.xyz"))
    assert "'.xyz'" in message and ".png" in message and ".jpg" in message
    assert folder_entries(tmp_path) == []


def test_write_refuses_protected_input(tmp_path, astronaut):
    source = save(Image.fromarray(astronaut), tmp_path / "in.png")
    before = source.read_bytes()
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.png"
    link.symlink_to(source)
    for target in (source, tmp_path / "sub" / ".." / "in.png", link):
        with pytest.raises(ImageWriteError, match="refusing to overwrite") as info:
            write_image(target, np.zeros((H, W, 3), np.uint8), protect=[source])
        assert "\n" not in str(info.value) and str(info.value).startswith(str(target))
    assert source.read_bytes() == before
    assert folder_entries(tmp_path) == ["in.png", "link.png", "sub"]
    write_image(tmp_path / "out.png", astronaut, protect=[source])  # other paths are fine
    assert (tmp_path / "out.png").is_file()


def test_write_failure_removes_temp_and_keeps_old_file(tmp_path, astronaut, monkeypatch):
    out = write_image(tmp_path / "a.png", astronaut)
    before = out.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ImageWriteError, match="No space left on device") as info:
        write_image(out, np.zeros((H, W, 3), np.uint8))
    assert "\n" not in str(info.value) and str(info.value).startswith(str(out))
    assert out.read_bytes() == before
    assert folder_entries(tmp_path) == ["a.png"]


def test_write_bad_arrays(tmp_path):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        write_image(tmp_path / "a.png", np.zeros((4, 5), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        write_image(tmp_path / "a.png", np.full((4, 5, 3), 2.0))
    with pytest.raises(ValueError, match="alpha must have shape"):
        write_image(tmp_path / "a.png", np.zeros((4, 5, 3), np.uint8), np.zeros((5, 4), np.uint8))
    assert folder_entries(tmp_path) == []


# --------------------------------------------------------------------------- files


def test_list_images(tmp_path):
    names = [
        "b.png", "a.JPG", "c.tiff", "notes.txt", ".hidden.png",
        "sub/d.webp", "sub/deeper/e.gif", ".cache/f.png", "sub/g.bmp", "sub/h.jpeg",
    ]  # fmt: skip
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert found == [
        "a.JPG", "b.png", "c.tiff", "sub/d.webp", "sub/deeper/e.gif", "sub/g.bmp", "sub/h.jpeg",
    ]  # fmt: skip
    top = [p.name for p in list_images(tmp_path, recursive=False)]
    assert top == ["a.JPG", "b.png", "c.tiff"]
    assert list_images(tmp_path / "notes.txt") == [tmp_path / "notes.txt"]  # named explicitly
    with pytest.raises(ImageReadError, match="no such file or folder"):
        list_images(tmp_path / "missing")
    assert {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"} == IMAGE_SUFFIXES


def test_list_images_survives_link_loop(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.png").write_bytes(b"x")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path)
    assert list_images(tmp_path) == [tmp_path / "sub" / "a.png"]


def test_is_same_file(tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "link.png").symlink_to(a)
    (tmp_path / "sub").mkdir()
    assert is_same_file(a, str(a))
    assert is_same_file(a, tmp_path / "sub" / ".." / "a.png")
    assert is_same_file(a, tmp_path / "link.png")
    assert not is_same_file(a, tmp_path / "b.png")
    assert is_same_file(tmp_path / "new.png", tmp_path / "sub" / ".." / "new.png")  # not yet there
    assert not is_same_file(tmp_path / "new.png", a)


def test_module_has_no_print_or_logging():
    source = Path(imageio.__file__).read_text()
    assert "print(" not in source and "logging" not in source
