"""Evaluation: reduce colour photos to their lightness, colorize them, compare with the originals.

``evaluate(model, folder)`` measures one model; ``evaluate_many(entries, folder)`` measures
several in one pass over the photos (each photo is read once, its ground-truth features are
computed once), which is what ``tinct eval`` (model, ``gray`` baseline, model at another size) and
``tinct compare`` use. A "model" is anything with the :class:`tinct.Colorizer` method
``colorize_batch(images, size=None, batch_size=8, dtype=np.float32) -> list[(H, W, 3) float32
in [0, 1]]``;
:class:`GrayBaseline` (no chroma at all) is one.

How each photo is measured:

1. Photos that already look gray (``LoadedImage.was_color`` is False) are skipped and counted;
   unreadable files are listed in ``failed`` and the run goes on.
2. The model colorizes the photo's lightness at full resolution (``colorize_batch``: the
   original L is kept, only chroma is predicted). ``seconds`` is that call's wall time per photo.
3. Prediction and original are compared on a copy whose longer side is capped at
   ``metric_size`` pixels (default 512; ``None`` or 0 = full resolution), both resized the same
   way (bilinear, antialiased). This keeps memory flat and evaluation fast on large photos;
   PSNR, SSIM and the ab errors are therefore those of the 512-px versions.
4. Per-image metrics (:func:`tinct.evaluation.metrics.compute_image_metrics`): ab MSE / RMSE
   (Lab units), acc@2.5/5/10/20, AuC (0..150), PSNR (RGB 0-255; capped at
   :data:`PSNR_CAP_DB` = 100 dB, so a perfect image, whose PSNR is infinite, still gives a
   finite mean), SSIM, colorfulness of prediction and ground truth.
5. Set metrics: their means (and standard deviations), dCF = |mean CF(pred) - mean CF(gt)|,
   ``fd_effnet_lite2`` (Frechet distance of pooled EfficientNet-Lite2 ImageNet features of
   predictions vs ground truths; not the Inception FID of papers) and ``semantic_agreement``
   (share of photos whose predicted and original versions get the same top-1 ImageNet class).
   The last two need the weights package (:mod:`tinct.evaluation.features`); without it they
   are ``None`` and ``features_note`` says why.

Memory stays flat over thousands of photos: metrics stream through ``RunningStats`` and
``FeatureMoments``; only small thumbnails of the best / worst ``gallery_size`` photos (kept with
heaps) and of a few evenly spaced sample photos are held. Peak memory is about ``batch_size``
full-resolution photos (roughly 30 bytes per pixel each) plus the networks.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from tinct import __version__
from tinct.color import from_lightness_chroma, rgb_to_lightness
from tinct.evaluation.metrics import (
    FeatureMoments,
    RunningStats,
    TruthTerms,
    compute_image_metrics,
    truth_terms,
)
from tinct.imageio import LoadedImage, list_images, read_image
from tinct.inference.pipeline import working_shape

__all__ = [
    "DEFAULT_METRIC_SIZE",
    "METRICS",
    "PSNR_CAP_DB",
    "SUMMARY_KEYS",
    "EvalEntry",
    "EvalResult",
    "GalleryItem",
    "GrayBaseline",
    "MetricInfo",
    "describe_model",
    "evaluate",
    "evaluate_many",
    "gray_version",
    "load_entry",
]

from tinct.errors import InputError  # noqa: E402
from tinct.evaluation.metric_info import (  # noqa: E402  (re-exported)
    DEFAULT_METRIC_SIZE,
    METRICS,
    PER_IMAGE_KEYS,
    PSNR_CAP_DB,
    RANKABLE,
    SUMMARY_KEYS,
    MetricInfo,
)

THUMB_SIZE = 256  # longer side of the gallery thumbnails, pixels
MIN_SIDE = 11  # SSIM's window



class ColorizerLike(Protocol):
    def colorize_batch(self, images: Sequence[LoadedImage], size: int | None = None,
                       batch_size: int = 8, dtype: type | None = None) -> list[np.ndarray]: ...


# --------------------------------------------------------------------------- baselines


def gray_version(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(3, H, W)`` float in [0, 1] -> its gray version ``(3, H, W)`` float32 (R = G = B).

    The gray of the same CIE lightness L* (chroma set to zero), i.e. what a colorizer that
    predicts no colour returns. Computed in bands of rows to bound memory on large photos.
    """
    rgb = rgb.float()
    out = torch.empty_like(rgb)
    rows = max(1, (1 << 20) // max(rgb.shape[-1], 1))
    for top in range(0, rgb.shape[-2], rows):
        L = rgb_to_lightness(rgb[:, top:top + rows])
        gray = from_lightness_chroma(L, torch.zeros_like(L).expand(2, -1, -1))
        out[:, top:top + rows] = gray.mean(dim=0, keepdim=True)  # exactly neutral
    return out


class GrayBaseline:
    """The trivial colorizer: returns each photo's own lightness as a gray image (no chroma)."""

    name = "gray"
    working_size = None

    def colorize_batch(self, images: Sequence[LoadedImage], size: int | None = None,
                       batch_size: int = 8, dtype: type | None = np.float32
                       ) -> list[np.ndarray]:
        """Loaded images -> gray ``(H, W, 3)`` float32 arrays in [0, 1]; ``size`` is ignored."""
        return [gray_version(torch.from_numpy(im.to_float()).permute(2, 0, 1))
                .permute(1, 2, 0).numpy() for im in images]


# --------------------------------------------------------------------------- entries


@dataclass
class EvalEntry:
    """One thing to evaluate: a label, a colorizer-like model, an optional working size."""

    label: str
    model: ColorizerLike
    size: int | None = None
    info: dict[str, Any] = field(default_factory=dict)


def describe_model(model: Any, folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """What a report shows about a model: architecture, parameter count, working size and,
    from its ``config.json`` ``training`` section, ``wall_time_s`` and ``run_dir`` (a relative
    ``run_dir`` is resolved against the model folder when it exists there)."""
    if isinstance(model, GrayBaseline):
        return {"architecture": "gray baseline", "parameters": 0}
    info: dict[str, Any] = {}
    network = getattr(model, "model", None)
    if isinstance(network, torch.nn.Module):
        info["parameters"] = int(sum(p.numel() for p in network.parameters()))
    config = getattr(model, "config", None)
    if config is not None:
        info["architecture"] = config.architecture
    if getattr(model, "working_size", None):
        info["working_size"] = int(model.working_size)
    training = config.training if config is not None else {}
    if training.get("wall_time_s") is not None:
        info["training_wall_time_s"] = float(training["wall_time_s"])
    if training.get("run_dir"):
        run_dir = Path(training["run_dir"])
        if not run_dir.is_absolute() and folder is not None and (Path(folder) / run_dir).exists():
            run_dir = Path(folder) / run_dir
        info["run_dir"] = str(run_dir)
    if folder is not None:
        info["folder"] = str(folder)
    return info


def load_entry(name_or_path: str, device: str | None = None, size: int | None = None,
               label: str | None = None) -> EvalEntry:
    """``"gray"`` -> the gray baseline; anything else -> ``Colorizer.from_pretrained`` of it."""
    if name_or_path == GrayBaseline.name:
        model = GrayBaseline()
        return EvalEntry(label or model.name, model, None, describe_model(model))
    from tinct.inference.checkpoint import resolve_model
    from tinct.inference.pipeline import Colorizer

    folder = resolve_model(name_or_path)
    colorizer = Colorizer.from_pretrained(folder, device=device)
    return EvalEntry(label or colorizer.name, colorizer, size, describe_model(colorizer, folder))


# --------------------------------------------------------------------------- results


@dataclass
class GalleryItem:
    """A photo shown in a report: thumbnails ``(h, w, 3)`` uint8 (longer side <= 256 px)."""

    image: str
    value: float | None
    truth: np.ndarray
    gray: np.ndarray | None  # None only while an evaluation runs
    pred: np.ndarray


@dataclass
class EvalResult:
    """One model measured on one folder.

    ``records``: one dict per evaluated photo (``image``, ``width``, ``height``, the per-image
    metrics of :data:`PER_IMAGE_KEYS`, ``seconds``). ``summary``: every key of
    :data:`SUMMARY_KEYS` -> mean over photos (set metrics as defined there; ``None`` where not
    computed). ``stats``: per-image metric -> ``{"mean", "std", "count"}``. ``best`` / ``worst``:
    the ``gallery_size`` best / worst photos by ``rank_by``, best first / worst first.
    ``samples``: a few evenly spaced photos, the same ones for every entry of a run.
    """

    name: str
    working_size: int | None
    info: dict[str, Any]
    data_dir: str
    n_images: int
    gray_skipped: list[str]
    failed: list[tuple[str, str]]
    records: list[dict[str, Any]]
    stats: dict[str, dict[str, float]]
    summary: dict[str, float | None]
    metric_size: int | None
    rank_by: str
    best: list[GalleryItem]
    worst: list[GalleryItem]
    samples: list[GalleryItem]
    features_note: str | None
    wall_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (no thumbnails, no per-image records); NaN -> ``None``."""
        return {
            "name": self.name,
            "working_size": self.working_size,
            "info": self.info,
            "n_images": self.n_images,
            "summary": {k: _finite_or_none(v) for k, v in self.summary.items()},
            "stats": {k: {s: _finite_or_none(v) for s, v in d.items()}
                      for k, d in self.stats.items()},
            "best": [(g.image, _finite_or_none(g.value)) for g in self.best],
            "worst": [(g.image, _finite_or_none(g.value)) for g in self.worst],
        }


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- reading


class _ImageFiles(Dataset):
    """``paths[i]`` -> ``(i, LoadedImage or None, problem or None)``; never raises."""

    def __init__(self, paths: Sequence[Path]):
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, LoadedImage | None, str | None]:
        path = self.paths[i]
        try:
            return i, read_image(path), None
        except (ValueError, OSError) as exc:
            message = str(exc)
            prefix = f"{path}: "
            return i, None, message[len(prefix):] if message.startswith(prefix) else message


def _as_list(batch: list) -> list:
    return batch


# --------------------------------------------------------------------------- helpers


def metric_copy(rgb: np.ndarray | torch.Tensor, metric_size: int | None) -> torch.Tensor:
    """``(H, W, 3)`` float in [0, 1] -> ``(3, h, w)`` float32 with ``max(h, w) <= metric_size``."""
    t = torch.as_tensor(rgb).permute(2, 0, 1).float()
    H, W = t.shape[-2:]
    if metric_size and max(H, W) > metric_size:
        shape = working_shape(H, W, metric_size)
        t = F.interpolate(t[None], size=shape, mode="bilinear", antialias=True,
                          align_corners=False)[0].clamp(0, 1)
    return t


def _thumbnail(rgb: torch.Tensor) -> np.ndarray:
    """``(3, h, w)`` float in [0, 1] -> ``(h', w', 3)`` uint8, longer side <= THUMB_SIZE."""
    small = metric_copy(rgb.permute(1, 2, 0), THUMB_SIZE)
    return (small.permute(1, 2, 0) * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()


class _TopN:
    """Keeps the ``n`` items with the largest keys, building each item only when it is kept."""

    def __init__(self, n: int):
        self.n = n
        self._heap: list[tuple[float, int, GalleryItem]] = []
        self._tie = itertools.count()

    def offer(self, key: float, make: Callable[[], GalleryItem]) -> None:
        if self.n <= 0 or math.isnan(key):
            return
        if len(self._heap) < self.n:
            heapq.heappush(self._heap, (key, next(self._tie), make()))
        elif key > self._heap[0][0]:
            heapq.heapreplace(self._heap, (key, next(self._tie), make()))

    def items(self) -> list[GalleryItem]:
        """Largest key first."""
        return [item for _, _, item in sorted(self._heap, key=lambda e: (-e[0], e[1]))]


@dataclass
class _Photo:
    """One colour photo of the current batch: name, full size and its metric-size truth."""

    index: int
    name: str
    width: int
    height: int
    truth: torch.Tensor  # (3, h, w) float32, metric size
    is_sample: bool
    _thumb: np.ndarray | None = None
    _terms: TruthTerms | None = None

    def terms(self) -> TruthTerms:
        """The truth's side of the per-image metrics, computed once and shared by every
        entry (a decode sweep's 25 settings)."""
        if self._terms is None:
            self._terms = truth_terms(self.truth)
        return self._terms

    def thumb(self) -> np.ndarray:
        """The truth thumbnail, made once and shared by every entry."""
        if self._thumb is None:
            self._thumb = _thumbnail(self.truth)
        return self._thumb


def _add_gray_thumbnails(items: Sequence[GalleryItem], cache: dict[str, np.ndarray]) -> None:
    """Fills in ``item.gray`` (left empty while photos stream past) for the items kept."""
    for item in items:
        if item.image not in cache:
            rgb = torch.from_numpy(item.truth).permute(2, 0, 1).float() / 255
            cache[item.image] = _thumbnail(gray_version(rgb))
        item.gray = cache[item.image]


class _Accumulator:
    """Streams one entry's per-photo results into stats, feature moments and galleries."""

    def __init__(self, entry: EvalEntry, rank_by: str, gallery_size: int):
        self.entry = entry
        self.rank_by = rank_by
        self.sign = 1.0 if METRICS[rank_by].better == "higher" else -1.0
        self.stats = RunningStats()
        self.pred_moments = FeatureMoments()
        self.same_class = 0
        self.records: list[dict[str, Any]] = []
        self.best, self.worst = _TopN(gallery_size), _TopN(gallery_size)
        self.samples: list[GalleryItem] = []

    def add(self, photo: _Photo, pred: torch.Tensor, values: dict[str, float],
            seconds: float) -> None:
        record: dict[str, Any] = {"image": photo.name, "width": photo.width,
                                  "height": photo.height, **values, "seconds": seconds}
        self.records.append(record)
        for key in (*PER_IMAGE_KEYS, "seconds"):
            self.stats.update(key, record[key])
        value = values[self.rank_by]

        def make() -> GalleryItem:
            return GalleryItem(photo.name, value, photo.thumb(), None, _thumbnail(pred))

        self.best.offer(self.sign * value, make)
        self.worst.offer(-self.sign * value, make)
        if photo.is_sample:
            self.samples.append(make())

    def add_features(self, pred_feats: torch.Tensor, pred_top1: torch.Tensor,
                     truth_top1: torch.Tensor) -> None:
        """The ImageNet features ``(B, D)`` and top-1 classes ``(B,)`` of the batch's
        colorized photos (the last ``B`` added) and of their originals ``(B,)``; each photo's
        record gets ``same_class`` (1 where its class survived the colorization, else 0)."""
        self.pred_moments.update(pred_feats)
        kept = (pred_top1 == truth_top1).tolist()
        for record, same in zip(self.records[-len(kept):], kept, strict=True):
            record["same_class"] = int(same)
        self.same_class += sum(kept)

    def summary(self, truth_moments: FeatureMoments | None) -> dict[str, float | None]:
        out: dict[str, float | None] = {k: self.stats.mean(k) for k in PER_IMAGE_KEYS}
        out["dcf"] = abs(self.stats.mean("cf_pred") - self.stats.mean("cf_gt"))
        n = len(self.records)
        out["fd_effnet_lite2"] = None
        out["semantic_agreement"] = None
        if truth_moments is not None:
            out["semantic_agreement"] = self.same_class / n
            if n >= 2:
                with warnings.catch_warnings():
                    # fewer photos than feature dimensions: singular covariances, expected
                    warnings.filterwarnings("ignore", message=".*singular")
                    fd = self.pred_moments.frechet_distance(truth_moments)
                out["fd_effnet_lite2"] = max(0.0, fd)
        out["seconds"] = self.stats.mean("seconds")
        return out


def _image_metrics(pred: torch.Tensor, truth: torch.Tensor | TruthTerms) -> dict[str, float]:
    values = {k: float(v) for k, v in compute_image_metrics(pred, truth).items()}
    values["psnr"] = min(values["psnr"], PSNR_CAP_DB)
    return values


def _sample_indices(n: int, count: int) -> set[int]:
    if count <= 0 or n == 0:
        return set()
    return {int(round(x)) for x in np.linspace(0, n - 1, min(count, n))}


# --------------------------------------------------------------------------- the loop


def evaluate_many(entries: Sequence[EvalEntry], data_dir: str | os.PathLike, *,
                  metric_size: int | None = DEFAULT_METRIC_SIZE, batch_size: int = 8,
                  workers: int = 0, limit: int | None = None, rank_by: str = "psnr",
                  gallery_size: int = 6, sample_count: int = 6, features: bool = True,
                  device: str | torch.device | None = None,
                  progress: bool = True) -> list[EvalResult]:
    """Evaluates every entry on the colour photos under ``data_dir`` in one pass.

    ``limit``: only the first ``limit`` image files (sorted by path) are considered.
    ``workers``: DataLoader processes that read and decode photos (0 = in this process).
    ``features``: compute ``fd_effnet_lite2`` and ``semantic_agreement`` (on ``device``; by
    default CUDA when available) when the weights are installed. Returns one
    :class:`EvalResult` per entry, in order. Raises ``ValueError`` when there is nothing to
    evaluate (no images, or none in colour and readable).
    """
    from tqdm.auto import tqdm

    from tinct.runtime import resolve_device

    if not entries:
        raise InputError("nothing to evaluate: no models given")
    if rank_by not in RANKABLE:
        raise InputError(f"cannot rank by {rank_by!r}; choose one of {', '.join(RANKABLE)}")
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1, got {limit}")
    root = Path(data_dir)
    paths = list_images(root)[:limit]
    if not paths:
        raise InputError(f"{root}: no images found (looked for {', '.join(_suffixes())})")

    extractor = None
    features_note = None
    if features:
        from tinct.evaluation.features import MISSING_WEIGHTS_NOTE, load_imagenet_features

        extractor = load_imagenet_features(resolve_device(device))
        if extractor is None:
            features_note = MISSING_WEIGHTS_NOTE
    else:
        features_note = "fd_effnet_lite2 and semantic_agreement were not computed (disabled)"
    truth_moments = FeatureMoments() if extractor is not None else None
    accumulators = [_Accumulator(e, rank_by, gallery_size) for e in entries]
    samples = _sample_indices(len(paths), sample_count)
    gray_skipped: list[str] = []
    failed: list[tuple[str, str]] = []

    loader = DataLoader(_ImageFiles(paths), batch_size=batch_size, num_workers=workers,
                        collate_fn=_as_list)
    start = time.perf_counter()
    with tqdm(total=len(paths), unit="img", desc="eval", disable=not progress) as bar:
        for batch in loader:
            photos, images = [], []
            for index, image, error in batch:
                name = _display_name(paths[index], root)
                if image is None:
                    failed.append((name, error or "unreadable"))
                elif not image.was_color:
                    gray_skipped.append(name)
                elif min(image.pixels.shape[:2]) < MIN_SIDE:
                    failed.append((name, f"image is smaller than {MIN_SIDE}x{MIN_SIDE} pixels"))
                else:
                    truth = metric_copy(image.to_float(), metric_size)
                    photos.append(_Photo(index, name, image.size[0], image.size[1], truth,
                                         index in samples))
                    images.append(image)
            if photos:
                _evaluate_batch(photos, images, accumulators, extractor, truth_moments,
                                metric_size, batch_size)
            bar.update(len(batch))
    wall = time.perf_counter() - start

    n = len(accumulators[0].records)
    if n == 0:
        first = f"; first error: {failed[0][0]}: {failed[0][1]}" if failed else ""
        raise InputError(
            f"{root}: no colour photos to evaluate ({len(gray_skipped)} gray-looking skipped, "
            f"{len(failed)} unreadable{first})"
        )
    gray_cache: dict[str, np.ndarray] = {}
    for acc in accumulators:
        for items in (acc.best.items(), acc.worst.items(), acc.samples):
            _add_gray_thumbnails(items, gray_cache)
    return [
        EvalResult(
            name=acc.entry.label, working_size=acc.entry.size or _working_size(acc.entry.model),
            info=dict(acc.entry.info), data_dir=str(root), n_images=n,
            gray_skipped=gray_skipped, failed=failed, records=acc.records,
            stats=acc.stats.as_dict(), summary=acc.summary(truth_moments),
            metric_size=metric_size or None, rank_by=rank_by, best=acc.best.items(),
            worst=acc.worst.items(), samples=acc.samples, features_note=features_note,
            wall_seconds=wall,
        )
        for acc in accumulators
    ]


def _evaluate_batch(photos: list[_Photo], images: list[LoadedImage],
                    accumulators: list[_Accumulator], extractor, truth_moments,
                    metric_size: int | None, batch_size: int) -> None:
    truth_top1 = None
    if extractor is not None:
        truth_feats, truth_top1 = extractor.features([p.truth for p in photos])
        truth_moments.update(truth_feats)
    for acc in accumulators:
        t0 = time.perf_counter()
        outputs = acc.entry.model.colorize_batch(images, size=acc.entry.size,
                                                 batch_size=batch_size, dtype=np.float32)
        seconds = (time.perf_counter() - t0) / len(images)
        preds = [metric_copy(out, metric_size) for out in outputs]
        del outputs
        for photo, pred in zip(photos, preds, strict=True):
            acc.add(photo, pred, _image_metrics(pred, photo.terms()), seconds)
        if extractor is not None:
            pred_feats, pred_top1 = extractor.features(preds)
            acc.add_features(pred_feats, pred_top1, truth_top1)


def evaluate(colorizer_or_baseline: ColorizerLike, data_dir: str | os.PathLike,
             size: int | None = None, batch_size: int = 8, workers: int = 0,
             limit: int | None = None, progress: bool = True, *, label: str | None = None,
             **options: Any) -> EvalResult:
    """Evaluates one colorizer (or :class:`GrayBaseline`) on the colour photos of ``data_dir``.

    ``size``: the working size (longer side) the network runs at; default the model's.
    ``options``: ``metric_size``, ``rank_by``, ``gallery_size``, ``sample_count``,
    ``features``, ``device`` (see :func:`evaluate_many`).
    """
    model = colorizer_or_baseline
    entry = EvalEntry(label or getattr(model, "name", type(model).__name__), model, size,
                      describe_model(model))
    return evaluate_many([entry], data_dir, batch_size=batch_size, workers=workers,
                         limit=limit, progress=progress, **options)[0]


def _working_size(model: Any) -> int | None:
    size = getattr(model, "working_size", None)
    return int(size) if size else None


def _display_name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() if root.is_dir() else path.name
    except ValueError:
        return path.name


def _suffixes() -> list[str]:
    from tinct.imageio import IMAGE_SUFFIXES

    return sorted(IMAGE_SUFFIXES)


def run_info() -> dict[str, Any]:
    """Context recorded in reports: tinct and torch versions."""
    return {"tinct_version": __version__, "torch_version": torch.__version__}
