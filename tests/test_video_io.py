"""Video files and frame folders through ``colorize_video`` and ``tinct video``: timing, size,
audio, metadata and rotation kept; atomic output; bounded memory; clear errors."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from tinct.cli import main  # noqa: E402
from tinct.imageio import read_image, write_image  # noqa: E402
from tinct.video.colorize import PIPELINES, colorize_video  # noqa: E402
from tinct.video.sinks import VideoFileSink  # noqa: E402
from tinct.video.sources import VideoFileSource  # noqa: E402
from tinct.video.temporal import TemporalSettings  # noqa: E402
from tinct.video.testclips import (  # noqa: E402
    SAMPLE_RATE,
    clip_frames,
    make_clip,
    skimage_photos,
)

FPS = 12
FRAMES_PER_SHOT = 12


# PyAV >= 18 can write a display rotation; older versions can only read it
ROTATION = 90 if hasattr(av.video.stream.VideoStream, "set_display_rotation") else 0


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """24 frames, 64x48, 12 fps, a cut at frame 12, AAC tone, rotation 90, a title tag."""
    folder = tmp_path_factory.mktemp("clips")
    return make_clip(folder / "clip.mp4", skimage_photos()[:2], 64, 48,
                     frames_per_shot=FRAMES_PER_SHOT, fps=FPS, rotation=ROTATION,
                     title="test reel")


def probe(path: Path) -> dict:
    """What a file holds: video frames (decoded), rate, size, duration, rotation, audio."""
    with av.open(os.fspath(path)) as c:
        v = c.streams.video[0]
        info = {"codec": v.codec_context.name, "rate": v.average_rate,
                "width": v.codec_context.width, "height": v.codec_context.height,
                "pix_fmt": v.codec_context.pix_fmt,
                "duration": float(v.duration * v.time_base) if v.duration else None,
                "title": c.metadata.get("title"), "audio": [
                    (a.codec_context.name, a.codec_context.sample_rate) for a in c.streams.audio]}
        frames = list(c.decode(video=0))
        info["frames"] = len(frames)
        info["rotation"] = getattr(frames[0], "rotation", 0)
        info["rgb"] = np.stack([f.to_ndarray(format="rgb24") for f in frames])
    with av.open(os.fspath(path)) as c:
        info["samples"] = [sum(f.samples for f in c.decode(a)) for a in c.streams.audio]
    return info


def test_generated_clips_are_lossless_so_every_run_decodes_the_same_frames(tmp_path):
    """A test clip decodes to exactly the 4:2:0 conversion of its rendered frames, so a
    benchmark sees the same clip on every run (lossy x264 here is not reproducible)."""
    photos = skimage_photos()[:2]
    spec = make_clip(tmp_path / "a.mp4", photos, 96, 72, frames_per_shot=6, fps=12, audio=False)
    want = [av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            .to_ndarray() for rgb in clip_frames(photos, 96, 72, 6)]
    with av.open(os.fspath(spec.path)) as c:
        got = [f.to_ndarray() for f in c.decode(video=0)]
    assert len(got) == len(want) == 12
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_round_trip_keeps_timing_size_audio_metadata_rotation(clip, colorizer, tmp_path):
    out = tmp_path / "colour.mp4"
    result = colorize_video(clip.path, out, colorizer, batch_size=5, progress=False)
    src, dst = probe(clip.path), probe(out)
    assert result.frames == dst["frames"] == src["frames"] == 24
    assert dst["rate"] == FPS
    assert (dst["width"], dst["height"]) == (64, 48)
    assert dst["codec"] == "h264" and dst["pix_fmt"] == "yuv420p"
    assert dst["duration"] == pytest.approx(src["duration"], abs=1 / FPS)
    assert dst["duration"] == pytest.approx(24 / FPS, abs=1 / FPS)
    assert dst["audio"] == src["audio"] == [("aac", SAMPLE_RATE)]
    assert abs(dst["samples"][0] - src["samples"][0]) <= SAMPLE_RATE / FPS
    assert dst["title"] == "test reel"
    assert dst["rotation"] == src["rotation"] == ROTATION
    # the output has colour, and its lightness follows the input's
    rgb = dst["rgb"].astype(np.int16)
    assert np.abs(rgb[..., 0] - rgb[..., 1]).mean() > 1
    gray_in = src["rgb"].astype(np.float32).mean(-1)
    gray_out = dst["rgb"].astype(np.float32).mean(-1)
    assert np.corrcoef(gray_in.ravel(), gray_out.ravel())[0, 1] > 0.9
    assert listing(tmp_path) == ["colour.mp4"]


@pytest.mark.parametrize("suffix", [".mkv", ".mov", ".avi"])
def test_other_containers_keep_frames_rate_and_audio(clip, colorizer, tmp_path, suffix):
    out = tmp_path / f"colour{suffix}"
    colorize_video(clip.path, out, colorizer, temporal=TemporalSettings(method="none"),
                   progress=False)
    dst = probe(out)
    assert dst["frames"] == 24 and dst["rate"] == FPS and dst["codec"] == "h264"
    assert dst["audio"] == [("aac", SAMPLE_RATE)]


def test_audio_packets_are_copied_not_reencoded(clip, colorizer, tmp_path):
    out = tmp_path / "colour.mkv"
    colorize_video(clip.path, out, colorizer, temporal=TemporalSettings(method="none"),
                   progress=False)
    with av.open(os.fspath(clip.path)) as c:
        src_packets = [bytes(p) for p in c.demux(audio=0) if p.size]
    with av.open(os.fspath(out)) as c:
        dst_packets = [bytes(p) for p in c.demux(audio=0) if p.size]
    assert dst_packets == src_packets


def test_audio_is_reencoded_when_the_container_refuses_its_codec(clip, colorizer, tmp_path):
    if "libvpx-vp9" not in av.codecs_available:
        pytest.skip("no VP9 encoder in this PyAV build")
    out = tmp_path / "colour.webm"  # WebM takes Opus/Vorbis only
    colorize_video(clip.path, out, colorizer, progress=False)
    dst = probe(out)
    assert dst["frames"] == 24 and dst["codec"] == "vp9"
    assert dst["audio"][0][0] == "opus"
    assert abs(dst["samples"][0] - probe(clip.path)["samples"][0]) <= SAMPLE_RATE / FPS


def frames_folder(folder: Path, clip_path: Path, count: int, size=None) -> list[np.ndarray]:
    folder.mkdir()
    with av.open(os.fspath(clip_path)) as c:
        frames = [f.to_ndarray(format="rgb24")
                  for f in itertools.islice(c.decode(video=0), count)]
    for i, rgb in enumerate(frames):
        if size:
            rgb = rgb[:size[1], :size[0]]
        write_image(folder / f"f{i:03d}.png", rgb)
    return frames


def test_frame_folder_in_video_out_uses_fps(clip, colorizer, tmp_path):
    frames_folder(tmp_path / "frames", clip.path, 10)
    out = tmp_path / "out.mp4"
    colorize_video(tmp_path / "frames", out, colorizer, fps=10, progress=False)
    dst = probe(out)
    assert dst["frames"] == 10 and dst["rate"] == 10 and dst["audio"] == []
    assert dst["duration"] == pytest.approx(1.0, abs=0.1)


def test_video_in_frame_folder_out(clip, colorizer, tmp_path):
    out = tmp_path / "frames"
    colorize_video(clip.path, f"{out}/", colorizer, progress=False)
    names = listing(out)
    assert names == [f"frame_{i:06d}.png" for i in range(1, 25)]
    assert read_image(out / names[0]).size == (64, 48)
    assert listing(tmp_path) == ["frames"]  # no temporary folder left


def test_frame_folder_to_existing_folder_without_temporal(clip, colorizer, tmp_path):
    frames_folder(tmp_path / "in", clip.path, 5)
    (tmp_path / "out").mkdir()
    colorize_video(tmp_path / "in", tmp_path / "out", colorizer,
                   temporal=TemporalSettings(method="none"), progress=False)
    assert listing(tmp_path / "out") == [f"frame_{i:06d}.png" for i in range(1, 6)]
    assert listing(tmp_path) == ["in", "out"]


def test_odd_sizes_are_padded_for_yuv420(clip, colorizer, tmp_path):
    frames_folder(tmp_path / "odd", clip.path, 4, size=(63, 47))
    out = tmp_path / "odd.mp4"
    colorize_video(tmp_path / "odd", out, colorizer, progress=False)
    dst = probe(out)
    assert (dst["width"], dst["height"]) == (64, 48) and dst["frames"] == 4


class Interrupting:
    """Wraps a Colorizer; its ``predict_chroma`` raises ``error`` on call number ``at``."""

    def __init__(self, colorizer, at: int, error: BaseException):
        self._colorizer, self.at, self.error, self.calls = colorizer, at, error, 0

    def __getattr__(self, name):
        return getattr(self._colorizer, name)

    def predict_chroma(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            raise self.error
        return self._colorizer.predict_chroma(*args, **kwargs)


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
@pytest.mark.parametrize("name", ["out.mp4", "frames/"])
def test_interrupted_run_leaves_no_output_and_no_temporary(clip, colorizer, tmp_path, error,
                                                           name):
    broken = Interrupting(colorizer, at=2, error=error)
    destination = f"{tmp_path}/{name}"  # "frames/" (a folder) keeps its slash
    with pytest.raises(type(error)):
        colorize_video(clip.path, destination, broken, batch_size=4, progress=False)
    assert broken.calls == 2  # it failed mid-way, after a batch had been written
    assert listing(tmp_path) == []


def test_interrupted_run_keeps_an_existing_output_intact(clip, colorizer, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError):
        colorize_video(clip.path, out, Interrupting(colorizer, 3, RuntimeError("x")),
                       batch_size=4, progress=False)
    assert out.read_bytes() == b"previous result"
    assert listing(tmp_path) == ["out.mp4"]


def wrap_decoded_frames(monkeypatch, pipeline: str, wrap) -> None:
    """Replaces the video source's frame iterator of ``pipeline`` by ``wrap(iterator)``."""
    name = "luma_frames" if pipeline == "yuv" else "frames"
    real = getattr(VideoFileSource, name)
    monkeypatch.setattr(VideoFileSource, name,
                        lambda self, on_audio=None: wrap(real(self, on_audio)))


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_failing_source_mid_way_leaves_nothing(clip, colorizer, tmp_path, monkeypatch,
                                               pipeline):
    def failing(frames):
        for i, frame in enumerate(frames):
            if i == 10:
                raise ValueError("clip.mp4: corrupt frame")
            yield frame

    wrap_decoded_frames(monkeypatch, pipeline, failing)
    with pytest.raises(ValueError, match="corrupt frame"):
        colorize_video(clip.path, tmp_path / "out.mp4", colorizer, batch_size=4,
                       progress=False, pipeline=pipeline)
    assert listing(tmp_path) == []


@pytest.mark.parametrize(("pipeline", "lead"), [("rgb", 3 - 1), ("yuv", 5 * 2 + 2)])
def test_memory_is_bounded_by_the_batch(clip, colorizer, tmp_path, monkeypatch, pipeline, lead):
    """Frames are pulled from the decoder only a batch ahead of the encoder (rgb), or a few
    batches in the yuv pipeline's queues (2 batches decoded, 1 colorizing, 2 to encode, one
    frame in each thread's hands)."""
    counts = {"decoded": 0, "lead": 0}

    def counting(frames):
        for frame in frames:
            counts["decoded"] += 1
            yield frame

    wrap_decoded_frames(monkeypatch, pipeline, counting)
    name = "write_planes" if pipeline == "yuv" else "write"
    write, written = getattr(VideoFileSink, name), [0]

    def counting_write(self, *args):
        written[0] += 1
        counts["lead"] = max(counts["lead"], counts["decoded"] - written[0])
        write(self, *args)

    monkeypatch.setattr(VideoFileSink, name, counting_write)
    batch_size = 3 if pipeline == "rgb" else 2
    colorize_video(clip.path, tmp_path / "out.mp4", colorizer, batch_size=batch_size,
                   progress=False, pipeline=pipeline)
    assert counts["decoded"] == 24 and written[0] == 24
    assert counts["lead"] <= lead


def test_cli_video_writes_and_refuses_to_overwrite(clip, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    args = ["video", str(clip.path), "-o", str(out), "--model", str(tiny_model_dir),
            "--no-progress", "--crf", "23", "--preset", "veryfast", "--batch-size", "6"]
    assert main(args) == 0
    assert probe(out)["frames"] == 24
    assert "24 frames" in capsys.readouterr().err
    assert main(args) == 2
    assert "exists; use --overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--temporal", "none"]) == 0


def test_cli_video_averages_each_key_frame_with_its_mirror_image_by_default(clip,
                                                                          tiny_model_dir,
                                                                          tmp_path):
    """Film defaults to flip averaging (the model's own setting is off): the default output is
    the --flip one, and --no-flip gives other colours with the same frames."""
    from tinct.inference.checkpoint import read_config

    assert read_config(tiny_model_dir).flip is False
    outputs = {}
    for name, extra in {"default": [], "flip": ["--flip"], "no-flip": ["--no-flip"]}.items():
        out = tmp_path / f"{name}.mp4"
        assert main(["video", str(clip.path), "-o", str(out), "--model", str(tiny_model_dir),
                     "--no-progress", "--preset", "veryfast", *extra]) == 0
        outputs[name] = probe(out)["rgb"].astype(np.int16)
    assert len(outputs["default"]) == 24
    assert outputs["default"].shape == outputs["no-flip"].shape
    assert np.abs(outputs["default"] - outputs["flip"]).max() <= 1
    assert np.abs(outputs["default"] - outputs["no-flip"]).mean() > 0.5


@pytest.mark.parametrize("extra, message", [
    (["--preset", "warp"], "unknown preset 'warp'"),
    (["--codec", "no-such-codec"], "cannot encode with 'no-such-codec'"),
    (["--fps", "10"], "--fps applies to frame folders only"),
    (["--temporal-strength", "1.5"], "temporal strength must be in [0, 1)"),
])
def test_cli_video_errors_are_one_line(clip, tiny_model_dir, tmp_path, capsys, extra, message):
    out = tmp_path / "out.mp4"
    rc = main(["video", str(clip.path), "-o", str(out), "--model", str(tiny_model_dir),
               "--no-progress", *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and len(err.splitlines()) == 1
    assert listing(tmp_path) == []


def test_cli_video_rejects_missing_input_and_overwriting_the_input(clip, tiny_model_dir,
                                                                    tmp_path, capsys):
    assert main(["video", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "o.mp4"),
                 "--model", str(tiny_model_dir), "--no-progress"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["video", str(clip.path), "-o", str(clip.path), "--overwrite",
                 "--model", str(tiny_model_dir), "--no-progress"]) == 2
    assert "refusing to overwrite the input" in capsys.readouterr().err
    assert clip.path.stat().st_size > 0 and probe(clip.path)["frames"] == 24
