"""``Colorizer``: the one pipeline every entry point calls.

preprocess (read, lightness at full resolution, resize to the working size) -> network ->
decode to chroma -> upsample chroma -> merge with the original full-resolution lightness -> RGB.
The network never sees or changes the full-resolution lightness, so detail and tonality of the
original are kept exactly; only chroma is predicted.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from tinct import color
from tinct.errors import InputError
from tinct.imageio import LoadedImage, read_image, stored_plane, to_uint
from tinct.inference import render
from tinct.inference.checkpoint import load_pretrained, resolve_model
from tinct.inference.folding import folded_for_inference
from tinct.inference.hints import (
    Hint,
    check_inside,
    hint_map,
    honour_hints,
    parse_hints,
    suggest_colors,
)
from tinct.inference.levels import stretch_levels
from tinct.inference.model_config import ModelConfig
from tinct.models.base import ColorizationNet
from tinct.runtime import autocast, resolve_device, resolve_precision

ImageInput = str | os.PathLike | Image.Image | np.ndarray | LoadedImage
# colour hints of one image: Hint objects or their JSON form ({"x", "y", "color"} dicts)
HintsInput = Sequence[Hint] | Sequence[dict] | None


def working_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """The network's input shape: the longer side becomes ``size``, aspect kept (>= 8 px)."""
    scale = size / max(height, width)
    return max(8, round(height * scale)), max(8, round(width * scale))


class Colorizer:
    """A colorization network with its pre- and post-processing.

    Build it with ``Colorizer.from_pretrained(name_or_path)``; ``name_or_path=None`` loads the
    model shipped with tinct. ``colorize(image)`` returns a colour ``PIL.Image`` of the same
    size and orientation as the input; ``colorize_batch`` processes many images with batching.

    The stages, for callers that need one of them (video, the web API's re-colouring,
    benchmarks): :meth:`lightness` (stage 1, full-resolution L*), :meth:`predict_chroma`
    (stage 2, the network at the working size and its decoding) and :meth:`render` (stage 3,
    upsampled chroma merged with the full-resolution lightness). ``colorize`` is
    ``render(L, predict_chroma(L))`` with ``L = lightness(image)``, batched.
    """

    def __init__(self, model: ColorizationNet, config: ModelConfig, device: str | None = None,
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
        self.space: str = config.space
        self.chroma_scale: float = float(config.chroma_scale)
        self.working_size: int = config.working_size
        self.name: str = config.label
        # flip averaging (test-time augmentation): the network also sees the mirror image and
        # the two outputs are averaged; on validation +0.07 dB at equal colourfulness for the
        # shipped classifier, at twice the network time (docs/comparison.md)
        self.flip: bool = config.flip
        # input levels: the network sees each photo's lightness stretched to the full range
        # (tinct.inference.levels); the output keeps the photo's own lightness
        self.levels: bool = config.levels
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
        if not getattr(model, "accepts_hints", False):  # hints enter before the stem's norm
            # BatchNorm folded into the convolutions: 1.25x faster (tinct.inference.folding)
            probe = torch.rand(1, 1, 64, 96, generator=torch.Generator().manual_seed(0)) * 2 - 1
            model = folded_for_inference(model, probe)
        return cls(model, config, device=device, precision=precision)

    # ------------------------------------------------------------------ decode settings

    def set_decode(self, temperature: float | None = None, boost: float | None = None) -> None:
        """Changes a colour classifier's decode settings (annealed-mean ``temperature``,
        decode-time rebalancing ``boost``; see ``ColorClassifier.decode``); None keeps a
        setting. Raises ``InputError`` (naming the model) for networks that predict chroma
        directly, for exported ONNX graphs (their decoding is part of the graph) and for a
        value out of range."""
        with self._named_errors():
            self.model.set_decode(temperature=temperature, boost=boost)

    def with_decode(self, temperature: float | None = None, boost: float | None = None
                    ) -> Colorizer:
        """A colorizer that shares this one's network but decodes with other settings (None
        keeps this one's); this colorizer is not changed, so it is safe while other threads
        use it (the web API's per-request ``boost``). Raises as :meth:`set_decode` does."""
        with self._named_errors():
            view = self.model.with_decode(temperature=temperature, boost=boost)
        twin = copy.copy(self)
        twin.model = view
        return twin

    def with_levels(self, levels: bool) -> Colorizer:
        """A colorizer that shares this one's network with input levels on or off (this one
        when it already is); this colorizer is not changed, as with :meth:`with_decode`."""
        if bool(levels) == self.levels:
            return self
        twin = copy.copy(self)
        twin.levels = bool(levels)
        return twin

    def decode_settings(self) -> dict[str, float] | None:
        """A colour classifier's decode settings (``temperature``, ``boost``); None for models
        that predict chroma directly or decode inside an exported graph."""
        return self.model.decode_settings()

    @contextlib.contextmanager
    def _named_errors(self):
        try:
            yield
        except InputError as exc:
            raise InputError(f"{self.name}: {exc}") from None

    # ------------------------------------------------------------------ stage 1: lightness

    @staticmethod
    def lightness(image: ImageInput) -> torch.Tensor:
        """Any image :meth:`colorize` accepts -> its L* ``(1, H, W)`` float32 in [0, 100] at
        full resolution, as displayed (EXIF orientation applied). Colour inputs count as their
        lightness; this is the channel the output keeps."""
        loaded = image if isinstance(image, LoadedImage) else read_image(image)
        return lightness_of(loaded.pixels)

    # ------------------------------------------------------------------ stage 2: network

    @torch.inference_mode()
    def predict_chroma(self, L: torch.Tensor, size: int | None = None,
                       out_size: tuple[int, int] | None = None,
                       hints: Sequence[Sequence[Hint] | None] | None = None) -> torch.Tensor:
        """Stage 2, lightness -> chroma: :meth:`network_output` then :meth:`decode_output`
        (and :meth:`honour_hints` for images with hints).

        ``L``: ``(B, 1, H, W)`` L* in [0, 100] (any device). The network runs at the working
        ``size`` (longer side; default from the model). ``hints``: per image, colour hints in
        pixels of ``L`` (or None). Returns chroma ``(B, 2, h, w)`` in colour-space units (ab or
        uv) at ``out_size`` (default ``(H, W)``), float32 on the colorizer's device.
        """
        out_size = out_size or tuple(L.shape[-2:])
        chroma = self.decode_output(self.network_output(L, size, hints), out_size)
        for i, image_hints in enumerate(hints or []):
            chroma[i] = self.honour_hints(chroma[i], image_hints, tuple(L.shape[-2:]), L[i])
        return chroma

    @torch.inference_mode()
    def network_output(self, L: torch.Tensor, size: int | None = None,
                       hints: Sequence[Sequence[Hint] | None] | None = None,
                       full_shapes: Sequence[tuple[int, int]] | None = None) -> torch.Tensor:
        """Stage 2a, lightness -> what the network says before decoding: logits
        ``(B, Q, h', w')`` for a colour classifier, chroma in network units ``(B, 2, h', w')``
        otherwise, at the working size divided by the output stride. Keep it to decode again
        with other settings (:meth:`with_decode`) without running the network twice.

        ``hints``: per image, colour hints (or None) in pixels of its full-resolution shape,
        which is ``L``'s unless ``full_shapes`` says otherwise (images resized before batching);
        raises ``InputError`` when the model takes no hints."""
        size = size or self.working_size
        if size < 8:
            raise InputError(f"working size must be at least 8 pixels, got {size}")
        H, W = L.shape[-2:]
        h, w = working_shape(H, W, size)
        x = L.to(self.device, torch.float32)
        if (h, w) != (H, W):
            x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True,
                              align_corners=False)
        if self.levels:
            x = stretch_levels(x)
        x = color.normalize_lightness(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        planes = self._hint_input(hints, full_shapes or [(H, W)] * len(L), (h, w))
        with autocast(self.device, self.amp_dtype):
            return self._network_output(x, planes)

    @property
    def accepts_hints(self) -> bool:
        """Whether the network itself takes colour hints (a model trained with them). Every
        model honours hints: without hint inputs the correction after decoding does it all
        (:meth:`honour_hints`)."""
        return bool(getattr(self.model, "accepts_hints", False))

    def _hint_input(self, hints: Sequence[Sequence[Hint] | None] | None,
                    full_shapes: Sequence[tuple[int, int]], work_shape: tuple[int, int]
                    ) -> torch.Tensor | None:
        """Per-image hints -> the hint map ``(B, 3, h, w)`` at ``work_shape``; None when no
        image has hints or the network takes none."""
        if not hints or not any(hints) or not self.accepts_hints:
            return None
        maps = [hint_map(image_hints or [], shape, work_shape, self.space, self.chroma_scale)
                for image_hints, shape in zip(hints, full_shapes, strict=True)]
        return torch.stack(maps).to(self.device)

    def suggest(self, image: ImageInput, x: float, y: float, size: int | None = None,
                count: int = 6) -> list[dict]:
        """The few most likely distinct colours the model sees at pixel (``x``, ``y``) of
        ``image`` (as displayed), for picking a hint: ``[{"color": "#rrggbb",
        "probability": p}, ...]``, most likely first, each shown at that pixel's lightness.
        Runs the network once; see :meth:`suggest_colors` to reuse an output."""
        L = self.lightness(image)
        H, W = L.shape[-2:]
        check_inside([Hint(x, y, "#000000")], W, H, "suggest")
        output = self.network_output(L[None], size)
        return self.suggest_colors(output, (H, W), float(L[0, int(y), int(x)]), x, y, count)

    def suggest_colors(self, output: torch.Tensor, full_shape: tuple[int, int],
                       lightness: float, x: float, y: float, count: int = 6) -> list[dict]:
        """The few most likely distinct colours at pixel (``x``, ``y``) of a ``full_shape``
        (H, W) image, from a colour classifier's :meth:`network_output` ``output``
        ``(1, Q, h', w')`` for it and the pixel's ``lightness`` (L*):
        ``[{"color": "#rrggbb", "probability": p}, ...]``, most likely first
        (:func:`tinct.inference.hints.suggest_colors`; the network's own distribution, before
        any decode setting). ``InputError`` for networks that predict chroma directly."""
        classifier = getattr(self.model, "classifier", self.model)
        centres = getattr(classifier, "centres", None)
        if self.model.decode_settings() is None or centres is None:
            raise InputError(f"{self.name} predicts colour directly; colour suggestions need a "
                             "colour classifier")
        (H, W), (rows, cols) = full_shape, output.shape[-2:]
        row = min(rows - 1, int((y + 0.5) * rows / H))
        col = min(cols - 1, int((x + 0.5) * cols / W))
        probabilities = torch.softmax(output[0, :, row, col].float().cpu(), 0)
        return suggest_colors(probabilities, centres.cpu(), lightness, self.space, count)

    def honour_hints(self, chroma: torch.Tensor, hints: Sequence[Hint] | None,
                     full_shape: tuple[int, int], lightness: torch.Tensor | None = None
                     ) -> torch.Tensor:
        """Chroma ``(2, h, w)`` of one image (colour-space units) -> the same, corrected so
        its hinted pixels get their hint's colour once rendered at ``full_shape``, and nearby
        pixels of about the same lightness follow when the image's full-resolution
        ``lightness`` (L* ``(1, H, W)``) is given (:func:`tinct.inference.hints.honour_hints`).
        Without hints, ``chroma`` itself."""
        if not hints:
            return chroma
        guide = None if lightness is None else _resize(lightness.reshape(1, *full_shape),
                                                        tuple(chroma.shape[-2:]))[0]
        return honour_hints(chroma.cpu(), hints, full_shape, self.space,
                            guide=guide).to(chroma.device)

    @torch.inference_mode()
    def render_output(self, L: torch.Tensor, output: torch.Tensor, size: int | None = None,
                      hints: Sequence[Hint] | None = None, dtype: type = np.uint8
                      ) -> np.ndarray:
        """One image from a kept network output, without running the network again: decode
        it, correct it for ``hints`` (pixels of ``L``), merge it with the lightness.

        ``L``: ``(1, H, W)`` L* in [0, 100]; ``output``: :meth:`network_output` of ``L[None]``
        at working ``size`` (default the model's). Returns sRGB ``(H, W, 3)`` as
        :meth:`render` does. This is what re-colouring a result with new hints or decode
        settings costs."""
        size = size or self.working_size
        chroma = self.decode_output(output, working_shape(*L.shape[-2:], size))[0]
        chroma = self.honour_hints(chroma, hints, tuple(L.shape[-2:]), L)
        return self.render(L, chroma, dtype)

    @torch.inference_mode()
    def decode_output(self, out: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        """Stage 2b, :meth:`network_output` -> chroma ``(B, 2, *out_size)`` in colour-space
        units, decoded with this colorizer's settings."""
        chroma = color.denormalize_chroma(self.model.decode(out).float(), self.chroma_scale)
        if tuple(chroma.shape[-2:]) != tuple(out_size):
            chroma = F.interpolate(chroma, size=tuple(out_size), mode="bilinear",
                                   align_corners=False)
        return chroma

    def _network_output(self, x: torch.Tensor, hints: torch.Tensor | None = None
                        ) -> torch.Tensor:
        """Normalized lightness ``(B, 1, h, w)`` (and a hint map ``(B, 3, h, w)``) -> the
        network's output (logits or chroma) ``(B, C, ceil(h/s), ceil(w/s))``; with
        :attr:`flip`, the mean of the outputs for the image and its mirror image (mirrored
        back). The width is padded to a multiple of the output stride first, so the two
        outputs' cells cover the same pixels."""
        if not self.flip:
            return self.model(x) if hints is None else self.model(x, hints)
        stride = int(getattr(self.model, "output_stride", 1))
        width = x.shape[-1]
        pad = (-width) % stride
        if pad:
            x = F.pad(x, (0, pad, 0, 0), mode="replicate")
            hints = None if hints is None else F.pad(hints, (0, pad, 0, 0))
        if hints is None:
            both = self.model(torch.cat([x, x.flip(-1)]))
        else:
            both = self.model(torch.cat([x, x.flip(-1)]), torch.cat([hints, hints.flip(-1)]))
        out, mirrored = both.chunk(2)
        return ((out + mirrored.flip(-1)) / 2)[..., : math.ceil(width / stride)]

    # ------------------------------------------------------------------ stage 3: render

    def render(self, L: torch.Tensor | np.ndarray, chroma: torch.Tensor | np.ndarray,
               dtype: type = np.uint8) -> np.ndarray:
        """Stage 3, full-resolution lightness + chroma -> colour pixels.

        ``L``: ``(1, H, W)`` or ``(H, W)`` L* in [0, 100]; ``chroma``: ``(2, h, w)`` in
        colour-space units, ``h <= H`` (upsampled bilinearly). Returns sRGB ``(H, W, 3)``, uint8
        or float32 in [0, 1] (``dtype``), whose lightness is ``L`` (out-of-gamut colours are
        pulled towards gray at the same lightness; :mod:`tinct.inference.render`). Memory:
        about a megapixel of temporaries."""
        if isinstance(chroma, np.ndarray):
            chroma = torch.from_numpy(chroma)
        L = L.numpy() if isinstance(L, torch.Tensor) else np.asarray(L)
        return render.merge_to_srgb(L.reshape(L.shape[-2:]), chroma.detach().float().cpu(),
                                    self.space, dtype)

    # ------------------------------------------------------------------ the three stages at once

    def colorize(self, image: ImageInput, size: int | None = None,
                 hints: HintsInput = None) -> Image.Image:
        """One image (path, PIL image, numpy array or LoadedImage) -> colour PIL image of the
        same size (RGBA when the input had alpha).

        ``hints``: colours the person knows, ``[{"x": 120, "y": 80, "color": "#2050c0"}, ...]``
        (or :class:`~tinct.inference.hints.Hint` objects), x and y in pixels of the image as
        displayed; needs a model trained with hints. Only the hints' chroma is used, at the
        photo's own lightness; see :func:`tinct.inference.hints.gamut_notes` for hints that
        cannot be shown at their pixel's lightness."""
        return self.colorize_batch([image], size=size, hints=[hints])[0]

    def colorize_batch(self, images: Sequence[ImageInput], size: int | None = None,
                       batch_size: int = 8, dtype: type | None = None,
                       hints: Sequence[HintsInput] | None = None
                       ) -> list[Image.Image] | list[np.ndarray]:
        """Many images -> their colorizations, in order.

        ``dtype=None``: PIL images (RGB, or RGBA when the input had alpha); ``np.uint8`` or
        ``np.float32``: arrays ``(H, W, 3)`` (float32 in [0, 1]), the alpha left to the caller
        (the batch runner writes it back). Images whose working shapes agree run through the
        network together, ``batch_size`` at a time. ``hints``: per image, as :meth:`colorize`
        takes them (or None).
        """
        loaded = [im if isinstance(im, LoadedImage) else read_image(im) for im in images]
        checked = self._checked_hints(hints, loaded)
        arrays = self._colorize_arrays(loaded, size, batch_size, dtype or np.uint8, checked)
        if dtype is not None:
            return arrays
        return [to_pil(rgb, im.alpha) for rgb, im in zip(arrays, loaded, strict=True)]

    def _checked_hints(self, hints: Sequence[HintsInput] | None,
                       images: Sequence[LoadedImage]) -> list[list[Hint] | None]:
        """Per-image hints (JSON form or Hint objects) -> Hint lists checked against each
        image's size; raises ``InputError`` for bad hints or a model without hint inputs."""
        if hints is None:
            return [None] * len(images)
        if len(hints) != len(images):
            raise ValueError(f"{len(hints)} hint lists for {len(images)} images")
        checked: list[list[Hint] | None] = []
        for image_hints, image in zip(hints, images, strict=True):
            if not image_hints:
                checked.append(None)
                continue
            parsed = list(image_hints)
            if not all(isinstance(h, Hint) for h in parsed):
                parsed = parse_hints(parsed, f"hints for {image.source}")
            check_inside(parsed, image.pixels.shape[1], image.pixels.shape[0],
                         f"hints for {image.source}")
            checked.append(parsed)
        return checked

    def _colorize_arrays(self, images: Sequence[LoadedImage], size: int | None,
                         batch_size: int, dtype: type,
                         hints: Sequence[list[Hint] | None]) -> list[np.ndarray]:
        size = size or self.working_size
        lightness = [lightness_of(im.pixels) for im in images]
        results: list[np.ndarray | None] = [None] * len(images)
        # chroma stays at the working shape; ``render`` upsamples it to full size in bands
        for group in _batches(lightness, size, batch_size):
            full_shapes = [tuple(lightness[i].shape[-2:]) for i in group]
            ws = working_shape(*full_shapes[0], size)
            if len(set(full_shapes)) == 1:  # identical full-resolution shapes: one tensor
                L = torch.stack([lightness[i] for i in group])
            else:
                L = torch.stack([_resize(lightness[i], ws) for i in group])
            out = self.network_output(L, size, [hints[i] for i in group], full_shapes)
            chroma = self.decode_output(out, ws)
            for j, i in enumerate(group):
                image_chroma = self.honour_hints(chroma[j], hints[i], full_shapes[j],
                                                 lightness[i])
                results[i] = self.render(lightness[i], image_chroma, dtype)
        return [r for r in results if r is not None]


def lightness_of(pixels: np.ndarray) -> torch.Tensor:
    """Stage 1 on decoded pixels: ``(H, W)`` gray or ``(H, W, 3)`` sRGB, uint8/uint16/float ->
    L* ``(1, H, W)`` float32 in [0, 100] at full resolution (photos and film frames alike)."""
    pixels = stored_plane(pixels)  # a gray source's one plane: L* from it, 3x less to read
    return torch.from_numpy(render.lightness_of_pixels(np.ascontiguousarray(pixels)))[None]


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


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    """sRGB ``(H, W, 3)`` (uint8, or float in [0, 1]) and an optional alpha plane -> an RGB or
    RGBA PIL image."""
    rgb8 = rgb if rgb.dtype == np.uint8 else to_uint(rgb)
    if alpha is None:
        return Image.fromarray(rgb8, "RGB")
    a8 = alpha if alpha.dtype == np.uint8 else (alpha.astype(np.float32) / 257 + 0.5).astype(
        np.uint8)
    return Image.fromarray(np.dstack((rgb8, a8)), "RGBA")


__all__ = ["Colorizer", "HintsInput", "ImageInput", "lightness_of", "to_pil", "working_shape"]
