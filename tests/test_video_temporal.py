"""Temporal consistency (propagation along flow, scene cuts), the flicker metric, and
``tinct eval-video``."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from helpers import requires_av, requires_cv2
from tinct.cli import main
from tinct.color import lab_to_rgb
from tinct.errors import InputError
from tinct.inference.pipeline import lightness_of
from tinct.video.colorize import FrameColorizer
from tinct.video.evaluate import evaluate_video, stored_render
from tinct.video.flicker import FlickerMeter, static_mask
from tinct.video.temporal import (
    ChromaStabilizer,
    SceneCutDetector,
    TemporalSettings,
)
from tinct.video.testclips import clip_frames, make_clip, skimage_photos

W, H = 64, 48


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """Two shots of 12 frames (hold, pan, zoom), cut at 12: ``(24, 48, 64, 3)`` uint8."""
    return np.stack(list(clip_frames(skimage_photos()[:2], W, H, 12)))


@pytest.fixture(scope="module")
def small_L(frames) -> list[np.ndarray]:
    return [lightness_of(f)[0].numpy() for f in frames]


def texture(seed: int = 0, shape=(H, W)) -> np.ndarray:
    """Smooth random lightness ``(h, w)`` in about [20, 80]: trackable by optical flow."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.uniform(20, 80, (1, 1, shape[0] // 4, shape[1] // 4)))
    return torch.nn.functional.interpolate(coarse, size=shape, mode="bicubic",
                                           align_corners=False)[0, 0].numpy().astype(np.float32)


def mean_change(chromas: list[np.ndarray]) -> float:
    return float(np.mean([np.linalg.norm(b - a, axis=0).mean()
                          for a, b in itertools.pairwise(chromas)]))


# --------------------------------------------------------------------------- scene cuts


def test_scene_cut_detected_at_the_right_frame(small_L):
    detector = SceneCutDetector(threshold=12.0)
    cuts = [i for i, L in enumerate(small_L) if detector.is_cut(L)]
    assert cuts == [12]


def test_scene_cut_score_is_zero_for_a_still_and_large_for_a_cut(small_L):
    detector = SceneCutDetector()
    assert detector.score(small_L[0]) is None
    assert detector.score(small_L[0]) == 0.0
    assert detector.score(small_L[12]) > 12.0


def test_fast_pans_are_not_cuts():
    """8-frame shots pan 4 px per frame at 64 px: the thumbnail changes as much as at a cut,
    but the motion explains it, so only the real cuts reset the history."""
    frames = clip_frames(skimage_photos()[:3], W, H, 8)
    L = [lightness_of(f)[0].numpy() for f in frames]
    detector = SceneCutDetector()
    candidates = [i for i, x in enumerate(L) if detector.is_cut(x)]
    assert {8, 16} < set(candidates)  # the thumbnail test alone also flags the pans
    stabilizer = ChromaStabilizer()
    for x in L:
        stabilizer(x, np.zeros((2, H, W), np.float32))
    assert stabilizer.cuts == [8, 16]


@requires_cv2
def test_tracks_record_the_measurements_behind_the_cut_decision(small_L):
    """Each track keeps its thumbnail change and unexplained share: none at the first frame,
    both above the thresholds at the cut, the share below them within the shot."""
    stabilizer = ChromaStabilizer()
    tracks = [stabilizer.track(L) for L in small_L]
    assert tracks[0].change is None and tracks[0].unexplained is None
    settings = stabilizer.settings
    assert tracks[12].cut and tracks[12].change > settings.cut_threshold
    assert tracks[12].unexplained > settings.cut_share
    thumb = SceneCutDetector().thumbnail
    assert tracks[1].change == pytest.approx(
        float(np.abs(thumb(small_L[1]) - thumb(small_L[0])).mean()))
    assert max(t.unexplained for t in tracks[1:12]) < settings.cut_share


@requires_cv2
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_cut_between_shots_alike_in_lightness_is_found(seed):
    """The second shot keeps 35% of the first one's lightness pattern, so its thumbnail
    changes by about 10 L* (under the old threshold of 12) while the motion explains little
    of it: the cut is found, where the old threshold missed it; the moving frames of each shot
    are not cuts."""
    first = texture(0)
    second = 0.35 * first + 0.65 * texture(seed)
    frames = [np.roll(first, k, axis=1) for k in range(4)]
    frames += [np.roll(second, k, axis=1) for k in range(4, 8)]
    stabilizer = ChromaStabilizer()
    tracks = [stabilizer.track(x) for x in frames]
    assert 8.0 < tracks[4].change < 12.0
    assert stabilizer.cuts == [4]
    old = ChromaStabilizer(TemporalSettings(cut_threshold=12.0))
    for x in frames:
        old.track(x)
    assert old.cuts == []


def flat_with_texture(seed: int, textured: float = 0.45) -> np.ndarray:
    """Lightness ``(h, w)`` at 50 on the left, a contrasty texture (std 25) on the right
    ``textured`` share: two such shots share their flat part, which any flow explains."""
    t = texture(seed)
    t = (t - t.mean()) / t.std() * 25 + 50
    frame = np.full((H, W), 50.0, np.float32)
    start = int(W * (1 - textured))
    frame[:, start:] = np.clip(t[:, start:], 0, 100)
    return frame


@requires_cv2
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_cut_between_shots_sharing_a_flat_area_is_found(seed):
    """Only the textured 45% of the frame changes at the cut, so the flow explains over half
    of the new shot: the cut is found with the share of 30%, and missed with the old 50%."""
    frames = [flat_with_texture(0)] * 3 + [flat_with_texture(seed)] * 3
    stabilizer = ChromaStabilizer()
    tracks = [stabilizer.track(x) for x in frames]
    assert tracks[3].change > 8.0 and 0.3 < tracks[3].unexplained < 0.5
    assert stabilizer.cuts == [3]
    old = ChromaStabilizer(TemporalSettings(cut_share=0.5))
    for x in frames:
        old.track(x)
    assert old.cuts == []


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_a_cut_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(InputError, match="cut share must be in"):
        TemporalSettings(cut_share=share)


@requires_cv2
def test_propagation_does_not_carry_chroma_across_a_cut(small_L):
    """Chroma is (+40, 0) before the cut and (-40, 0) after: the first frame after the cut
    must be exactly the new prediction, not a blend with the old shot."""
    before = np.stack([np.full((H, W), 40.0), np.zeros((H, W))]).astype(np.float32)
    after = -before
    stabilizer = ChromaStabilizer(TemporalSettings(method="flow"))
    outs = [stabilizer(L, before if i < 12 else after) for i, L in enumerate(small_L[:14])]
    assert stabilizer.cuts == [12]
    np.testing.assert_array_equal(outs[12], after)
    assert np.abs(outs[13] - after).max() < 1e-4  # the new shot propagates its own colour
    # without cut detection the old colour leaks into the new shot
    blind = ChromaStabilizer(TemporalSettings(method="flow", cut_threshold=1e9))
    leaked = [blind(L, before if i < 12 else after) for i, L in enumerate(small_L[:13])][12]
    assert blind.cuts == [] and np.abs(leaked - after).max() > 1.0


# --------------------------------------------------------------------------- propagation


@requires_cv2
def test_flow_propagation_cuts_flicker_on_a_still_scene():
    L = texture()
    rng = np.random.default_rng(1)
    base = np.stack([np.full((H, W), 20.0), np.full((H, W), -10.0)]).astype(np.float32)
    noisy = [base + rng.normal(0, 5, base.shape).astype(np.float32) for _ in range(30)]
    stabilizer = ChromaStabilizer(TemporalSettings(method="flow", strength=0.85))
    steady = [stabilizer(L, c) for c in noisy]
    assert mean_change(steady[10:]) < 0.3 * mean_change(noisy[10:])
    assert stabilizer.confidence.mean() > 0.8  # a still scene is fully trusted
    # ... and follows the truth on average rather than drifting
    assert np.abs(np.mean(steady[10:], axis=0) - base).mean() < 1.0


def test_method_none_leaves_predictions_untouched(frames, colorizer):
    a = FrameColorizer(colorizer, temporal=TemporalSettings(method="none"))
    b = FrameColorizer(colorizer, temporal=None)
    np.testing.assert_array_equal(a(frames[:4]), b(frames[:4]))
    assert a.stabilizer is None and a.cuts == []


@requires_cv2
def test_chroma_follows_motion_without_smearing():
    """A textured scene moves 1.5 px/frame right, its colour moving with it: the propagated
    colour must stay on the moving content (no trail), close to the per-frame truth."""
    big = texture(2, (H, W + 64))
    hue = np.stack([np.where(big > 50, 30.0, -30.0), np.where(big > 50, -20.0, 20.0)])
    stabilizer = ChromaStabilizer(TemporalSettings(method="flow", strength=0.85))
    errors, frozen = [], []
    for t in range(20):
        x = 32 - 1.5 * t  # window moves left over the scene = content moves right
        L = shift(big, x)[:, :W]
        truth = np.stack([shift(c, x)[:, :W] for c in hue]).astype(np.float32)
        out = stabilizer(L, truth)
        inner = (slice(4, -4), slice(8, -8))
        errors.append(np.abs(out - truth)[:, inner[0], inner[1]].mean())
        if t == 0:
            first = truth
        frozen.append(np.abs(first - truth)[:, inner[0], inner[1]].mean())
    assert max(errors[5:]) < 0.2 * np.mean(frozen[5:])


def shift(image: np.ndarray, x: float) -> np.ndarray:
    """``image`` sampled at columns ``x + j`` (linear interpolation)."""
    cols = np.arange(image.shape[1]) + x
    j0 = np.clip(np.floor(cols).astype(int), 0, image.shape[1] - 1)
    j1 = np.clip(j0 + 1, 0, image.shape[1] - 1)
    w = (cols - np.floor(cols))[None]
    return (image[:, j0] * (1 - w) + image[:, j1] * w).astype(np.float32)


# --------------------------------------------------------------------------- flicker metric


def lab_frame(a: float, b: float, L: np.ndarray | None = None) -> torch.Tensor:
    """An sRGB frame ``(3, H, W)`` float64 with lightness ``L`` (default a gradient) and
    constant chroma (a, b)."""
    L = torch.linspace(30, 70, W).expand(H, W) if L is None else torch.from_numpy(L)
    lab = torch.stack([L.double(), torch.full((H, W), a).double(), torch.full((H, W), b).double()])
    return lab_to_rgb(lab)


def test_flicker_is_zero_for_a_static_clip_with_constant_chroma():
    meter = FlickerMeter()
    frame = lab_frame(10, 20)
    for _ in range(6):
        meter.update(frame, frame)
    assert meter.pairs == 5 and meter.static_share == 1.0
    assert meter.score == 0.0 and meter.pred_change == 0.0


def test_flicker_of_alternating_chroma_on_static_pixels():
    """Output chroma alternates between (10, 20) and (10 + 6, 20 + 8): |change| = 10 each
    pair; the ground truth is still, so the score is 10."""
    meter = FlickerMeter()
    gt = lab_frame(0, 0)
    for t in range(8):
        meter.update(lab_frame(10, 20) if t % 2 == 0 else lab_frame(16, 28), gt)
    assert meter.score == pytest.approx(10.0, abs=0.02)
    assert meter.gt_change == pytest.approx(0.0, abs=1e-6)


def test_flicker_counts_only_pixels_static_in_the_ground_truth():
    L0 = np.tile(np.linspace(30, 70, W, dtype=np.float64), (H, 1))
    L1 = L0.copy()
    L1[:, W // 2:] += 10  # the right half changes in the truth
    meter = FlickerMeter()
    meter.update(lab_frame(0, 0, L0), lab_frame(0, 0, L0))
    pair = meter.update(lab_frame(30, 0, L1), lab_frame(0, 0, L1))
    assert meter.static_share == pytest.approx(0.5)
    assert pair.static_pixels == H * W // 2
    assert meter.score == pytest.approx(30.0, abs=0.05)
    mask = static_mask(lab_frame(0, 0, L1), lab_frame(0, 0, L0))
    assert mask[:, : W // 2].all() and not mask[:, W // 2:].any()


# --------------------------------------------------------------------------- evaluation


@pytest.fixture(scope="module")
def colour_clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("eval") / "clip.mp4", skimage_photos()[:2], W, H,
                     frames_per_shot=8, fps=8, audio=False)


@requires_av
@requires_cv2
def test_evaluate_video_scores_both_methods_on_the_same_predictions(colour_clip, colorizer):
    scores = evaluate_video(colorizer, colour_clip.path,
                            {"none": None, "flow": TemporalSettings(method="flow")}, batch_size=5,
                            progress=False)
    none, flow = scores["none"], scores["flow"]
    assert none.frames == flow.frames == 16 == len(flow.per_frame)
    assert none.cuts == [] and flow.cuts == [8]
    # identical until the first frame with history: the first frames of each shot agree
    assert none.per_frame[0]["psnr"] == flow.per_frame[0]["psnr"]
    assert none.per_frame[8]["psnr"] == flow.per_frame[8]["psnr"]
    for s in (none, flow):
        assert 5 < s.psnr < 60 and 0 < s.ssim <= 1 and s.dcf >= 0
        assert np.isfinite(s.flicker) and 0 < s.static_share < 1
        assert s.gt_change == none.gt_change


@requires_av
def test_stored_render_keeps_gray_and_averages_colour_over_2x2_blocks():
    gray = np.full((7, 9, 3), 128, np.uint8)
    stored = stored_render(gray)
    assert stored.shape == (7, 9, 3) and np.abs(stored.astype(int) - 128).max() <= 1
    stripes = np.zeros((8, 8, 3), np.uint8)
    stripes[:, ::2] = (200, 40, 40)  # red and blue columns of equal luma share a chroma sample
    stripes[:, 1::2] = (40, 40, 200)
    stored = stored_render(stripes).astype(int)
    assert np.abs(stored[:, ::2] - stored[:, 1::2]).max() < np.abs(
        stripes[:, ::2].astype(int) - stripes[:, 1::2]).max() / 2


@requires_av
@requires_cv2
def test_evaluate_video_renders_as_each_film_path_stores_and_refuses_an_unknown_one(
        colour_clip, colorizer):
    methods = {"rgb": None, "stored": None, "yuv": None}
    scores = evaluate_video(colorizer, colour_clip.path, methods, progress=False,
                            pipelines={"stored": "rgb-stored", "yuv": "yuv"})
    psnr = {name: s.psnr for name, s in scores.items()}
    assert len(set(psnr.values())) == 3 and max(psnr.values()) - min(psnr.values()) < 1.5
    with pytest.raises(InputError, match="unknown rendering 'yuv444'"):
        evaluate_video(colorizer, colour_clip.path, methods, progress=False,
                       pipelines={"yuv": "yuv444"})


@requires_av
@requires_cv2
def test_cli_eval_video_prints_table_and_writes_json(colour_clip, tiny_model_dir, tmp_path,
                                                     capsys):
    report = tmp_path / "scores.json"
    per_frame = tmp_path / "frames.csv"
    rc = main(["eval-video", str(colour_clip.path), "-m", str(tiny_model_dir),
               "--json", str(report), "--per-frame", str(per_frame), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "flicker" in out and "temporal 'flow' vs frame by frame" in out
    data = json.loads(report.read_text())
    assert set(data["methods"]) == {"none", "flow"}
    assert data["methods"]["flow"]["cuts"] == [8]
    lines = per_frame.read_text().splitlines()
    assert len(lines) == 1 + 2 * 16 and lines[0].startswith("method,frame,psnr")
