"""The metrics ``tinct eval`` reports: names, units, which way is better, table formats.

Torch-free, so the command line can build its ``--help`` (choices, defaults) without loading
PyTorch; :mod:`tinct.evaluation.evaluate` re-exports everything here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PSNR_CAP_DB = 100.0
DEFAULT_METRIC_SIZE = 512


@dataclass(frozen=True)
class MetricInfo:
    """How a metric is named, read and formatted.

    ``better``: ``"higher"``, ``"lower"`` or ``None`` (neither: colorfulness is judged against
    the ground truth's). ``fmt``: a format spec for tables (e.g. ``".2f"``).
    """

    key: str
    label: str
    unit: str
    better: str | None
    fmt: str
    description: str

    def format(self, value: float | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return format(value, self.fmt)


_METRIC_LIST = (
    MetricInfo("psnr", "PSNR", "dB", "higher", ".2f",
               f"peak signal-to-noise ratio on RGB 0-255, capped at {PSNR_CAP_DB:g} dB"),
    MetricInfo("ssim", "SSIM", "", "higher", ".4f", "structural similarity on RGB 0-255"),
    MetricInfo("ab_rmse", "ab RMSE", "Lab", "lower", ".2f", "root-mean-square ab error"),
    MetricInfo("ab_mse", "ab MSE", "Lab²", "lower", ".1f", "mean squared ab error"),
    MetricInfo("acc_2.5", "acc@2.5", "", "higher", ".3f", "share of pixels within 2.5 ab units"),
    MetricInfo("acc_5", "acc@5", "", "higher", ".3f", "share of pixels within 5 ab units"),
    MetricInfo("acc_10", "acc@10", "", "higher", ".3f", "share of pixels within 10 ab units"),
    MetricInfo("acc_20", "acc@20", "", "higher", ".3f", "share of pixels within 20 ab units"),
    MetricInfo("auc", "AuC", "", "higher", ".4f",
               "area under the ab accuracy curve, thresholds 0-150 (Zhang et al. 2016)"),
    MetricInfo("cf_pred", "CF pred", "", None, ".2f", "colorfulness of the prediction"),
    MetricInfo("cf_gt", "CF truth", "", None, ".2f", "colorfulness of the ground truth"),
    MetricInfo("dcf", "ΔCF", "", "lower", ".2f",
               "|mean CF(pred) − mean CF(truth)| over the set"),
    MetricInfo("fd_effnet_lite2", "FD (EffNet-Lite2)", "", "lower", ".2f",
               "Fréchet distance of pooled EfficientNet-Lite2 ImageNet features, predictions "
               "vs ground truths (not the Inception FID of papers)"),
    MetricInfo("semantic_agreement", "Semantic agreement", "", "higher", ".3f",
               "share of photos whose prediction gets the ground truth's top-1 ImageNet class"),
    MetricInfo("seconds", "s / image", "s", "lower", ".3f",
               "colorization wall time per photo (model only, metrics excluded)"),
)
METRICS: dict[str, MetricInfo] = {m.key: m for m in _METRIC_LIST}
"""Every reported metric, in table order."""

PER_IMAGE_KEYS = ("ab_mse", "ab_rmse", "acc_2.5", "acc_5", "acc_10", "acc_20", "auc", "psnr",
                  "ssim", "cf_pred", "cf_gt")
SUMMARY_KEYS = tuple(m.key for m in _METRIC_LIST)
FEATURE_KEYS = ("fd_effnet_lite2", "semantic_agreement")
"""Set-level metrics computed from EfficientNet-Lite2 features (skipped with ``--no-features``)."""
RANKABLE = tuple(k for k in PER_IMAGE_KEYS if METRICS[k].better)
"""Per-image metrics a gallery can be ranked by."""
