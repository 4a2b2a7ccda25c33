"""pix2pix (Isola et al. 2017): U-Net generator (registered) and PatchGAN discriminator."""

from __future__ import annotations

import torch
import torch.nn as nn

from tinct.models.base import ColorizationNet
from tinct.models.registry import register_model


class _SkipLevel(nn.Module):
    """One U-Net level: down-conv, the inner levels, up-conv, concatenated with the input."""

    def __init__(self, cin: int, inner: int, sub: nn.Module | None, outermost: bool = False,
                 dropout: bool = False, cout: int | None = None):
        super().__init__()
        down = [nn.Conv2d(cin, inner, 4, 2, 1, bias=False)]
        if not outermost:
            down = [nn.LeakyReLU(0.2, inplace=False), *down]
            if sub is not None:
                down.append(nn.BatchNorm2d(inner))
        up_in = inner * 2 if sub is not None else inner
        up: list[nn.Module] = [nn.ReLU(inplace=False)]
        if outermost:
            up += [nn.ConvTranspose2d(up_in, cout or cin, 4, 2, 1), nn.Tanh()]
        else:
            up += [nn.ConvTranspose2d(up_in, cin, 4, 2, 1, bias=False), nn.BatchNorm2d(cin)]
            if dropout:
                up.append(nn.Dropout(0.5))
        self.outermost = outermost
        self.model = nn.Sequential(*down, *([sub] if sub is not None else []), *up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x)
        return y if self.outermost else torch.cat((x, y), dim=1)


class Pix2PixGenerator(ColorizationNet):
    """U-Net generator of pix2pix: ``(B, 1, H, W)`` -> chroma ``(B, 2, H, W)`` in [-1, 1].

    ``num_downs`` stride-2 levels (input sides padded to multiples of ``2**num_downs``), base
    width ``ngf``, widths capped at ``8 * ngf``, dropout in the three innermost up levels.
    """

    def __init__(self, ngf: int = 64, num_downs: int = 7):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be at least 5, got {num_downs}")
        self.size_multiple = 2**num_downs
        block = _SkipLevel(ngf * 8, ngf * 8, None)
        for _ in range(num_downs - 5):
            block = _SkipLevel(ngf * 8, ngf * 8, block, dropout=True)
        block = _SkipLevel(ngf * 4, ngf * 8, block)
        block = _SkipLevel(ngf * 2, ngf * 4, block)
        block = _SkipLevel(ngf, ngf * 2, block)
        self.net = _SkipLevel(1, ngf, block, outermost=True, cout=2)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN (70x70 receptive field for ``n_layers=3``).

    ``(B, 3, H, W)`` = normalized L concatenated with chroma -> patch logits ``(B, 1, h, w)``.
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = ndf
        for i in range(1, n_layers + 1):
            cout = ndf * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(c, cout, 4, stride, 1, bias=False), nn.BatchNorm2d(cout),
                       nn.LeakyReLU(0.2)]
            c = cout
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, L: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat((L, chroma), dim=1))


@register_model
def pix2pix(ngf: int = 64, num_downs: int = 7) -> Pix2PixGenerator:
    """pix2pix U-Net generator (train it with ``PatchDiscriminator`` and the GAN objective)."""
    return Pix2PixGenerator(ngf=ngf, num_downs=num_downs)
