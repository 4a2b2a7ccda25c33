"""Training configuration: typed dataclasses, YAML files and ``--section.key=value`` overrides."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from tinct.errors import TinctError


@dataclass
class DataConfig:
    root: str | None = None          # base of relative folders (None: $TINCT_DATA, ../shared/data)
    folders: list[dict] = field(default_factory=lambda: [{"path": "train", "weight": 1.0}])
    size: int = 160                  # training crop side in pixels
    crop_scale: list[float] = field(default_factory=lambda: [0.35, 1.0])  # area share range
    val_fraction: float = 0.02       # share of photos held out for validation (hash split)
    val_max: int = 256               # at most this many validation photos are scored
    epoch_fraction: float = 1.0      # draws per epoch, as a share of the (weighted) data
    workers: int = 2                 # DataLoader worker processes
    cache: str = ""                  # decoded training pool (train/cache.py): a folder, built
                                     # on first use or by `tinct train --build-cache`
    cache_side: int = 160            # side of the cached centre squares, px
    degrade: float = 0.0             # share of samples whose input lightness gets old-print
                                     # damage (tinct.train.degrade); the target stays clean
    hints_share: float = 0.5         # hint-taking models (model.args.hints): share of samples
                                     # given colour hints drawn from their true colours
    hints_mean: float = 8.0          # their mean count (geometric, as Zhang et al. 2017)
    hints_patch: int = 5             # largest hint square, px of the training crop


@dataclass
class ModelConfig:
    architecture: str = "unet"       # any name from `tinct models`
    args: dict = field(default_factory=dict)  # keyword arguments of the architecture
    space: str = "lab"               # lab or luv
    working_size: int = 256          # default inference resolution recorded in the saved model
    init_from: str = ""              # warm start: a saved model (name or folder) of the same
                                     # architecture whose weights (and colour prior) start the run


@dataclass
class LossConfig:
    kind: str = "l1"                 # l1, l2, huber (regression); ce (classifier)
    rebalance: float = 0.5           # classifier: mix of prior and uniform (1 = no rebalancing)
    colorfulness: float = 0.0        # weight of the colorfulness term (0 = off)
    regression: float = 0.0          # classifier: weight of a Huber term on its decoded
                                     # chroma (annealed mean) against the truth, which
                                     # pays for how far a wrong colour is (0 = off)
    prior_images: int = 2000         # classifier: photos used to estimate the colour prior
    distill: float = 0.0             # classifier: weight of a term that keeps the predicted
                                     # colour distributions near a teacher's (learning
                                     # without forgetting; 0 = off)
    distill_from: str = ""           # the teacher: a saved classifier (name or folder) with
                                     # the same colour bins, e.g. tinct-base
    semantic: float = 0.0            # weight of a term that keeps what a frozen ImageNet
                                     # classifier sees in the colorized photo near what it
                                     # sees in the true one (KL of class distributions;
                                     # train/semantic.py; 0 = off)
    semantic_variant: int = 0        # that classifier: EfficientNet-Lite 0..4 (tinct eval's
                                     # semantic agreement uses 2; train with another)
    adversarial: bool = False        # train a regression model against a PatchGAN too (GAN
                                     # fine-tuning, e.g. with model.init_from); pix2pix always is
    gan_weight: float = 1.0          # GAN: adversarial weight (reconstruction: `l1_weight`)
    l1_weight: float = 100.0         # GAN: weight of the reconstruction term (loss.kind)
    gan_pretrain_steps: int = 0      # GAN: generator-only reconstruction steps before the
                                     # adversarial phase


@dataclass
class OptimConfig:
    name: str = "adamw"              # adam or adamw
    lr: float = 1e-3
    weight_decay: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    warmup_steps: int = 200
    min_lr_ratio: float = 0.02       # cosine schedule ends at lr * min_lr_ratio
    grad_clip: float = 1.0           # max gradient norm (0 = off)
    ema: float = 0.0                 # weight EMA decay, e.g. 0.999 (0 = off)
    d_lr: float = 2e-4               # pix2pix discriminator learning rate
    fused: bool = True               # the fused optimizer kernel (CPU and CUDA): same maths,
                                     # one pass over all tensors
    freeze: list[str] = field(default_factory=list)  # parameter-name prefixes kept fixed, e.g.
                                     # the encoder's first blocks when fine-tuning (the
                                     # backward pass then stops before them: faster steps)
    lr_scale: dict = field(default_factory=dict)  # parameter-name prefix -> learning-rate
                                     # multiplier, e.g. {hint_: 10} for new layers added to
                                     # a model being fine-tuned


@dataclass
class RunConfig:
    steps: int = 1000                # optimizer steps in total
    batch_size: int = 16             # per process
    seed: int = 0
    device: str = "auto"             # auto, cpu, cuda
    precision: str = "auto"          # auto (bf16 where fast), fp32, bf16, fp16
    channels_last: bool = False
    compile: bool = False            # torch.compile the model for training (slow first step)
    log_every: int = 20              # steps between progress/CSV rows
    eval_every: int = 500            # steps between validations
    checkpoint_every: int = 100      # steps between resume checkpoints
    checkpoint_minutes: float = 5.0  # ... or this many minutes, whichever comes first
    early_stop_patience: int = 0     # validations without improvement before stopping (0 = off)
    grid_images: int = 6             # validation photos in the per-validation picture grid
    name: str = ""                   # saved model name (default: run folder name)


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ConfigError(TinctError, ValueError):
    """Unknown key, wrong type or unreadable config file."""


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = getattr(hint, "__origin__", None) or (hint if hint in (list, dict) else None)
    text = isinstance(value, str)
    if hint is bool or hint == "bool":
        if text:
            low = value.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return bool(value)
    if hint is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if hint is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if origin in (list, dict) and text:
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            import yaml

            value = yaml.safe_load(value)
    if origin is list and not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    if origin is dict and not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {value!r}")
    return value


def _apply(section: Any, key: str, value: Any, where: str) -> None:
    hints = get_type_hints(type(section))
    if key not in hints:
        known = ", ".join(hints)
        raise ConfigError(f"unknown config key {where!r} (known in this section: {known})")
    setattr(section, key, _coerce(value, hints[key], where))


def from_dict(raw: dict[str, Any]) -> TrainConfig:
    """A nested mapping (as read from YAML) -> TrainConfig; unknown keys are errors."""
    cfg = TrainConfig()
    for section_name, values in (raw or {}).items():
        if not hasattr(cfg, section_name):
            raise ConfigError(f"unknown config section {section_name!r} "
                              f"(known: data, model, loss, optim, run)")
        if not isinstance(values, dict):
            raise ConfigError(f"config section {section_name!r} must be a mapping")
        section = getattr(cfg, section_name)
        for key, value in values.items():
            _apply(section, key, value, f"{section_name}.{key}")
    return cfg


def _read_config_file(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """One YAML config file -> its raw mapping, with ``extends`` resolved (deepest first)."""
    import yaml

    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    if path.resolve() in chain:
        raise ConfigError(f"{path}: 'extends' loops back to a file it came from")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of sections")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: 'extends' must name one config file")
    merged = _read_config_file(path.parent / parent, (*chain, path.resolve()))
    for section, values in raw.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section] = {**merged[section], **values}
        else:
            merged[section] = values
    return merged


def load_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """Reads a YAML config (or defaults when ``path`` is None) and applies overrides.

    A config may start from another with ``extends: OTHER.yaml`` (a path relative to the
    file): its sections are merged key by key over the other's, so a recipe that changes one
    setting names that setting alone. Overrides are ``section.key=value`` strings (a leading
    ``--`` is accepted); values are parsed as the field's type, lists and mappings as
    JSON/YAML.
    """
    raw = _read_config_file(Path(path)) if path is not None else {}
    cfg = from_dict(raw)
    for item in overrides:
        text = item[2:] if item.startswith("--") else item
        if "=" not in text or "." not in text.split("=", 1)[0]:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        dotted, value = text.split("=", 1)
        section_name, key = dotted.split(".", 1)
        if not hasattr(cfg, section_name):
            raise ConfigError(f"unknown config section {section_name!r} in override {item!r}")
        _apply(getattr(cfg, section_name), key, value, dotted)
    return cfg
