"""``Colorizer``: the one pipeline every entry point calls.

preprocess (read, lightness at full resolution, resize to the working size) -> network ->
decode to chroma -> upsample chroma -> merge with the original full-resolution lightness -> RGB.
The network never sees or changes the full-resolution lightness, so detail and tonality of the
original are kept exactly; only chroma is predicted.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from tinct import color
from tinct.errors import InputError
from tinct.imageio import LoadedImage, read_image, to_uint
from tinct.inference import render
from tinct.inference.checkpoint import flip_averaging, load_pretrained, resolve_model
from tinct.models.classifier import DecodeView
from tinct.runtime import autocast, resolve_device, resolve_precision

ImageInput = str | os.PathLike | Image.Image | np.ndarray | LoadedImage



def working_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """The network's input shape: the longer side becomes ``size``, aspect kept (>= 8 px)."""
    scale = size / max(height, width)
    return max(8, round(height * scale)), max(8, round(width * scale))


class Colorizer:
    """A colorization network with its pre- and post-processing.

    Build it with ``Colorizer.from_pretrained(name_or_path)``; ``name_or_path=None`` loads the
    model shipped with tinct. ``colorize(image)`` returns a colour ``PIL.Image`` of the same
    size and orientation as the input; ``colorize_batch`` processes many images with batching.
    """

    def __init__(self, model: nn.Module, config: dict[str, Any], device: str | None = None,
                 precision: str = "auto"):
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        # channels_last on CPU: batched 256-px folders ran at 19.6 vs 16.3 photos/s
        # (bench/infer_speed.py; batch-1 timings were within noise)
        self.channels_last = self.device.type == "cpu" and any(
            p.dim() == 4 for p in self.model.parameters())
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.config = config
        self.space: str = config["space"]
        self.chroma_scale: float = float(config.get("chroma_scale", color.CHROMA_SCALE))
        self.working_size: int = int(config["working_size"])
        self.name: str = config.get("name", config["architecture"])
        # flip averaging (test-time augmentation): the network also sees the mirror image and
        # the two outputs are averaged; on validation +0.07 dB at equal colourfulness for the
        # shipped classifier, at twice the network time (docs/comparison.md)
        self.flip: bool = flip_averaging(config)
        if precision == "auto" and self.device.type == "cpu":
            # bench/infer_speed.py on an AVX-512 BF16 CPU: bf16 autocast was no faster than
            # channels_last float32 (33.8 vs 32.4 ms at 256 px) and cost 0.18 dB of PSNR
            # (|delta ab| up to 21), so CPU inference stays float32 unless bf16 is asked for
            precision = "fp32"
        self.amp_dtype = resolve_precision(precision, self.device)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None,
                        device: str | None = None, precision: str = "auto") -> Colorizer:
        """Loads an installed model by name, a saved-model folder, an ONNX file exported by
        ``tinct export`` (run by ONNX Runtime on the CPU), or (None) the default."""
        if name_or_path is not None and str(name_or_path).lower().endswith(".onnx"):
            from tinct.inference.export import load_onnx

            model, config = load_onnx(name_or_path)
            return cls(model, config, device="cpu", precision="fp32")
        model, config = load_pretrained(resolve_model(name_or_path))
        return cls(model, config, device=device, precision=precision)

    def set_decode(self, temperature: float | None = None, boost: float | None = None) -> None:
        """Changes a colour classifier's decode settings (``ColorClassifier.decode``: annealed-
        mean temperature, decode-time rebalancing boost); None keeps a setting. Raises
        ``ValueError`` for models that predict chroma directly and for exported ONNX graphs
        (their decoding is part of the graph)."""
        self._require_decode()
        self.model.set_decode(temperature=temperature, boost=boost)

    def with_decode(self, temperature: float | None = None, boost: float | None = None
                    ) -> Colorizer:
        """A colorizer that shares this one's network but decodes with other settings (None
        keeps this one's); this colorizer is not changed, so it is safe while other threads
        use it (the web API's per-request ``boost``). Raises ``ValueError`` as
        :meth:`set_decode` does, and for a setting out of range."""
        self._require_decode()
        current = self.model.decode_settings()
        classifier = getattr(self.model, "classifier", self.model)
        network = getattr(self.model, "network", self.model)
        view = DecodeView(classifier,
                          current["temperature"] if temperature is None else temperature,
                          current["boost"] if boost is None else boost, network=network)
        twin = copy.copy(self)
        twin.model = view
        return twin

    def decode_settings(self) -> dict[str, float] | None:
        """A colour classifier's decode settings (``temperature``, ``boost``); None for models
        that predict chroma directly or decode inside an exported graph."""
        return self.model.decode_settings() if hasattr(self.model, "set_decode") else None

    def _require_decode(self) -> None:
        if not hasattr(self.model, "set_decode"):
            from tinct.inference.export import OnnxNet

            kind = ("an exported ONNX graph decodes as it was exported"
                    if isinstance(self.model, OnnxNet)
                    else f"a {self.config.get('architecture')} model predicts colour directly")
            raise InputError(f"{self.name}: {kind}; only colour classifiers have decode settings")

    # ------------------------------------------------------------------ core tensor path

    @torch.inference_mode()
    def predict_chroma(self, L: torch.Tensor, size: int | None = None,
                       out_size: tuple[int, int] | None = None) -> torch.Tensor:
        """Lightness -> chroma.

        ``L``: ``(B, 1, H, W)`` L* in [0, 100] (any device). The network runs at the working
        ``size`` (longer side; default from the model). Returns chroma ``(B, 2, h, w)`` in
        colour-space units (ab or uv) at ``out_size`` (default ``(H, W)``), float32 on the
        colorizer's device.
        """
        size = size or self.working_size
        if size < 8:
            raise InputError(f"working size must be at least 8 pixels, got {size}")
        H, W = L.shape[-2:]
        h, w = working_shape(H, W, size)
        x = L.to(self.device, torch.float32)
        if (h, w) != (H, W):
            x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True,
                              align_corners=False)
        x = color.normalize_lightness(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.amp_dtype):
            out = self._network_output(x)
        chroma = color.denormalize_chroma(self.model.decode(out).float(), self.chroma_scale)
        target = out_size or (H, W)
        if tuple(chroma.shape[-2:]) != tuple(target):
            chroma = F.interpolate(chroma, size=target, mode="bilinear", align_corners=False)
        return chroma

    def _network_output(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized lightness ``(B, 1, h, w)`` -> the network's output (logits or chroma)
        ``(B, C, ceil(h/s), ceil(w/s))``; with :attr:`flip`, the mean of the outputs for the
        image and its mirror image (mirrored back). The width is padded to a multiple of the
        output stride first, so the two outputs' cells cover the same pixels."""
        if not self.flip:
            return self.model(x)
        stride = int(getattr(self.model, "output_stride", 1))
        width = x.shape[-1]
        pad = (-width) % stride
        if pad:
            x = F.pad(x, (0, pad, 0, 0), mode="replicate")
        both = self.model(torch.cat([x, x.flip(-1)]))
        out, mirrored = both.chunk(2)
        return ((out + mirrored.flip(-1)) / 2)[..., : math.ceil(width / stride)]

    def merge(self, L: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
        """(L ``(1, H, W)`` in [0, 100], chroma ``(2, h, w)``, h <= H) -> sRGB ``(3, H, W)``
        float32 in [0, 1]; chroma upsampled bilinearly, lightness kept (see
        :mod:`tinct.inference.render`).
        """
        rgb = self.render(L, chroma, np.float32)
        return torch.from_numpy(rgb).permute(2, 0, 1)

    def render(self, L: torch.Tensor | np.ndarray, chroma: torch.Tensor,
               dtype: type = np.uint8) -> np.ndarray:
        """(L ``(1, H, W)`` or ``(H, W)`` in [0, 100], chroma ``(2, h, w)``) -> sRGB
        ``(H, W, 3)`` uint8 or float32 in [0, 1]. Memory: about a megapixel of temporaries."""
        L = L.numpy() if isinstance(L, torch.Tensor) else np.asarray(L)
        return render.merge_to_srgb(L.reshape(L.shape[-2:]), chroma.detach().float().cpu(),
                                    self.space, dtype)

    # ------------------------------------------------------------------ image API

    def colorize(self, image: ImageInput, size: int | None = None) -> Image.Image:
        """One image (path, PIL image, numpy array or LoadedImage) -> colour PIL image."""
        return self.colorize_batch([image], size=size)[0]

    def colorize_batch(self, images: Sequence[ImageInput], size: int | None = None,
                       batch_size: int = 8) -> list[Image.Image]:
        """Many images -> colour PIL images (RGB, or RGBA when the input had alpha).

        Images whose working shapes agree run through the network together, ``batch_size``
        at a time.
        """
        loaded = [im if isinstance(im, LoadedImage) else read_image(im) for im in images]
        return [_to_pil(rgb, im.alpha) for rgb, im in
                zip(self.colorize_loaded(loaded, size, batch_size, np.uint8), loaded,
                    strict=True)]

    def colorize_loaded(self, images: Sequence[LoadedImage], size: int | None = None,
                        batch_size: int = 8, dtype: type = np.float32) -> list[np.ndarray]:
        """Loaded images -> colour arrays ``(H, W, 3)``, same sizes: float32 in [0, 1]
        (``dtype=np.float32``) or uint8 (``dtype=np.uint8``, rounded; faster and smaller)."""
        size = size or self.working_size
        lightness = [full_lightness(im) for im in images]
        results: list[np.ndarray | None] = [None] * len(images)
        # chroma stays at the working shape; ``render`` upsamples it to full size in bands
        for group in _batches(lightness, size, batch_size):
            shapes = {tuple(lightness[i].shape[-2:]) for i in group}
            if len(shapes) == 1:  # identical full-resolution shapes: one tensor
                L = torch.stack([lightness[i] for i in group])
                chroma = self.predict_chroma(L, size, out_size=working_shape(*L.shape[-2:], size))
            else:
                ws = working_shape(*lightness[group[0]].shape[-2:], size)
                L = torch.stack([_resize(lightness[i], ws) for i in group])
                chroma = self.predict_chroma(L, size)
            for j, i in enumerate(group):
                results[i] = self.render(lightness[i], chroma[j], dtype)
        return [r for r in results if r is not None]

    def colorize_frames(self, frames: np.ndarray, size: int | None = None) -> np.ndarray:
        """Video frames ``(B, H, W, 3)`` uint8 RGB -> colour frames ``(B, H, W, 3)`` uint8."""
        L = torch.from_numpy(np.stack([render.lightness_of_pixels(f) for f in frames]))[:, None]
        size = size or self.working_size
        chroma = self.predict_chroma(L, size, out_size=working_shape(*L.shape[-2:], size))
        return np.stack([self.render(L[i], chroma[i]) for i in range(len(L))])


def full_lightness(im: LoadedImage) -> torch.Tensor:
    """LoadedImage -> L* ``(1, H, W)`` float32 in [0, 100] at full resolution (the first
    stage of every colorization; public so that benchmarks can time the stages)."""
    return torch.from_numpy(render.lightness_of_pixels(im.pixels))[None]


def _resize(L: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(L.unsqueeze(0), size=shape, mode="bilinear", antialias=True,
                         align_corners=False)[0]


def _batches(lightness: list[torch.Tensor], size: int, batch_size: int) -> Iterable[list[int]]:
    """Groups image indices by working shape, in chunks of at most ``batch_size``."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, L in enumerate(lightness):
        groups.setdefault(working_shape(*L.shape[-2:], size), []).append(i)
    for idx in groups.values():
        for start in range(0, len(idx), max(1, batch_size)):
            yield idx[start:start + batch_size]


def _to_pil(rgb: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    rgb8 = rgb if rgb.dtype == np.uint8 else to_uint(rgb)
    if alpha is None:
        return Image.fromarray(rgb8, "RGB")
    a8 = alpha if alpha.dtype == np.uint8 else (alpha.astype(np.float32) / 257 + 0.5).astype(
        np.uint8)
    return Image.fromarray(np.dstack((rgb8, a8)), "RGBA")


def load_or_path(image: ImageInput) -> LoadedImage:
    """Reads anything ``Colorizer.colorize`` accepts into a LoadedImage."""
    return image if isinstance(image, LoadedImage) else read_image(image)


__all__ = ["Colorizer", "working_shape", "full_lightness", "to_uint", "load_or_path", "Path"]
