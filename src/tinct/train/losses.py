"""Training objectives: regression, rebalanced classification, GAN, and the colorfulness,
distillation and semantic terms.

Shapes: predictions ``(B, C, h, w)``; targets are full-resolution chroma ``(B, 2, H, W)`` in
colour-space units and are resized here to the prediction's resolution (area averaging).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tinct import color
from tinct.models import quantization

REGRESSION_LOSSES = ("l1", "l2", "huber")


def resize_target(chroma: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(B, C, H, W)`` chroma (or lightness) -> ``(B, C, *size)`` by area averaging."""
    if tuple(chroma.shape[-2:]) == tuple(size):
        return chroma
    return F.adaptive_avg_pool2d(chroma, size)


def regression_loss(pred: torch.Tensor, chroma: torch.Tensor, kind: str = "l1",
                    scale: float = color.CHROMA_SCALE) -> torch.Tensor:
    """``pred`` ``(B, 2, h, w)`` in network units vs chroma in colour-space units -> scalar."""
    target = color.normalize_chroma(resize_target(chroma, pred.shape[-2:]), scale)
    pred = pred.float()
    if kind == "l1":
        return F.l1_loss(pred, target)
    if kind == "l2":
        return F.mse_loss(pred, target)
    if kind == "huber":
        return F.smooth_l1_loss(pred, target, beta=0.05)
    raise ValueError(f"unknown regression loss {kind!r}; choose one of {REGRESSION_LOSSES}")


def classification_loss(logits: torch.Tensor, chroma: torch.Tensor, centres: torch.Tensor,
                        weights: torch.Tensor | None = None, sigma: float = 5.0
                        ) -> torch.Tensor:
    """Cross-entropy against soft-encoded targets, each pixel weighted by its nearest bin.

    ``logits`` ``(B, Q, h, w)``; ``chroma`` ``(B, 2, H, W)``; ``centres`` ``(Q, 2)``;
    ``weights`` ``(Q,)`` rebalancing weights or None. Returns a scalar.
    """
    idx, w = quantization.soft_encode_sparse(resize_target(chroma, logits.shape[-2:]), centres,
                                      sigma=sigma)
    logp = F.log_softmax(logits.float(), dim=1)
    # only the few bins a pixel's soft target covers contribute: gather them instead of
    # multiplying a dense (B, Q, h, w) target (the same loss, a fraction of the work)
    per_pixel = -(w * logp.gather(1, idx)).sum(dim=1)  # (B, h, w)
    if weights is not None:
        per_pixel = per_pixel * weights[idx[:, 0]]  # the nearest bin
    return per_pixel.mean()


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor
                      ) -> torch.Tensor:
    """KL(teacher || student) of the per-pixel colour distributions, averaged over pixels:
    0 when the student predicts the teacher's distributions, and its gradient pulls the
    student's toward them (learning without forgetting, Li & Hoiem 2016).

    ``student_logits``, ``teacher_logits`` ``(B, Q, h, w)`` over the same ``Q`` bins.
    Returns a scalar (nats).
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"teacher logits {tuple(teacher_logits.shape)} do not match the "
                         f"student's {tuple(student_logits.shape)}")
    return _kl_of_logits(teacher_logits, student_logits)


def _kl_of_logits(target_logits: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """KL(softmax(target) || softmax(logits)) over dimension 1, averaged over the rest."""
    log_t = F.log_softmax(target_logits.float(), dim=1)
    log_p = F.log_softmax(logits.float(), dim=1)
    return (log_t.exp() * (log_t - log_p)).sum(dim=1).mean()


def semantic_loss(pred_logits: torch.Tensor, true_logits: torch.Tensor) -> torch.Tensor:
    """KL(truth || prediction) of a classifier's class distributions, averaged over images.

    ``pred_logits``, ``true_logits`` ``(B, K)``: the classifier's logits for the colorized and
    the true photos (``tinct.train.semantic.SemanticCritic``). 0 when it sees the same thing
    in both; nats. Only the prediction's side carries a gradient.
    """
    return _kl_of_logits(true_logits.detach(), pred_logits)


def soft_targets(chroma: torch.Tensor, centres: torch.Tensor, size, sigma: float = 5.0):
    """Chroma ``(B, 2, H, W)`` -> soft-encoded bins ``(B, Q, *size)`` at the logits' size."""
    return quantization.soft_encode(resize_target(chroma, size), centres, sigma=sigma)


def colorfulness_loss(pred_chroma: torch.Tensor, chroma: torch.Tensor,
                      scale: float = color.CHROMA_SCALE) -> torch.Tensor:
    """Penalizes predictions less saturated than the truth (the desaturated 'sepia' look).

    Per image: ``relu(mean |chroma_gt| - mean |chroma_pred|)`` in network units, averaged.
    ``pred_chroma`` ``(B, 2, h, w)`` in network units; ``chroma`` in colour-space units.
    """
    target = color.normalize_chroma(resize_target(chroma, pred_chroma.shape[-2:]), scale)
    sat_pred = pred_chroma.float().norm(dim=1).mean(dim=(1, 2))
    sat_true = target.norm(dim=1).mean(dim=(1, 2))
    return F.relu(sat_true - sat_pred).mean()


def gan_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross-entropy of PatchGAN logits against all-real or all-fake labels."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target)


def bin_prior(chroma_batches, centres: torch.Tensor, smooth_sigma: float = 5.0,
              size: int = 32) -> torch.Tensor:
    """Empirical distribution ``(Q,)`` of the nearest bins over an iterable of chroma batches.

    Each batch ``(B, 2, H, W)`` is reduced to ``size`` x ``size``; counts are smoothed by a
    Gaussian of ``smooth_sigma`` over the bin centres' positions (Zhang et al.).
    """
    counts = torch.zeros(centres.shape[0], dtype=torch.float64)
    for chroma in chroma_batches:
        small = resize_target(chroma.float(), (size, size))
        flat = small.permute(0, 2, 3, 1).reshape(-1, 2)
        nearest = torch.cdist(flat, centres.float()).argmin(dim=1)
        counts += torch.bincount(nearest, minlength=centres.shape[0]).double()
    p = counts / counts.sum().clamp(min=1)
    if smooth_sigma > 0:
        d2 = torch.cdist(centres.double(), centres.double()) ** 2
        kernel = torch.exp(-d2 / (2 * smooth_sigma**2))
        p = kernel @ p
        p = p / p.sum()
    return p.float()
