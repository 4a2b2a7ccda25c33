"""ONNX export of a saved model, and the ONNX Runtime network that runs it inside a Colorizer.

The exported graph is the network followed by its ``decode`` (annealed mean for classifiers),
so any ONNX runtime gets chroma directly:

- input ``L``: ``(B, 1, H, W)`` float32, normalized lightness in [-1, 1], with H and W
  multiples of ``size_multiple`` (dynamic batch, height and width);
- output ``chroma``: ``(B, 2, H / s, W / s)`` float32 in network units (multiply by
  ``chroma_scale`` for ab or uv units), ``s = output_stride``.

The file is self-describing: the model's ``config.json`` (plus ``size_multiple`` and
``output_stride``) is stored in the ONNX metadata under the key ``tinct_config``, so
``tinct colorize --model model.onnx`` and ``Colorizer.from_pretrained("model.onnx")`` need
nothing else. :class:`OnnxNet` pads and crops exactly like :class:`ColorizationNet` does.
Needs the ``onnx`` extra: ``pip install 'tinct[onnx]'``.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from tinct.errors import InputError
from tinct.fileio import new_file_mode
from tinct.inference.checkpoint import ModelLoadError, load_pretrained, resolve_model
from tinct.inference.model_config import ModelConfig
from tinct.models.base import ColorizationNet, run_padded

METADATA_KEY = "tinct_config"
DEFAULT_OPSET = 18


class _DecodedNet(nn.Module):
    """``model._forward`` then ``model.decode``: padded ``(B, 1, H, W)`` -> chroma."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self.model.decode(self.model._forward(L)).float()


def _import(name: str):
    try:
        return __import__(name)
    except ModuleNotFoundError:
        raise ModuleNotFoundError(f"ONNX export and runtime need {name}: "
                                  "pip install 'tinct[onnx]'", name=name) from None


def export_onnx(name_or_path: str | os.PathLike | None, out: str | os.PathLike,
                opset: int = DEFAULT_OPSET) -> Path:
    """Exports a saved model (name, folder, or None for the default) to the ONNX file ``out``.

    Traced at the model's working size (square); the graph accepts any batch and any sides
    that are multiples of the model's ``size_multiple``. Written atomically; an existing
    file is replaced. Returns ``out`` as a Path.
    """
    onnx = _import("onnx")
    folder = resolve_model(name_or_path)
    model, config = load_pretrained(folder)
    reason = getattr(model, "no_export_reason", None)
    if reason:
        raise InputError(f"{folder}: a {config.architecture} model cannot be exported to ONNX "
                         f"({reason}); run it with tinct itself")
    model.eval()
    m = model.size_multiple
    side = -(-config.working_size // m) * m
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with warnings.catch_warnings():
            # the tracer's notes on constant folding and shape-to-int casts are expected here;
            # the TorchScript exporter is deprecated, but the torch.export one (dynamo=True)
            # took minutes on the EfficientNet models and failed on dynamic sides (torch 2.14)
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                _DecodedNet(model), (torch.zeros(1, 1, side, side),), str(tmp),
                input_names=["L"], output_names=["chroma"],
                dynamic_axes={"L": {0: "batch", 2: "height", 3: "width"},
                              "chroma": {0: "batch", 2: "out_height", 3: "out_width"}},
                opset_version=opset, dynamo=False)
        graph = onnx.load(str(tmp))
        meta = dict(config.to_dict(), size_multiple=m, output_stride=model.output_stride)
        entry = graph.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(meta)
        onnx.save(graph, str(tmp))
        os.chmod(tmp, new_file_mode(out))  # mkstemp's owner-only mode is for the temp file
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


class OnnxNet(ColorizationNet):
    """An exported model run by ONNX Runtime, with the interface of a ColorizationNet.

    ``forward(x)``: normalized L ``(B, 1, H, W)`` in [-1, 1], any H and W -> chroma
    ``(B, 2, ceil(H/s), ceil(W/s))`` in network units (already decoded, so ``decode`` is the
    identity). Runs on the CPU (or CUDA when onnxruntime-gpu is installed and asked for).
    """

    output_kind = "regression"  # the graph already decodes
    no_decode_reason = "is an exported ONNX graph, which decodes as it was exported"

    def __init__(self, path: str | os.PathLike, config: ModelConfig,
                 threads: int | None = None, providers: list[str] | None = None):
        super().__init__()
        ort = _import("onnxruntime")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options,
                                            providers=providers or ["CPUExecutionProvider"])
        self.size_multiple = int(config.extra["size_multiple"])
        self.output_stride = int(config.extra["output_stride"])

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        (chroma,) = self.session.run(["chroma"], {"L": array})
        return torch.from_numpy(chroma).to(x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_padded(self._run, x, self.size_multiple, self.output_stride)



def load_onnx(path: str | os.PathLike, threads: int | None = None) -> tuple[OnnxNet, dict]:
    """Reads an exported ``.onnx`` file -> ``(OnnxNet, config)``; clear errors for bad files."""
    onnx = _import("onnx")
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such ONNX file")
    try:
        graph = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises several types for damaged files
        raise ModelLoadError(f"{path}: not a readable ONNX file ({exc})") from None
    props = {p.key: p.value for p in graph.metadata_props}
    if METADATA_KEY not in props:
        raise ModelLoadError(f"{path}: not exported by 'tinct export' (no {METADATA_KEY} "
                             "metadata)")
    try:
        config = ModelConfig.from_dict(json.loads(props[METADATA_KEY]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{path}: damaged {METADATA_KEY} metadata ({exc})") from None
    return OnnxNet(path, config, threads=threads), config
