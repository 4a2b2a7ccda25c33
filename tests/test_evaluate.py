"""Tests for tinct.evaluation.evaluate: the evaluation loop, baselines, aggregation,
galleries."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skimage_data

from helpers import Identity, save_small_model, write_photos
from tinct.color import rgb_to_lightness
from tinct.evaluation import metrics
from tinct.evaluation.evaluate import (
    PSNR_CAP_DB,
    EvalEntry,
    GrayBaseline,
    evaluate,
    evaluate_many,
    gray_version,
    load_entry,
)
from tinct.evaluation.features import efficientnet_lite_weights_path

HAVE_WEIGHTS = efficientnet_lite_weights_path(2) is not None
COLOUR_PHOTOS = ("a_chelsea.png", "b_coffee.png", "c_astronaut.jpg", "d_bands.png",
                 "e_gradient.png")


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return write_photos(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="module")
def identity_and_gray(photos):
    entries = [EvalEntry("identity", Identity()), EvalEntry("gray", GrayBaseline())]
    return evaluate_many(entries, photos, progress=False, gallery_size=2, sample_count=3)


def test_counts_skipped_gray_and_failed_files(identity_and_gray):
    result = identity_and_gray[0]
    assert result.n_images == 5
    assert [r["image"] for r in result.records] == list(COLOUR_PHOTOS)
    assert result.gray_skipped == ["f_gray.png"]
    assert [name for name, _ in result.failed] == ["g_broken.jpg"]
    assert "truncated" in result.failed[0][1] and "g_broken.jpg" not in result.failed[0][1]


def test_identity_model_gives_ideal_values(identity_and_gray):
    s = identity_and_gray[0].summary
    assert s["ab_mse"] == 0 and s["ab_rmse"] == 0
    for key in ("acc_2.5", "acc_5", "acc_10", "acc_20", "auc", "ssim"):
        assert s[key] == pytest.approx(1.0), key
    assert s["psnr"] == PSNR_CAP_DB  # infinite PSNR capped
    assert s["cf_pred"] == pytest.approx(s["cf_gt"]) and s["cf_gt"] > 10
    assert s["dcf"] == pytest.approx(0.0, abs=1e-9)
    assert s["seconds"] >= 0
    if HAVE_WEIGHTS:
        assert s["semantic_agreement"] == 1.0
        assert [r["same_class"] for r in identity_and_gray[0].records] == [1] * 5
        assert s["fd_effnet_lite2"] == pytest.approx(0.0, abs=1e-2)
        assert identity_and_gray[0].features_note is None


def test_gray_baseline_has_no_colour_and_dcf_equals_truth_colourfulness(identity_and_gray):
    gray = identity_and_gray[1]
    assert all(r["cf_pred"] == 0 for r in gray.records)
    mean_cf_gt = np.mean([r["cf_gt"] for r in gray.records])
    assert gray.summary["cf_pred"] == 0
    assert gray.summary["dcf"] == pytest.approx(mean_cf_gt)
    assert gray.summary["cf_gt"] == pytest.approx(identity_and_gray[0].summary["cf_gt"])
    assert 5 < gray.summary["psnr"] < 40 and gray.summary["ab_rmse"] > 5
    assert 0 < gray.summary["auc"] < 1
    if HAVE_WEIGHTS:
        assert gray.summary["fd_effnet_lite2"] > 1.0
        assert 0 <= gray.summary["semantic_agreement"] <= 1
        # each photo's verdict is recorded; their mean is the summary
        kept = [r["same_class"] for r in gray.records]
        assert set(kept) <= {0, 1} and np.mean(kept) == gray.summary["semantic_agreement"]
    stats = gray.stats["psnr"]
    assert stats["count"] == 5 and stats["std"] > 0


def test_gray_version_is_neutral_and_keeps_lightness():
    rgb = torch.from_numpy(skimage_data.coffee()[::6, ::6]).permute(2, 0, 1).float() / 255
    gray = gray_version(rgb)
    assert gray.shape == rgb.shape and gray.dtype == torch.float32
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])
    assert torch.allclose(rgb_to_lightness(gray), rgb_to_lightness(rgb), atol=0.05)


def test_metrics_at_full_resolution_match_tinct_metrics(photos):
    result = evaluate(GrayBaseline(), photos, limit=1, progress=False, metric_size=None,
                      features=False)
    gt = torch.from_numpy(np.array(Image.open(photos / "a_chelsea.png"))).permute(2, 0, 1)
    gt = gt.double() / 255
    expected = metrics.psnr(gray_version(gt).double(), gt)
    record = result.records[0]
    assert (record["width"], record["height"]) == (96, gt.shape[1])
    assert record["psnr"] == pytest.approx(float(expected), abs=1e-3)
    assert result.metric_size is None and result.features_note  # disabled, said so


def test_best_and_worst_galleries_are_ranked(identity_and_gray):
    gray = identity_and_gray[1]
    psnrs = sorted(r["psnr"] for r in gray.records)
    assert [g.value for g in gray.best] == pytest.approx(psnrs[::-1][:2])
    assert [g.value for g in gray.worst] == pytest.approx(psnrs[:2])
    item = gray.best[0]
    assert item.truth.dtype == np.uint8 and item.truth.shape == item.pred.shape
    assert max(item.truth.shape[:2]) <= 256
    assert np.array_equal(item.gray, item.pred)  # the gray baseline's prediction is the gray
    # the same evenly spaced sample files (0, 3, 6 of 7; file 6 is the broken one) for every entry
    assert [s.image for s in gray.samples] == ["a_chelsea.png", "d_bands.png"]
    assert [s.image for s in identity_and_gray[0].samples] == ["a_chelsea.png", "d_bands.png"]


def test_rank_by_a_lower_is_better_metric(photos):
    result = evaluate(GrayBaseline(), photos, progress=False, features=False,
                      rank_by="ab_rmse", gallery_size=1)
    errors = [r["ab_rmse"] for r in result.records]
    assert result.best[0].value == pytest.approx(min(errors))
    assert result.worst[0].value == pytest.approx(max(errors))


def test_real_model_at_two_sizes_with_a_worker(photos, tmp_path):
    entry = load_entry(str(save_small_model(tmp_path / "unet-small")), device="cpu")
    assert entry.label == "unet-small" and entry.info["parameters"] > 0
    entries = [entry, EvalEntry("unet-small @ 32 px", entry.model, 32), load_entry("gray")]
    results = evaluate_many(entries, photos, progress=False, features=False, workers=1,
                            batch_size=2, limit=6)
    assert [r.working_size for r in results] == [64, 32, None]
    for result in results:
        assert result.n_images == 5 and not result.failed  # limit 6 leaves out the broken file
        for key in ("psnr", "ssim", "ab_rmse", "auc", "cf_pred", "dcf", "seconds"):
            assert math.isfinite(result.summary[key]), (result.name, key)
        assert result.summary["fd_effnet_lite2"] is None
    assert results[0].summary["seconds"] > 0
    assert results[0].summary["psnr"] != results[1].summary["psnr"]  # size matters
    assert results[0].summary["cf_pred"] > 0


def test_nothing_to_evaluate_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no images found"):
        evaluate(GrayBaseline(), tmp_path, progress=False)
    Image.fromarray(np.full((20, 20, 3), 128, np.uint8)).save(tmp_path / "gray.png")
    with pytest.raises(ValueError, match="1 gray-looking skipped"):
        evaluate(GrayBaseline(), tmp_path, progress=False, features=False)
    with pytest.raises(ValueError, match="cannot rank by"):
        evaluate(GrayBaseline(), tmp_path, progress=False, rank_by="cf_pred")
