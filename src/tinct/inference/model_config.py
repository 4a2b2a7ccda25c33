"""``ModelConfig``: what a saved model's ``config.json`` says, typed, checked once and frozen.

:func:`tinct.inference.checkpoint.read_config` parses the file into a :class:`ModelConfig`;
everything downstream (the pipeline, evaluation, the web page, ``tinct models``, export) reads
its attributes instead of string keys with scattered defaults. A change is a new object
(:meth:`ModelConfig.replace`), written back with
:func:`~tinct.inference.checkpoint.write_config`.

On disk (format version 1) the JSON keys are those of the attributes, except that the
inference switches are stored as ``"inference": {"flip": true, "levels": true}`` (``levels``
only when on). Keys this version of tinct does not know are kept in :attr:`ModelConfig.extra`
and written back unchanged (an exported ONNX file's ``size_multiple`` and ``output_stride``
travel that way).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tinct.color import CHROMA_SCALE, COLOR_SPACES

FORMAT_NAME = "tinct-model"
FORMAT_VERSION = 1
OUTPUT_KINDS = ("regression", "classification")
#: attributes stored under ``"inference"`` in config.json (off when absent)
INFERENCE_SWITCHES = ("flip", "levels")

def _frozen(value: Any) -> Any:
    """Dicts become read-only mappings and lists tuples, recursively."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def to_plain(value: Any) -> Any:
    """The inverse of :func:`_frozen`, for JSON."""
    if isinstance(value, Mapping):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [to_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class ModelConfig:
    """A saved model's configuration.

    Attributes:
        architecture: registered factory name (``tinct.models.list_models()``).
        model_args: the factory's keyword arguments.
        space: colour space of the chroma, ``"lab"`` or ``"luv"``.
        chroma_scale: network units -> colour-space units (chroma = output * scale).
        working_size: longer side, in pixels, at which the network sees a photo.
        output_kind: ``"regression"`` (chroma) or ``"classification"`` (logits over bins).
        decode: a classifier's decode settings (``temperature``, ``boost``); empty otherwise.
        flip: flip averaging at inference (the network also sees the mirror image).
        levels: input levels at inference (the network sees each photo's lightness stretched
            to the full range, :mod:`tinct.inference.levels`; the output keeps its own).
        name, description: what ``tinct models`` shows.
        training, metrics, tuning: what is known of how it was made and how it measured.
        tinct_version: the tinct that wrote it.
        extra: keys this tinct does not know, kept as they were.
    """

    architecture: str
    model_args: Mapping[str, Any] = field(default_factory=dict)
    space: str = "lab"
    chroma_scale: float = CHROMA_SCALE
    working_size: int = 256
    output_kind: str = "regression"
    decode: Mapping[str, float] = field(default_factory=dict)
    flip: bool = False
    levels: bool = False
    name: str = ""
    description: str = ""
    training: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    tuning: Mapping[str, Any] = field(default_factory=dict)
    tinct_version: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("model_args", "decode", "training", "metrics", "tuning", "extra"):
            object.__setattr__(self, name, _frozen(getattr(self, name) or {}))
        problem = self.problem()
        if problem:
            raise ValueError(problem)

    def problem(self) -> str | None:
        """What is wrong with these values, in words; None when nothing is."""
        if not isinstance(self.architecture, str) or not self.architecture:
            return f"architecture must be a name, got {self.architecture!r}"
        if self.space not in COLOR_SPACES:
            return f"unknown colour space {self.space!r} (one of {', '.join(COLOR_SPACES)})"
        if (isinstance(self.working_size, bool) or not isinstance(self.working_size, int)
                or self.working_size < 8):
            return f"working_size must be a whole number of at least 8, got {self.working_size!r}"
        if not isinstance(self.chroma_scale, (int, float)) or not (
                math.isfinite(self.chroma_scale) and self.chroma_scale > 0):
            return f"chroma_scale must be a positive number, got {self.chroma_scale!r}"
        if self.output_kind not in OUTPUT_KINDS:
            return f"output_kind must be one of {', '.join(OUTPUT_KINDS)}, got {self.output_kind!r}"
        for switch in INFERENCE_SWITCHES:
            if not isinstance(getattr(self, switch), bool):
                return f"inference.{switch} must be true or false, got {getattr(self, switch)!r}"
        return None

    @property
    def label(self) -> str:
        """The name to show: ``name``, else the architecture."""
        return self.name or self.architecture

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with ``changes`` applied (checked like a new config)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ JSON

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ModelConfig:
        """A ``config.json`` document -> ModelConfig. Raises ``KeyError`` naming a missing
        required key, ``ValueError`` for a value out of range, ``TypeError`` for a wrong type."""
        for key in ("architecture", "model_args", "space", "working_size"):
            if key not in doc:
                raise KeyError(key)
        inference = doc.get("inference") or {}
        if not isinstance(inference, Mapping):
            raise TypeError(f"inference must be an object, got {inference!r}")
        known = {f.name for f in dataclasses.fields(cls)} - {*INFERENCE_SWITCHES, "extra"}
        values = {k: doc[k] for k in known if k in doc and doc[k] is not None}
        for key in ("model_args", "decode", "training", "metrics", "tuning"):
            if key in values and not isinstance(values[key], Mapping):
                raise TypeError(f"{key} must be an object, got {values[key]!r}")
        extra = {k: v for k, v in doc.items()
                 if k not in known and k not in ("format", "format_version", "inference")}
        extra.update({f"inference.{k}": v for k, v in inference.items()
                      if k not in INFERENCE_SWITCHES})
        switches = {k: inference.get(k, False) for k in INFERENCE_SWITCHES}
        return cls(**values, **switches, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The ``config.json`` document (format version 1)."""
        doc: dict[str, Any] = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION}
        for f in dataclasses.fields(self):
            if f.name in (*INFERENCE_SWITCHES, "extra"):
                continue
            value = to_plain(getattr(self, f.name))
            if f.name == "tuning" and not value:
                continue
            doc[f.name] = value
        inference = {k.split(".", 1)[1]: to_plain(v) for k, v in self.extra.items()
                     if k.startswith("inference.")}
        doc["inference"] = {**inference, "flip": self.flip}
        if self.levels:  # written only when on, so older tincts read the file as before
            doc["inference"]["levels"] = True
        doc.update({k: to_plain(v) for k, v in self.extra.items()
                    if not k.startswith("inference.")})
        return doc
