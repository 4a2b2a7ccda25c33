"""Tests for tinct.evaluation.metrics: reference values from scikit-image/numpy and
hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage import data  # noqa: E402
from skimage.color import rgb2lab  # noqa: E402
from skimage.metrics import peak_signal_noise_ratio, structural_similarity  # noqa: E402
from skimage.transform import resize  # noqa: E402

from tinct.color import lab_to_rgb
from tinct.evaluation import metrics

H, W = 72, 96  # not square, to catch transposed axes


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)


def _to_torch(hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1)))


@pytest.fixture(scope="module")
def pair():
    """(pred, gt): astronaut and chelsea at 72x96, float64 (2, 3, H, W); pred has noise."""
    rng = np.random.default_rng(0)
    gts = [resize(img, (H, W), anti_aliasing=True) for img in (data.astronaut(), data.chelsea())]
    preds = [np.clip(g + rng.normal(0, 0.06, g.shape), 0, 1) for g in gts]
    gt = torch.stack([_to_torch(g) for g in gts])
    pred = torch.stack([_to_torch(p) for p in preds])
    return pred, gt


def _from_lab(lab: list[list[float]]) -> torch.Tensor:
    """A (3, 1, N) float64 sRGB image whose pixels have the given Lab colours (in gamut)."""
    t = torch.tensor(lab, dtype=torch.float64).T.reshape(3, 1, -1)
    rgb = lab_to_rgb(t, clip=False)
    assert rgb.min() >= 0 and rgb.max() <= 1, "test colour out of gamut"
    return rgb


# --------------------------------------------------------------------------- PSNR / SSIM


def test_psnr_matches_skimage(pair):
    pred, gt = pair
    ours = metrics.psnr(pred, gt)
    assert ours.shape == (2,) and ours.dtype == torch.float64
    for i in range(2):
        g = _to_u8(gt[i].permute(1, 2, 0).numpy())
        p = _to_u8(pred[i].permute(1, 2, 0).numpy())
        ref = peak_signal_noise_ratio(g, p, data_range=255)
        assert ours[i].item() == pytest.approx(ref, abs=1e-9)
    # the single-image form gives the same numbers without the batch dimension
    single = metrics.psnr(pred[1], gt[1])
    assert single.shape == () and single.item() == pytest.approx(ours[1].item(), abs=1e-12)


def test_ssim_matches_skimage(pair):
    pred, gt = pair
    ours = metrics.ssim(pred.float(), gt.float())  # float32 input is quantized the same way
    assert ours.shape == (2,) and ours.dtype == torch.float64
    for i in range(2):
        g = _to_u8(gt[i].permute(1, 2, 0).numpy())
        p = _to_u8(pred[i].permute(1, 2, 0).numpy())
        ref = structural_similarity(
            g,
            p,
            channel_axis=-1,
            data_range=255,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        assert abs(ours[i].item() - ref) < 1e-4
        assert 0.1 < ref < 0.95  # the noise makes it a real test
    single = metrics.ssim(pred[0], gt[0])
    assert single.shape == () and single.item() == pytest.approx(ours[0].item(), abs=1e-6)


def test_ssim_needs_window_sized_images():
    x = torch.rand(1, 3, 10, 32)
    with pytest.raises(ValueError, match="11x11"):
        metrics.ssim(x, x)


def test_identical_images_are_perfect(pair):
    _, gt = pair
    m = metrics.compute_image_metrics(gt, gt.clone())
    assert torch.isinf(m["psnr"]).all() and (m["psnr"] > 0).all()
    torch.testing.assert_close(m["ssim"], torch.ones(2, dtype=torch.float64))
    assert (m["ab_mse"] == 0).all() and (m["ab_rmse"] == 0).all()
    for key in ("acc_2.5", "acc_5", "acc_10", "acc_20", "auc"):
        assert (m[key] == 1).all(), key
    assert (metrics.ab_error_map(gt, gt) == 0).all()


# --------------------------------------------------------------------------- ab metrics


def test_ab_error_map_matches_skimage_lab(pair):
    pred, gt = pair
    err = metrics.ab_error_map(pred, gt)
    assert err.shape == (2, H, W) and err.dtype == torch.float64
    for i in range(2):
        lab_p = rgb2lab(pred[i].permute(1, 2, 0).numpy())
        lab_g = rgb2lab(gt[i].permute(1, 2, 0).numpy())
        ref = np.linalg.norm(lab_p[..., 1:] - lab_g[..., 1:], axis=-1)
        np.testing.assert_allclose(err[i].numpy(), ref, atol=1e-6)
        ref_mse = (ref**2).mean()  # mean over pixels of da^2 + db^2
        assert metrics.ab_mse(pred, gt)[i].item() == pytest.approx(ref_mse, rel=1e-9)
        assert metrics.ab_rmse(pred, gt)[i].item() == pytest.approx(math.sqrt(ref_mse), rel=1e-9)
    assert metrics.ab_error_map(pred[0], gt[0]).shape == (H, W)


def test_accuracy_and_auc_of_a_constant_error_of_exactly_10():
    err = torch.full((2, 5, 7), 10.0, dtype=torch.float64)
    acc = metrics.accuracy_from_error(err)
    torch.testing.assert_close(acc, torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 2, dtype=torch.float64))
    # thresholds 0, 1, ..., 150: acc = 0 for t <= 9 and 1 for t >= 10; trapezoids give 0.5 on
    # [9, 10] and 140 on [10, 150], so AuC = 140.5 / 150 (the continuous value is 140 / 150)
    auc = metrics.auc_from_error(err)
    torch.testing.assert_close(auc, torch.full((2,), 140.5 / 150, dtype=torch.float64))
    assert abs(auc[0].item() - 140 / 150) <= 0.5 / 150
    # single map, and thresholds in any order
    assert metrics.auc_from_error(err[0]).shape == ()
    torch.testing.assert_close(
        metrics.accuracy_from_error(err[0], (20.0, 2.5, 10.0)),
        torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64),
    )


def test_ab_accuracy_and_auc_hand_computed_from_rgb():
    # image 1: every pixel 10.5 ab units off; image 2: two pixels 3.5 off, two 30.5 off (off the
    # 1-unit grid of AuC thresholds, so the Lab round trip's 1e-10 error cannot flip a pixel)
    gt_lab = [[60.0, 20.0, -30.0], [55.0, -10.0, 25.0], [70.0, 5.0, 5.0], [45.0, 0.0, 0.0]]

    def shifted(dists):  # move each gt colour by d along the unit direction (0.6, 0.8)
        return [[L, a + 0.6 * d, b + 0.8 * d] for (L, a, b), d in zip(gt_lab, dists, strict=True)]

    gt = torch.stack([_from_lab(gt_lab)] * 2)
    pred = torch.stack([_from_lab(shifted([10.5] * 4)), _from_lab(shifted([3.5, 30.5, 3.5, 30.5]))])
    np.testing.assert_allclose(
        metrics.ab_error_map(pred, gt).numpy().reshape(2, 4),
        [[10.5] * 4, [3.5, 30.5, 3.5, 30.5]],
        atol=1e-8,
    )
    acc = metrics.ab_accuracy(pred, gt)
    assert acc.shape == (2, 4) and acc.dtype == torch.float64
    np.testing.assert_allclose(acc.numpy(), [[0, 0, 0, 1], [0, 0.5, 0.5, 0.5]], atol=1e-12)
    # image 1: acc(t) = 1 from t = 11: 0.5 on [10, 11] + 139 on [11, 150]
    # image 2: half the pixels from t = 4 (0.5 + 146), half from t = 31 (0.5 + 119)
    expected = [139.5 / 150, 0.5 * (146.5 + 119.5) / 150]
    np.testing.assert_allclose(metrics.ab_auc(pred, gt).numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(
        metrics.ab_mse(pred, gt).numpy(), [10.5**2, (3.5**2 + 30.5**2) / 2], rtol=1e-9
    )
    # a coarser grid: thresholds 0, 50, 100, 150 -> acc (0, 1, 1, 1) for image 1
    coarse = metrics.ab_auc(pred[0], gt[0], max_threshold=150.0, steps=4)
    assert coarse.item() == pytest.approx((25 + 50 + 50) / 150, abs=1e-12)


# --------------------------------------------------------------------------- colorfulness


def test_colorfulness_of_gray_is_zero(pair):
    _, gt = pair
    gray = gt.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    cf = metrics.colorfulness(gray)
    assert cf.shape == (2,) and (cf == 0).all()


def test_colorfulness_hand_computed():
    # two pixels, pure red (255, 0, 0) and pure blue (0, 0, 255):
    # rg = |R - G| = (255, 0)        -> mean 127.5,  std 127.5
    # yb = |(R + G)/2 - B| = (127.5, 255) -> mean 191.25, std 63.75
    img = torch.tensor([[[1.0, 0.0]], [[0.0, 0.0]], [[0.0, 1.0]]])  # (3, 1, 2)
    expected = math.sqrt(127.5**2 + 63.75**2) + 0.3 * math.sqrt(127.5**2 + 191.25**2)
    assert expected == pytest.approx(211.5056, abs=1e-4)
    cf = metrics.colorfulness(img)
    assert cf.shape == () and cf.item() == pytest.approx(expected, rel=1e-12)
    assert metrics.colorfulness(img.unsqueeze(0).repeat(3, 1, 1, 1)).shape == (3,)


def test_colorfulness_matches_numpy_reference(pair):
    _, gt = pair
    cf = metrics.colorfulness(gt)
    for i in range(2):
        r, g, b = (gt[i].numpy() * 255.0).astype(np.float64)
        rg, yb = np.abs(r - g), np.abs(0.5 * (r + g) - b)
        ref = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(
            rg.mean() ** 2 + yb.mean() ** 2
        )
        assert cf[i].item() == pytest.approx(ref, rel=1e-10)
        assert 5 < ref < 100


def test_colorfulness_gap():
    assert metrics.colorfulness_gap(torch.tensor([10.0, 20.0]), np.array([40.0])) == 25.0
    assert metrics.colorfulness_gap([3.0, 5.0], [4.0]) == 0.0


# --------------------------------------------------------------------------- batch API


def test_compute_image_metrics_batch_and_single(pair):
    pred, gt = pair
    m = metrics.compute_image_metrics(pred, gt)
    keys = ["ab_mse", "ab_rmse", "acc_2.5", "acc_5", "acc_10", "acc_20", "auc", "psnr", "ssim"]
    assert list(m) == keys + ["cf_pred", "cf_gt"]
    for k, v in m.items():
        assert v.shape == (2,) and v.dtype == torch.float64, k
    torch.testing.assert_close(m["ab_mse"], metrics.ab_mse(pred, gt))
    torch.testing.assert_close(m["ab_rmse"], metrics.ab_rmse(pred, gt))
    acc = metrics.ab_accuracy(pred, gt)
    for i, k in enumerate(["acc_2.5", "acc_5", "acc_10", "acc_20"]):
        torch.testing.assert_close(m[k], acc[:, i])
    torch.testing.assert_close(m["auc"], metrics.ab_auc(pred, gt))
    torch.testing.assert_close(m["psnr"], metrics.psnr(pred, gt))
    torch.testing.assert_close(m["ssim"], metrics.ssim(pred, gt))
    torch.testing.assert_close(m["cf_pred"], metrics.colorfulness(pred))
    torch.testing.assert_close(m["cf_gt"], metrics.colorfulness(gt))
    assert (m["acc_2.5"] <= m["acc_5"]).all() and (m["acc_10"] <= m["acc_20"]).all()
    assert ((m["auc"] > 0) & (m["auc"] < 1)).all()

    one = metrics.compute_image_metrics(pred[1], gt[1])
    assert set(one) == set(m)
    for k, v in one.items():
        assert v.shape == (), k
        assert v.item() == pytest.approx(m[k][1].item(), rel=1e-9, abs=1e-12), k


def test_bad_inputs_raise():
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(x, x[:1])
    with pytest.raises(ValueError, match="shape"):
        metrics.ab_error_map(x[:, :2], x[:, :2])
    with pytest.raises(TypeError, match="floating-point"):
        metrics.ssim((x * 255).to(torch.uint8), (x * 255).to(torch.uint8))


# --------------------------------------------------------------------------- Frechet distance


def _rotation(d: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


def _samples_with_moments(n: int, mu: np.ndarray, cov: np.ndarray, seed: int) -> np.ndarray:
    """n samples whose sample mean and covariance (ddof 1) are exactly mu and cov."""
    z = np.random.default_rng(seed).normal(size=(n, len(mu)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # whitened
    return mu + z @ np.linalg.cholesky(cov).T


def test_frechet_identical_sets_is_zero():
    f = np.random.default_rng(1).normal(size=(300, 12)) * 3 + 1
    assert abs(metrics.frechet_distance(f, f.copy())) < 1e-8
    assert abs(metrics.frechet_distance(torch.from_numpy(f).float(), f)) < 1e-4


def test_frechet_closed_form_diagonal_and_rotated():
    mu1, mu2 = np.array([0.0, 1.0, 2.0, -1.0]), np.array([1.0, 1.0, 0.0, 0.5])
    s1, s2 = np.array([1.0, 4.0, 0.25, 9.0]), np.array([4.0, 1.0, 1.0, 9.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    # = (1 + 0 + 4 + 2.25) + (1 + 1 + 0.25 + 0) = 9.5
    assert expected == pytest.approx(9.5)
    got = metrics.frechet_distance_from_moments(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(9.5, abs=1e-9)
    # covariances sharing eigenvectors (not diagonal): the same closed form holds
    r = _rotation(4, 2)
    got = metrics.frechet_distance_from_moments(
        torch.from_numpy(mu1), r @ np.diag(s1) @ r.T, mu2, r @ np.diag(s2) @ r.T
    )
    assert got == pytest.approx(9.5, abs=1e-8)
    # feature sets with exactly these sample moments
    a = _samples_with_moments(500, mu1, r @ np.diag(s1) @ r.T, seed=3)
    b = _samples_with_moments(700, mu2, r @ np.diag(s2) @ r.T, seed=4)
    assert metrics.frechet_distance(a, b) == pytest.approx(9.5, abs=1e-8)


def test_frechet_rank_deficient_covariances_stay_finite():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(6, 32)), rng.normal(size=(6, 32)) + 0.5
    d = metrics.frechet_distance(a, b)
    assert math.isfinite(d) and d > 0


def test_feature_moments_match_direct_computation():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(257, 16)) @ rng.normal(size=(16, 16)) + 1e6  # large offset
    b = rng.normal(size=(190, 16)) * 2
    ma, mb = metrics.FeatureMoments(), metrics.FeatureMoments()
    for chunk in np.array_split(a, [1, 50, 51, 200]):  # uneven, including a 1-row batch
        ma.update(chunk)
    for chunk in torch.from_numpy(b).split(64):
        mb.update(chunk)
    assert ma.count == 257 and mb.count == 190
    np.testing.assert_allclose(ma.mean().numpy(), a.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(ma.cov().numpy(), np.cov(a, rowvar=False), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(mb.cov().numpy(), np.cov(b, rowvar=False), rtol=1e-10)
    direct = metrics.frechet_distance(a, b)
    via_moments = metrics.frechet_distance_from_moments(ma.mean(), ma.cov(), mb.mean(), mb.cov())
    assert via_moments == pytest.approx(direct, rel=1e-9)
    assert ma.frechet_distance(mb) == pytest.approx(direct, rel=1e-9)
    with pytest.raises(ValueError, match="dimension"):
        ma.update(np.zeros((2, 3)))


# --------------------------------------------------------------------------- RunningStats


def test_running_stats_match_numpy():
    rng = np.random.default_rng(7)
    values = rng.normal(25.0, 3.0, size=1000)
    stats = metrics.RunningStats()
    for chunk in np.array_split(values, [1, 10, 500, 501]):
        stats.update("psnr", torch.from_numpy(chunk))
    stats.update("ssim", 0.5)
    stats.update("ssim", [0.7])
    assert stats.mean("psnr") == pytest.approx(values.mean(), rel=1e-12)
    assert stats.std("psnr") == pytest.approx(values.std(), rel=1e-10)
    assert stats.std("psnr", ddof=1) == pytest.approx(values.std(ddof=1), rel=1e-10)
    assert stats.as_dict() == {
        "psnr": {"mean": stats.mean("psnr"), "std": stats.std("psnr"), "count": 1000},
        "ssim": {"mean": pytest.approx(0.6), "std": pytest.approx(0.1), "count": 2},
    }
    with pytest.raises(KeyError):
        stats.mean("missing")


def test_running_stats_propagate_infinity_like_numpy():
    stats = metrics.RunningStats()
    stats.update("psnr", torch.tensor([30.0, math.inf]))
    stats.update("psnr", torch.tensor([20.0]))
    assert stats.mean("psnr") == np.mean([30.0, np.inf, 20.0]) == math.inf
    assert math.isnan(stats.std("psnr")) and stats.count("psnr") == 3


@pytest.mark.parametrize("name,noise", [("astronaut", 0.003), ("coffee", 0.02), ("rocket", 0.1),
                                        ("hubble_deep_field", 0.001)])
def test_ssim_at_full_size_keeps_float64_precision(name, noise):
    """SSIM filters in float32 for speed; on full-size photos (512 px and more, where flat
    regions make the variances small; a dark one) it stays within 2e-6 of skimage's float64
    SSIM (measured: 1.3e-6 at worst over seven photos and five noise levels, 3.0e-6 without
    centring the values on mid-gray)."""
    gt = getattr(data, name)()
    rng = np.random.default_rng(1)
    pred = np.clip(gt / 255 + rng.normal(0, noise, gt.shape), 0, 1)
    pred[..., 0] *= 0.9  # a colour cast as well as noise
    ours = metrics.ssim(_to_torch(pred), _to_torch(gt / 255)).item()
    ref = structural_similarity(gt, _to_u8(pred), channel_axis=-1, data_range=255,
                                gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert abs(ours - ref) < 2e-6


def test_truth_terms_give_the_same_metrics(pair):
    """Metrics against a photo's precomputed truth terms (made once for a decode sweep's
    many models) are the metrics against the photo itself, batched or single; a prediction
    of another size is refused."""
    pred, gt = pair
    direct = metrics.compute_image_metrics(pred, gt)
    cached = metrics.compute_image_metrics(pred, metrics.truth_terms(gt))
    assert direct.keys() == cached.keys()
    for key in direct:
        torch.testing.assert_close(cached[key], direct[key], rtol=0, atol=0)
    single = metrics.compute_image_metrics(pred[1], metrics.truth_terms(gt[1]))
    assert single["psnr"].shape == () and single["ssim"].item() == direct["ssim"][1].item()
    with pytest.raises(ValueError, match="same shape"):
        metrics.compute_image_metrics(pred[:, :, :40], metrics.truth_terms(gt))
