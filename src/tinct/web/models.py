"""The models a server offers: resolved and checked at start-up, loaded once, then cached."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinct.errors import InputError
from tinct.inference.checkpoint import read_config, resolve_model
from tinct.inference.model_config import ModelConfig
from tinct.inference.pipeline import Colorizer

ModelSpec = str | os.PathLike | None


@dataclass(frozen=True)
class ModelInfo:
    """What ``GET /api/models`` tells about one model."""

    name: str
    folder: Path
    config: ModelConfig

    def public(self) -> dict[str, Any]:
        doc = self.config.to_dict()
        return {
            "name": self.name,
            "description": self.config.description,
            "architecture": self.config.architecture,
            "working_size": self.config.working_size,
            "space": self.config.space,
            "metrics": doc["metrics"],
            "decode": doc["decode"] or None,
            "levels": self.config.levels,  # input levels unless a request says otherwise
            "hints": True,  # every model honours colour hints (the correction after decoding)
            "hint_inputs": self.hint_inputs(),
        }

    def hint_inputs(self) -> bool:
        """Whether the network itself takes colour hints (trained with them)."""
        return bool(self.config.model_args.get("hints"))

    def decodes(self) -> bool:
        """Whether the model is a colour classifier (it has decode settings to change)."""
        return self.config.output_kind == "classification"


class ModelPool:
    """Name -> :class:`Colorizer`, each loaded at most once (thread-safe), in start-up order.

    ``specs`` are installed model names or saved-model folders (``None``: the shipped default).
    Every folder and its ``config.json`` are checked here, so a bad ``--model`` fails at
    start-up rather than on the first request. The first model is the default.
    """

    def __init__(self, specs: list[ModelSpec], device: str | None = None):
        if not specs:
            specs = [None]
        self.device = device
        self.infos: dict[str, ModelInfo] = {}
        for spec in specs:
            folder = resolve_model(spec)
            config = read_config(folder)
            name = config.name or folder.name
            if name in self.infos:
                if self.infos[name].folder.resolve() == folder.resolve():
                    continue
                raise InputError(f"two models are named {name!r} ({self.infos[name].folder} "
                                 f"and {folder}); rename one")
            self.infos[name] = ModelInfo(name, folder, config)
        self._loaded: dict[str, Colorizer] = {}
        self._locks = {name: threading.Lock() for name in self.infos}

    @property
    def default(self) -> str:
        return next(iter(self.infos))

    @property
    def names(self) -> list[str]:
        return list(self.infos)

    def get(self, name: str) -> Colorizer:
        """The loaded colorizer for ``name`` (loads it on first use). ``KeyError`` if unknown."""
        info = self.infos[name]
        colorizer = self._loaded.get(name)
        if colorizer is None:
            with self._locks[name]:
                colorizer = self._loaded.get(name)
                if colorizer is None:
                    colorizer = Colorizer.from_pretrained(info.folder, device=self.device)
                    self._loaded[name] = colorizer
        return colorizer

    def preload(self) -> None:
        for name in self.infos:
            self.get(name)
