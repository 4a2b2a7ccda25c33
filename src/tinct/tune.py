"""Choosing a colour classifier's decode temperature on validation photos (``tinct tune``).

A classifier (``output_kind == "classification"``) predicts a distribution over quantized
colours per pixel; its chroma is the annealed mean of that distribution at a temperature T
(Zhang et al. 2016): small T approaches the mode (vivid, riskier colour), large T the mean
(safe, desaturated colour). T changes no weight, so it is chosen after training, on held-out
photos, by measuring the same network at several temperatures.

:func:`temperature_entries` builds one evaluation entry per temperature; they share one
network and its output, so the network runs once per photo however many temperatures are
measured (only decoding, rendering and the metrics repeat). :func:`choose_temperature` applies
the rule: the best PSNR among the temperatures whose colourfulness gap dCF is at most
``max_dcf`` (too gray a result is the commonest complaint about colorizers); when none is that
colourful, the one with the smallest dCF (``tinct tune``'s default limit is 4, the
target set for the shipped model). :func:`save_with_temperature` writes a copy of the
saved model with the chosen temperature (atomically; the original folder is never changed).
"""

from __future__ import annotations

import json
import os
import shutil
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from .checkpoint import CONFIG_FILE, WEIGHTS_FILE, resolve_model, staged_folder, write_config
from .evaluate import EvalEntry, EvalResult, describe_model


class SharedOutput(nn.Module):
    """Wraps a network and remembers its outputs for the last ``capacity`` distinct inputs,
    so several decoders of the same photos run the network once.

    ``forward(x)``: ``x`` ``(B, 1, h, w)`` normalized lightness -> the wrapped network's
    output for it (a cached tensor when an equal input was seen recently). The default
    ``capacity`` covers the shape groups of one evaluation batch of 8 photos (a 256-px
    classifier's output is about 4 MB a photo); a miss only costs a second network run.
    """

    def __init__(self, network: nn.Module, capacity: int = 8):
        super().__init__()
        self.network = network
        self.capacity = capacity
        self._cache: OrderedDict[int, list[tuple[torch.Tensor, torch.Tensor]]] = OrderedDict()
        self.calls = 0  # network runs (for tests and curiosity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = hash((tuple(x.shape), float(x.float().sum())))
        for seen, out in self._cache.get(key, []):
            if seen.shape == x.shape and torch.equal(seen, x):
                self._cache.move_to_end(key)
                return out
        out = self.network(x)
        self.calls += 1
        self._cache.setdefault(key, []).append((x.detach().clone(), out.detach()))
        self._cache.move_to_end(key)
        while sum(len(v) for v in self._cache.values()) > self.capacity:
            self._cache.popitem(last=False)
        return out


class AtTemperature(nn.Module):
    """A view of a shared classifier that decodes at a fixed temperature.

    ``forward``: as the shared network; ``decode(out)``: chroma ``(B, 2, h, w)`` in network
    units, the annealed mean at ``temperature``.
    """

    output_kind = "classification"

    def __init__(self, shared: SharedOutput, temperature: float):
        super().__init__()
        self.shared = shared
        self.temperature = float(temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shared(x)

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        return self.shared.network.decode(out, temperature=self.temperature)


def parse_temperatures(text: str) -> list[float]:
    """``"0.4,0.8, 1.2"`` -> ``[0.4, 0.8, 1.2]``; each must be a positive number."""
    values = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"not a temperature: {part!r} (expected numbers like 0.4,0.8)") \
                from None
        if not value > 0 or value != value or value == float("inf"):
            raise ValueError(f"a temperature must be a positive number, got {part}")
        values.append(value)
    if not values:
        raise ValueError("no temperatures given")
    return sorted(set(values))


def temperature_entries(model: str | os.PathLike, temperatures: Sequence[float],
                        device: str | None = None, size: int | None = None
                        ) -> tuple[Path, list[EvalEntry]]:
    """(model name or folder, temperatures) -> (its folder, one entry per temperature).

    The entries are labelled ``"NAME T=0.8"`` and share one network (see :class:`SharedOutput`).
    Raises ``ValueError`` for a model that is not a colour classifier.
    """
    from .checkpoint import load_pretrained
    from .pipeline import Colorizer

    folder = resolve_model(model)
    network, config = load_pretrained(folder)
    if config.get("output_kind") != "classification" or not hasattr(network, "temperature"):
        raise ValueError(
            f"{folder}: a {config.get('architecture')} model predicts chroma directly; only "
            "colour classifiers (architecture 'classifier') have a decode temperature to tune")
    shared = SharedOutput(network)
    entries = []
    name = config.get("name", folder.name)
    info = describe_model(Colorizer(network, config, device=device), folder)
    for t in temperatures:
        colorizer = Colorizer(AtTemperature(shared, t), {**config, "name": f"{name} T={t:g}"},
                              device=device)
        entries.append(EvalEntry(colorizer.name, colorizer, size,
                                 {**info, "decode_temperature": t}))
    return folder, entries


@dataclass
class Choice:
    """The temperature chosen, its index among those measured, and why (one sentence)."""

    temperature: float
    index: int
    reason: str


def choose_temperature(temperatures: Sequence[float], results: Sequence[EvalResult],
                       max_dcf: float) -> Choice:
    """The best PSNR among temperatures with ``dcf <= max_dcf``; else the smallest dCF."""
    if len(temperatures) != len(results) or not results:
        raise ValueError("need one evaluation result per temperature")
    dcf = [r.summary["dcf"] for r in results]
    psnr = [r.summary["psnr"] for r in results]
    ok = [i for i, d in enumerate(dcf) if d <= max_dcf]
    if ok:
        i = max(ok, key=lambda j: psnr[j])
        return Choice(temperatures[i], i, f"best PSNR ({psnr[i]:.2f} dB) among the "
                      f"{len(ok)} temperature(s) with dCF <= {max_dcf:g} (dCF {dcf[i]:.2f})")
    i = min(range(len(dcf)), key=lambda j: dcf[j])
    return Choice(temperatures[i], i, f"no temperature reached dCF <= {max_dcf:g}; the "
                  f"smallest dCF ({dcf[i]:.2f}, PSNR {psnr[i]:.2f} dB)")


def save_with_temperature(source: str | os.PathLike, target: str | os.PathLike,
                          choice: Choice, tuning: dict[str, Any]) -> Path:
    """Copies saved-model folder ``source`` to ``target`` with ``decode.temperature`` set to
    the chosen one and ``tuning`` (what was measured) recorded in its config. Atomic; refuses
    to write over ``source`` or over an existing folder."""
    source, target = Path(source), Path(target)
    if target.exists():
        raise ValueError(f"{target}: already exists; choose a new folder for the tuned model")
    config = json.loads((source / CONFIG_FILE).read_text(encoding="utf-8"))
    config["decode"] = {**config.get("decode", {}), "temperature": choice.temperature}
    config["name"] = target.name
    config["tuning"] = {**tuning, "chosen_temperature": choice.temperature,
                        "reason": choice.reason}
    with staged_folder(target) as tmp:
        shutil.copyfile(source / WEIGHTS_FILE, tmp / WEIGHTS_FILE)
        write_config(tmp, config)
    return target
