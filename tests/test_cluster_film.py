"""``tinct video --engine ray``: a film cut into parts, colorized in parallel on a real
two-node Ray cluster and joined without re-encoding. Compared with the one-machine path:
frame count, timestamps, audio, duration and the flicker score against the colour clip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import RAY_ENV, requires_av, requires_cv2, requires_ray
from tinct.cluster.film import Part, plan_parts

pytestmark = [requires_av, requires_cv2]


def test_parts_cover_every_frame_once_with_seams_at_key_frames():
    parts = plan_parts(1000, 3, overlap=12, keyframes=(0, 250, 340, 700))
    assert parts == [Part(0, 0, 340, 0), Part(1, 340, 700, 328), Part(2, 700, 1000, 688)]
    even = plan_parts(1000, 4, overlap=5)  # no key frame near: even cuts
    assert [(p.start, p.stop) for p in even] == [(0, 250), (250, 500), (500, 750), (750, 1000)]
    assert plan_parts(40, 8) == [Part(0, 0, 40, 0)]  # too short to split
    for frames, count in [(97, 2), (500, 7), (4801, 100)]:
        parts = plan_parts(frames, count)
        assert parts[0].start == 0 and parts[-1].stop == frames
        assert all(a.stop == b.start for a, b in zip(parts, parts[1:], strict=False))
        assert all(p.stop - p.start >= 48 for p in parts)


def test_the_parts_folder_survives_stale_file_clean_up_and_names_its_settings(tmp_path):
    from tinct.cluster.film import parts_folder
    from tinct.fileio import TEMP_NAME

    source = tmp_path / "reel.mp4"
    source.write_bytes(b"not decoded here")
    final = tmp_path / "reel-colour.mp4"
    folder = parts_folder(source, final, {"crf": 18})
    assert folder.parent == tmp_path and folder.name.startswith(".reel-colour.mp4.tinct-parts-")
    assert not TEMP_NAME.match(folder.name)  # not removed as a stale temporary file
    assert parts_folder(source, final, {"crf": 18}) == folder  # a rerun finds its parts
    assert parts_folder(source, final, {"crf": 20}) != folder  # other settings: other parts


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from tinct.video.testclips import make_clip, skimage_photos

    folder = tmp_path_factory.mktemp("film")
    return make_clip(folder / "clip.mp4", skimage_photos()[:4], width=96, height=64,
                     frames_per_shot=30, fps=12)


def _decoded(path: Path) -> tuple[list[int], list[torch.Tensor]]:
    import av

    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return ([f.pts for f in frames],
            [torch.from_numpy(f.to_ndarray(format="rgb24")).permute(2, 0, 1).float() / 255
             for f in frames])


def _audio(path: Path) -> tuple[list[str], list[bytes], float]:
    import av

    with av.open(str(path)) as container:
        codecs = [s.codec_context.name for s in container.streams.audio]
        packets = [bytes(p) for p in container.demux(*container.streams.audio) if p.size]
        return codecs, packets, container.duration / 1e6


def _flicker(path: Path, truth: list[torch.Tensor]) -> float:
    from tinct.video.flicker import FlickerMeter

    meter = FlickerMeter()
    for predicted, true in zip(_decoded(path)[1], truth, strict=True):
        meter.update(predicted, true)
    return meter.score


def test_parts_join_into_the_source_timing_with_their_packets_copied(clip, tmp_path):
    """In-process (no Ray): parts encoded by colorize_part, joined by join_parts. The joined
    video's packets are the parts' packets, byte for byte; a finished part is reused."""
    import av

    from tinct.cluster.film import colorize_part, index_film, join_parts
    from tinct.inference.batch import ColorizerSpec
    from tinct.video.sinks import EncodeSettings
    from tinct.video.temporal import TemporalSettings

    index = index_film(clip.path)
    assert len(index.pts) == 120 and index.keyframes[:4] == (0, 30, 60, 90)
    parts = plan_parts(len(index.pts), 2, 12, index.keyframes)
    paths = [tmp_path / f"part_{p.index}.mp4" for p in parts]
    for part, path in zip(parts, paths, strict=True):
        result = colorize_part(str(clip.path), part, index, str(path), ColorizerSpec(), 64, 8,
                               TemporalSettings(method="flow"), EncodeSettings())
        assert result["frames"] == part.stop - part.start and not result["reused"]
    again = colorize_part(str(clip.path), parts[0], index, str(paths[0]), ColorizerSpec(),
                          64, 8, TemporalSettings(method="flow"), EncodeSettings())
    assert again["reused"]
    joined = join_parts(paths, clip.path, tmp_path / "joined.mp4")
    pts, _ = _decoded(joined)
    assert pts == list(index.pts)

    def packets(path):
        with av.open(str(path)) as c:
            return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]

    assert packets(joined) == packets(paths[0]) + packets(paths[1])
    assert _audio(joined)[:2] == _audio(clip.path)[:2]  # audio copied, not re-encoded


@pytest.fixture(scope="module")
def one_shot(tmp_path_factory):
    """120 frames of one shot: the key frame is frame 0 only, so the seam falls mid-shot."""
    from tinct.video.testclips import make_clip, skimage_photos

    folder = tmp_path_factory.mktemp("one-shot")
    return make_clip(folder / "shot.mp4", skimage_photos()[:1], width=96, height=64,
                     frames_per_shot=120, fps=12)


@requires_ray
@pytest.mark.slow
def test_ray_engine_matches_the_one_machine_film(ray_cluster, one_shot, tmp_path):
    """Lossless encoding (crf 0), so the comparison sees the colour, not encoder noise: with
    the default warm-up the seam mid-shot leaves no trace."""
    clip = one_shot

    def video(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tinct", "video", str(clip.path), *args,
                               "--size", "64", "--crf", "0", "--temporal", "flow",
                               "--no-progress"],
                              capture_output=True, text=True, env=RAY_ENV, timeout=600)

    # the Ray engine's workers colorize frames as the RGB pipeline does
    local = video("-o", str(tmp_path / "local.mp4"), "--pipeline", "rgb")
    ray = video("-o", str(tmp_path / "ray.mp4"), "--engine", "ray", "--ray-address",
                ray_cluster, "--ray-workers", "2")
    assert local.returncode == 0 and ray.returncode == 0, ray.stderr
    assert "120 frames" in ray.stderr
    truth_pts, truth = _decoded(clip.path)
    assert _decoded(tmp_path / "ray.mp4")[0] == truth_pts == _decoded(tmp_path / "local.mp4")[0]
    codecs, packets, duration = _audio(tmp_path / "ray.mp4")
    source_codecs, source_packets, source_duration = _audio(clip.path)
    assert codecs == source_codecs and packets == source_packets
    assert abs(duration - source_duration) < 0.05
    flicker_ray = _flicker(tmp_path / "ray.mp4", truth)
    flicker_local = _flicker(tmp_path / "local.mp4", truth)
    # the flicker score is relative to the truth's own change, so it can be below zero
    assert flicker_ray <= flicker_local + 1e-3, (flicker_ray, flicker_local)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["local.mp4", "ray.mp4"]  # no parts

    refused = video("-o", str(tmp_path / "frames") + "/", "--engine", "ray")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "--engine ray colorizes a video file into a video file" in refused.stderr
    # the same colour: where a part's batches differ from one machine's, float rounding can
    # move a stored YUV sample by one step, which is up to 3/255 in RGB (the conversion's
    # factors 1.164 for Y and 1.596 / 2.018 for V / U), and nowhere more
    differences = [(a - b).abs() for a, b in zip(
        _decoded(tmp_path / "ray.mp4")[1], _decoded(tmp_path / "local.mp4")[1], strict=True)]
    largest = max(float(d.max()) for d in differences)
    mean = float(torch.stack(differences).mean())
    assert largest <= 3 / 255 and mean <= 0.05 / 255, (largest * 255, mean * 255)
