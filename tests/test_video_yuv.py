"""The YUV film pipeline: luma planes in, 4:2:0 colour planes out, key frames.

What it keeps (see ``tinct.video.planes``): with ``fix_luma`` the decoded output's L* equals the
input's up to the 4:2:0 subsampling; without it the output's luma plane is the input's byte for
byte. Both hold on odd sizes, 10-bit and full-range input, and variable frame rates.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from tinct import color  # noqa: E402
from tinct.inference.render import lightness_of_pixels, merge_to_srgb  # noqa: E402
from tinct.video.colorize import FrameColorizer, colorize_video  # noqa: E402
from tinct.video.planes import (  # noqa: E402
    colour_planes,
    lightness_of_luma,
    luma_of_frame,
    luma_of_lightness,
    rgb_of_planes,
)
from tinct.video.sinks import EncodeSettings  # noqa: E402
from tinct.video.temporal import ChromaStabilizer, TemporalSettings  # noqa: E402
from tinct.video.testclips import clip_frames, skimage_photos  # noqa: E402
from tinct.video.yuvpath import LumaColorizer  # noqa: E402

LOSSLESS = EncodeSettings(crf=0)  # x264 at crf 0 is lossless for 8-bit 4:2:0


def photo_lab(height: int = 95, width: int = 127) -> torch.Tensor:
    """A colour photo (odd size) as Lab ``(3, H, W)`` float32."""
    rgb = skimage_photos()[0][100:100 + height, 100:100 + width]
    return color.rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).double()[None] / 255)[0].float()


def write_gray_clip(path: Path, grays: list[np.ndarray], codec: str, pix_fmt: str,
                    pts: list[int] | None = None, time_base: Fraction = Fraction(1, 24),
                    color_range: int | None = None) -> Path:
    """Encodes gray frames ``(H, W)`` uint8 (full-range levels) with ``codec``/``pix_fmt``."""
    with av.open(os.fspath(path), "w") as c:
        stream = c.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = grays[0].shape[1], grays[0].shape[0], pix_fmt
        stream.codec_context.time_base = time_base
        if color_range is not None:
            stream.codec_context.color_range = color_range
        for i, g in enumerate(grays):
            frame = av.VideoFrame.from_ndarray(np.repeat(g[..., None], 3, axis=2), format="rgb24")
            frame = frame.reformat(format=pix_fmt)
            frame.pts = pts[i] if pts else i
            frame.time_base = time_base
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
    return path


def decoded(path: Path) -> tuple[list[np.ndarray], list[int], Fraction]:
    """Luma planes (limited range), pts and time base of a file's video frames."""
    with av.open(os.fspath(path)) as c:
        frames = list(c.decode(video=0))
        return [luma_of_frame(f) for f in frames], [f.pts for f in frames], frames[0].time_base


# --------------------------------------------------------------------------- colour planes


def test_fix_luma_keeps_the_lightness_of_a_gray_frame():
    """A gray frame of a photo's L*, coloured with (twice) the photo's chroma: decoded as a player
    does, its L* is the photo's within 4:2:0's error (the RGB path through yuv420p has the
    same error); copying the luma instead misses by more on saturated colours."""
    lab = photo_lab()
    luma = luma_of_lightness(lab[0].numpy())
    L_in = lightness_of_luma(luma)
    vivid = 2 * lab[1:].numpy()  # saturated colours, where luma and lightness differ most
    fixed = rgb_of_planes(av, *colour_planes(luma, vivid, fix_luma=True))
    copied = rgb_of_planes(av, *colour_planes(luma, vivid, fix_luma=False))
    err_fixed = np.abs(lightness_of_pixels(fixed) - L_in)
    err_copied = np.abs(lightness_of_pixels(copied) - L_in)
    assert err_fixed.mean() < 0.8 and np.percentile(err_fixed, 95) < 2.0
    assert np.percentile(err_copied, 99) > 1.4 * np.percentile(err_fixed, 99)
    assert err_copied.mean() > 1.4 * err_fixed.mean()


def test_copied_luma_is_the_input_byte_for_byte_and_gray_stays_gray():
    lab = photo_lab()
    luma = luma_of_lightness(lab[0].numpy())
    y, cb, cr = colour_planes(luma, lab[1:].numpy(), fix_luma=False)
    assert y is luma and cb.shape == cr.shape == (48, 64)  # ceil of odd sizes
    y, cb, cr = colour_planes(luma, np.zeros((2, 12, 16), np.float32))
    np.testing.assert_array_equal(y, luma)
    assert np.abs(cb.astype(int) - 128).max() <= 1 and np.abs(cr.astype(int) - 128).max() <= 1


def test_colour_planes_agree_with_the_rgb_path():
    """Smooth chroma at the working size: the YUV rendering, decoded, is the RGB rendering
    up to rounding and 4:2:0."""
    lab = photo_lab()
    chroma = torch.nn.functional.interpolate(lab[None, 1:], size=(24, 32), mode="area")[0]
    reference = merge_to_srgb(lab[0].numpy(), chroma).astype(np.float64)
    luma = luma_of_lightness(lab[0].numpy())
    ours = rgb_of_planes(av, *colour_planes(luma, chroma.numpy())).astype(np.float64)
    psnr = 10 * np.log10(255 ** 2 / np.mean((ours - reference) ** 2))
    assert psnr > 35


# --------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(("codec", "pix_fmt", "suffix"), [
    ("ffv1", "yuv420p10le", ".mkv"), ("ffv1", "gray", ".mkv"), ("mjpeg", "yuvj420p", ".avi"),
    ("ffv1", "yuv444p", ".mkv")])
def test_luma_is_read_in_limited_range_from_any_format(tmp_path, codec, pix_fmt, suffix):
    levels = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (32, 1))[:, :64]
    path = write_gray_clip(tmp_path / f"g{suffix}", [levels], codec, pix_fmt)
    luma = decoded(path)[0][0]
    expected = np.round(16 + levels.astype(np.float64) * 219 / 255)
    tolerance = 3 if codec == "mjpeg" else 1  # mjpeg is lossy
    assert np.abs(luma.astype(int) - expected).max() <= tolerance


# --------------------------------------------------------------------------- end to end


def gray_frames(width: int, height: int, count: int) -> list[np.ndarray]:
    frames = clip_frames(skimage_photos()[:2], width + width % 2, height + height % 2,
                         count // 2)
    return [lightness_to_gray(f)[:height, :width] for f in frames]


def lightness_to_gray(rgb: np.ndarray) -> np.ndarray:
    L = lightness_of_pixels(rgb)
    return merge_to_srgb(L, np.zeros((2, 1, 1), np.float32))[..., 0]


@pytest.mark.parametrize("pix_fmt", ["yuv420p10le", "yuv444p"])
def test_odd_sized_10_bit_film_keeps_its_luma_exactly(colorizer, tmp_path, pix_fmt):
    grays = gray_frames(63, 47, 8)
    source = write_gray_clip(tmp_path / "in.mkv", grays, "ffv1", pix_fmt)
    out = tmp_path / "out.mp4"
    colorize_video(source, out, colorizer, temporal=TemporalSettings(method="keyframes"),
                   encode=LOSSLESS, fix_luma=False, progress=False, batch_size=3)
    lumas_in, _, _ = decoded(source)
    lumas_out, _, _ = decoded(out)
    assert len(lumas_out) == 8 and lumas_out[0].shape == (48, 64)  # padded for 4:2:0
    for a, b in zip(lumas_in, lumas_out, strict=True):
        np.testing.assert_array_equal(b[:47, :63], a)
    with av.open(os.fspath(out)) as c:
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 0.5  # it has colour


def test_variable_frame_rate_timestamps_are_kept(colorizer, tmp_path):
    pts = [0, 1, 2, 5, 6, 10, 11, 12]
    grays = gray_frames(64, 48, 8)
    source = write_gray_clip(tmp_path / "vfr.mkv", grays, "ffv1", "yuv420p", pts=pts,
                             time_base=Fraction(1, 24))
    out = tmp_path / "vfr.mp4"
    colorize_video(source, out, colorizer, progress=False, batch_size=3)
    _, out_pts, tb = decoded(out)
    assert [round(p * tb * 24) for p in out_pts] == pts


def test_fix_luma_output_keeps_the_films_lightness_end_to_end(colorizer, tmp_path):
    grays = gray_frames(64, 48, 6)
    source = write_gray_clip(tmp_path / "in.mkv", grays, "ffv1", "yuv420p")
    out = tmp_path / "out.mp4"
    colorize_video(source, out, colorizer, encode=LOSSLESS, progress=False)
    with av.open(os.fspath(out)) as c:
        rgb = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    for gray, colour in zip(grays, rgb, strict=True):
        L_in = lightness_of_pixels(np.repeat(gray[..., None], 3, axis=2))
        assert np.abs(lightness_of_pixels(colour) - L_in).mean() < 1.0


# --------------------------------------------------------------------------- key frames


def test_network_runs_on_key_frames_only(colorizer):
    """A still scene: the network runs every ``key_interval`` frames; in between the colour
    is carried unchanged; a cut brings a key frame at once."""
    still = gray_frames(64, 48, 24)[0]
    other = gray_frames(64, 48, 24)[-1]
    lumas = [luma_of_lightness(lightness_of_pixels(np.repeat(g[..., None], 3, axis=2)))
             for g in [still] * 10 + [other] * 2]
    step = LumaColorizer(colorizer, temporal=TemporalSettings(method="keyframes",
                                                              key_interval=4))
    chroma = step.chroma(lumas[:6]) + step.chroma(lumas[6:])
    assert step.stabilizer.cuts == [10]
    assert step.network_frames == 4  # frames 0, 4, 8 and the cut at 10
    np.testing.assert_allclose(chroma[1], chroma[0], atol=1e-3)
    np.testing.assert_allclose(chroma[3], chroma[0], atol=1e-3)
    flow = LumaColorizer(colorizer, temporal=TemporalSettings(method="flow"))
    flow.chroma(lumas)
    assert flow.network_frames == 12


def test_the_rgb_path_runs_the_network_on_key_frames_only_too(colorizer):
    """``FrameColorizer`` (the RGB pipeline, the Ray engine's film parts): the same key
    frames as the YUV step, and the carried colour equals the key frame's."""
    still, other = gray_frames(64, 48, 24)[0], gray_frames(64, 48, 24)[-1]
    frames = np.stack([np.repeat(g[..., None], 3, axis=2) for g in [still] * 10 + [other] * 2])
    step = FrameColorizer(colorizer, temporal=TemporalSettings(method="keyframes",
                                                               key_interval=4))
    colour = np.concatenate([step(frames[:6]), step(frames[6:])])
    assert step.stabilizer.cuts == [10] and step.network_frames == 4
    assert np.abs(colour[3].astype(int) - colour[0]).max() <= 1
    every = FrameColorizer(colorizer, temporal=TemporalSettings(method="flow"))
    every(frames)
    assert every.network_frames == 12


def test_unexplained_motion_brings_a_key_frame():
    """A new texture slides in (not a cut: the thumbnail barely changes): more than
    ``refresh_share`` of the frame is unexplained, so the network runs again."""
    rng = np.random.default_rng(0)
    base = rng.uniform(30, 70, (48, 64)).astype(np.float32)
    changed = base.copy()
    changed[:, :24] = rng.uniform(30, 70, (48, 24))
    stabilizer = ChromaStabilizer(TemporalSettings(method="keyframes", key_interval=100))
    tracks = [stabilizer.track(x) for x in (base, base, changed)]
    assert [t.key for t in tracks] == [True, False, True] and stabilizer.cuts == []
