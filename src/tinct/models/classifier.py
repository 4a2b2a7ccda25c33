"""Per-pixel colour classification (Zhang et al. 2016) on a U-Net, with annealed-mean decoding."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from tinct import color
from tinct.errors import InputError
from tinct.models import quantization
from tinct.models.base import ColorizationNet
from tinct.models.hints import HINT_CHANNELS
from tinct.models.registry import register_model
from tinct.models.unet import UNetBackbone

# hint maps enter the network multiplied by this: Adam moves a weight by about the learning
# rate per step whatever its input's scale, so the larger input lets the zero-initialised hint
# weights matter after hundreds of fine-tuning steps rather than tens of thousands
HINT_GAIN = 8.0


class DecodeSettings:
    """The decode settings a colour classifier (or a view of one) carries: ``temperature``
    and ``boost`` attributes, recorded in a saved model's ``config.json`` under ``decode``.
    Overrides the refusals of :class:`ColorizationNet`."""

    temperature: float
    boost: float

    def decode_settings(self) -> dict[str, float]:
        """What ``config.json`` records under ``decode``."""
        return {"temperature": float(self.temperature), "boost": float(self.boost)}

    def set_decode(self, temperature: float | None = None, boost: float | None = None) -> None:
        """Sets the decode settings; None keeps one. Raises ``InputError`` for a temperature
        that is not a positive number or a boost below 0 (see :func:`check_decode`)."""
        check_decode(temperature, boost)
        if temperature is not None:
            self.temperature = float(temperature)
        if boost is not None:
            self.boost = float(boost)

    def with_decode(self, temperature: float | None = None, boost: float | None = None
                    ) -> DecodeView:
        """A :class:`DecodeView` of the classifier at these settings (None keeps this one's)."""
        classifier = getattr(self, "classifier", self)
        network = getattr(self, "network", self)
        return DecodeView(classifier, self.temperature if temperature is None else temperature,
                          self.boost if boost is None else boost, network=network)


class ColorClassifier(DecodeSettings, ColorizationNet):
    """U-Net that classifies each pixel into Q colour bins at stride 4.

    ``forward``: ``(B, 1, H, W)`` -> logits ``(B, Q, H/4, W/4)``. ``decode``: annealed mean of
    the bin centres at ``temperature`` (optionally rebalanced by ``boost``) -> chroma
    ``(B, 2, H/4, W/4)`` in network units.
    Buffers saved with the model: ``centres`` ``(Q, 2)`` in colour-space units and ``prior``
    ``(Q,)``, the empirical bin distribution of the training data (used for rebalancing).

    With ``hints=True`` the network also takes a colour-hint map ``(B, 3, H, W)``
    (:mod:`tinct.models.hints`; Zhang et al. 2017): it enters twice, through a 3x3 stride-2
    convolution added to the encoder's stem output (so the encoder can spread a hint over the
    region it belongs to) and, average-pooled to the output stride, through a 1x1 convolution
    added to the features before the head (so the hinted place itself gets the colour; per
    output cell, the mean hinted chroma and whether any of its pixels is hinted). Both
    start at zero and have no bias, so an all-zero map (no hints) gives exactly the automatic
    network's output, before and after training.
    """

    size_multiple = 32
    output_stride = 4
    output_kind = "classification"

    def __init__(self, encoder: str, decoder_channels: Sequence[int], centres: torch.Tensor,
                 temperature: float, chroma_scale: float, pretrained: bool,
                 hints: bool = False):
        super().__init__()
        self.backbone = UNetBackbone(encoder, decoder_channels, 1, pretrained)
        q = centres.shape[0]
        self.head = nn.Conv2d(self.backbone.out_channels, q, 1)
        self.accepts_hints = bool(hints)
        if hints:
            self.hint_stem = nn.Conv2d(HINT_CHANNELS, self.backbone.encoder.stem_channels, 3, 2,
                                       1, bias=False)
            self.hint_head = nn.Conv2d(HINT_CHANNELS, self.backbone.out_channels, 1, bias=False)
            nn.init.zeros_(self.hint_stem.weight)
            nn.init.zeros_(self.hint_head.weight)
        self.register_buffer("centres", centres.float().clone())
        self.register_buffer("prior", torch.full((q,), 1.0 / q))
        self.temperature = temperature
        self.boost = 0.0  # decode-time rebalancing (see ``decode``)
        self.chroma_scale = chroma_scale

    @property
    def num_bins(self) -> int:
        return self.centres.shape[0]

    def _forward(self, x: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        if hints is None:
            return self.head(self.backbone(x))
        features = self.backbone(x, self.hint_stem(hints * HINT_GAIN))
        # per output cell: the mean hinted chroma and whether any pixel of it is hinted
        s = self.output_stride
        covered = F.avg_pool2d(hints[:, 2:], s)
        chroma = F.avg_pool2d(hints[:, :2], s) / covered.clamp(min=1e-6)
        local = torch.cat([chroma, (covered > 0).to(hints.dtype)], 1) * HINT_GAIN
        return self.head(features + self.hint_head(local))

    def decode(self, out: torch.Tensor, temperature: float | None = None,
               boost: float | None = None) -> torch.Tensor:
        """Logits ``(B, Q, h, w)`` -> chroma ``(B, 2, h, w)`` in network units.

        The annealed mean at ``temperature`` of the distribution reweighted by the rebalancing
        weights raised to ``boost``: ``p'(q) ∝ p(q) w(q)^boost``, ``w`` being Zhang et al.'s
        weights (``quantization.rebalancing_weights``, mix 0.5) of the saved colour prior.
        ``boost=0`` is the network's own distribution; ``boost=1`` applies at decode time the
        rebalancing that training with ``loss.rebalance=0.5`` applies to the loss, so a model
        trained without rebalancing can be made as colourful as one trained with it, by any amount
        in between. Defaults: the model's ``temperature`` and ``boost`` attributes.
        """
        t = self.temperature if temperature is None else temperature
        b = self.boost if boost is None else boost
        # (out + b log w) / T = out / T + (b / T) log w: the boost as a bias on scaled logits
        bias = self.log_weights() * (b / t) if b else None
        return quantization.annealed_mean(out, self.centres, t, bias) / self.chroma_scale

    def log_weights(self) -> torch.Tensor:
        """``log w`` ``(Q,)``: the log rebalancing weights of the saved prior (mix 0.5)."""

        return quantization.rebalancing_weights(self.prior.float(), 0.5).log()


def check_decode(temperature: float | None = None, boost: float | None = None) -> None:
    """Raises ``InputError`` unless ``temperature`` (if given) is positive and finite and
    ``boost`` (if given) is 0 or more and finite."""
    if temperature is not None and not 0 < temperature < float("inf"):
        raise InputError(f"decode temperature must be a positive number, got {temperature}")
    if boost is not None and not 0 <= boost < float("inf"):
        raise InputError(f"decode boost must be 0 or more, got {boost}")


class DecodeView(DecodeSettings, ColorizationNet):
    """A colour classifier seen with other decode settings; shares its weights and buffers,
    so views for different requests or sweeps cost nothing and never change the classifier.

    ``forward``: ``network(x)`` (default the classifier itself; ``tinct tune`` passes a
    caching wrapper of it) -> logits ``(B, Q, h, w)``. ``decode(out)``: chroma
    ``(B, 2, h, w)`` in network units, ``classifier.decode`` at this view's ``temperature``
    and ``boost``.
    """

    output_kind = "classification"

    def __init__(self, classifier: ColorClassifier, temperature: float, boost: float,
                 network: nn.Module | None = None):
        super().__init__()
        check_decode(temperature, boost)
        self.classifier = classifier
        self.network = classifier if network is None else network
        self.temperature = float(temperature)
        self.boost = float(boost)

    @property
    def output_stride(self) -> int:
        return self.classifier.output_stride

    @property
    def accepts_hints(self) -> bool:
        return self.classifier.accepts_hints

    def forward(self, x: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        return self.network(x) if hints is None else self.network(x, hints)

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        return self.classifier.decode(out, temperature=self.temperature, boost=self.boost)


@register_model
def classifier(encoder: str = "efficientnet_lite0",
               decoder_channels: Sequence[int] = (192, 96, 64), bins: str = "gamut",
               num_colors: int = 64, space: str = "lab", temperature: float = 0.38,
               pretrained: bool = False, hints: bool = False) -> ColorClassifier:
    """Colour classifier. ``bins="gamut"``: the in-gamut grid bins of step 10 (computed);
    ``bins="kmeans"``: ``num_colors`` palette entries, learned from the data by training.
    ``hints=True``: the network also takes colour hints (user-guided colorization)."""
    if bins == "gamut":
        centres = quantization.gamut_bins(10.0, space=space)
    elif bins == "kmeans":
        # placeholder palette on a circle; training replaces it with k-means centres of the data
        angle = torch.arange(num_colors) * (2 * torch.pi / num_colors)
        centres = torch.stack((angle.cos(), angle.sin()), 1) * 30
    else:
        raise ValueError(f"bins must be 'gamut' or 'kmeans', got {bins!r}")
    return ColorClassifier(encoder, tuple(decoder_channels), centres, temperature,
                           color.CHROMA_SCALE, pretrained, hints)
