"""The saved-model format: a folder with ``config.json`` and ``model.safetensors``.

``config.json`` fully describes the model: format version, architecture and its arguments,
colour space and chroma scale, working resolution, decode settings, and what is known of its
training and measured metrics. ``model.safetensors`` holds inference weights only (fp16 by
default for shipped models). Loading is strict: an unknown format version or architecture, or
weights that do not match the architecture, are clear errors. Resume state (optimizer, step,
RNG) lives elsewhere (see ``tinct.train``) and is never part of a saved model.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from tinct import __version__
from tinct.color import CHROMA_SCALE, COLOR_SPACES
from tinct.errors import InputError, TinctError
from tinct.fileio import atomic_write_text
from tinct.inference.model_config import FORMAT_NAME, FORMAT_VERSION, ModelConfig, to_plain
from tinct.models.registry import UnknownModelError, create_model, list_models

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
DEFAULT_MODEL = "tinct-base"
WEIGHTS_DIR = Path(__file__).parent.parent / "weights"
MODELS_ENV = "TINCT_MODELS"  # extra folders of installed models, os.pathsep-separated


class ModelLoadError(TinctError, ValueError):
    """A saved model is missing, malformed, from a newer tinct, or does not match its config."""


def save_pretrained(model: nn.Module, folder: str | os.PathLike, *, space: str = "lab",
                    working_size: int = 256, name: str | None = None,
                    description: str = "", training: dict | None = None,
                    metrics: dict | None = None, inference: dict | None = None,
                    tuning: dict | None = None, dtype: torch.dtype = torch.float32) -> Path:
    """Writes ``model`` as a saved-model folder, atomically (a complete folder or none).

    ``model`` must come from ``create_model`` (it carries ``tinct_spec``). ``dtype`` is the
    storage type of floating-point weights (use ``torch.float16`` to ship compactly).
    ``inference``: how a ``Colorizer`` should run it (``{"flip": True}``: flip averaging;
    ``{"levels": True}``: input levels). ``tuning``: how the decode setting was chosen (what
    ``tinct tune --save`` records). Returns the folder path.
    """
    spec = getattr(model, "tinct_spec", None)
    if spec is None:
        raise InputError("model was not built by tinct.create_model; cannot record its spec")
    if space not in COLOR_SPACES:
        raise InputError(f"unknown colour space {space!r}; choose one of {COLOR_SPACES}")
    folder = Path(folder)
    inference = dict(inference or {})
    config = ModelConfig(
        architecture=spec["architecture"], model_args=_jsonable(spec["args"]), space=space,
        chroma_scale=CHROMA_SCALE, working_size=int(working_size),
        output_kind=getattr(model, "output_kind", "regression"),
        decode=(model.decode_settings() if hasattr(model, "decode_settings") else None) or {},
        flip=bool(inference.pop("flip", False)), levels=bool(inference.pop("levels", False)),
        name=name or folder.name,
        description=description, training=training or {}, metrics=metrics or {},
        tuning=tuning or {}, tinct_version=__version__,
        extra={f"inference.{k}": v for k, v in inference.items()})
    state = {k: _storage_tensor(v.detach(), dtype).contiguous().cpu()
             for k, v in model.state_dict().items()}
    with staged_folder(folder) as tmp:
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT_NAME})
        write_config(tmp, config)
    return folder


def save_like(model: nn.Module, folder: str | os.PathLike, config: ModelConfig,
              **changes: Any) -> Path:
    """Writes ``model`` as :func:`save_pretrained` does, keeping what ``config`` (the saved
    model it was made from) says of how to run it: its colour space, working size, flip
    averaging and input levels, name, description, training record, metrics and tuning.
    ``changes``: any of :func:`save_pretrained`'s keyword arguments, replacing what
    ``config`` gives (e.g. ``metrics={}`` for a changed model whose scores no longer hold).
    Returns the folder path."""
    plain = config.to_dict()
    kept = dict(space=config.space, working_size=config.working_size, name=config.name,
                description=config.description, training=plain.get("training", {}),
                metrics=plain.get("metrics", {}), tuning=plain.get("tuning", {}),
                inference={"flip": config.flip, "levels": config.levels})
    return save_pretrained(model, folder, **{**kept, **changes})


def copy_pretrained(source: str | os.PathLike, target: str | os.PathLike,
                    dtype: torch.dtype = torch.float16) -> Path:
    """Copies saved-model folder ``source`` to ``target`` with its floating-point weights
    stored in ``dtype`` (as :func:`save_pretrained` stores them: a tensor that the cast would
    overflow keeps float32) and its config unchanged. Atomic; returns ``target``."""
    source, target = Path(source), Path(target)
    state = {k: _storage_tensor(v, dtype).contiguous()
             for k, v in load_file(str(source / WEIGHTS_FILE)).items()}
    with staged_folder(target) as tmp:
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT_NAME})
        shutil.copyfile(source / CONFIG_FILE, tmp / CONFIG_FILE)
    return target


def write_config(folder: Path, config: ModelConfig) -> None:
    """Writes a saved model's ``config.json`` into ``folder`` (atomically: an existing one is
    replaced whole or not at all)."""
    atomic_write_text(Path(folder) / CONFIG_FILE, json.dumps(config.to_dict(), indent=2) + "\n")


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yields an empty temporary folder beside ``target``; when the block ends normally it
    becomes ``target`` (usual permissions, atomic rename, an old ``target`` replaced), and when
    it raises it is removed: a complete folder or none, never a half-written one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        _usual_permissions(tmp)
        _replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _usual_permissions(folder: Path) -> None:
    """mkdtemp makes a folder only its owner can read (0700); a saved model gets the modes a
    plain mkdir / open would give under the current umask, so others can load it."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod(0o666 & ~umask)


def _storage_tensor(value: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``value`` as stored: floating point in ``dtype``, unless that cast would turn finite
    values infinite (a BatchNorm running variance above 65504 does in float16); such a
    tensor keeps float32, so a compact file never changes what the network computes."""
    if not value.is_floating_point():
        return value
    cast = value.to(dtype)
    if not torch.equal(torch.isfinite(cast), torch.isfinite(value)):
        return value.to(torch.float32)
    return cast


def _replace_dir(new: Path, target: Path) -> None:
    """Moves folder ``new`` to ``target``; an existing ``target`` is swapped out, then removed."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        old.rmdir()
        os.replace(target, old)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def read_config(folder: str | os.PathLike) -> ModelConfig:
    """Reads and validates ``config.json`` of a saved-model folder. Raises
    :class:`ModelLoadError` naming the file and the problem."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ModelLoadError(f"{folder}: not a tinct model folder (no {CONFIG_FILE})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: unreadable JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ModelLoadError(f"{path}: not a tinct model config (format must be {FORMAT_NAME!r})")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelLoadError(
            f"{path}: format version {version!r} is not supported by tinct {__version__} "
            f"(it reads version {FORMAT_VERSION}); upgrade tinct to load this model"
        )
    try:
        return ModelConfig.from_dict(config)
    except KeyError as exc:
        raise ModelLoadError(f"{path}: missing required key {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{path}: {exc}") from None


def load_pretrained(folder: str | os.PathLike, device: str | torch.device = "cpu"
                    ) -> tuple[nn.Module, ModelConfig]:
    """Loads a saved-model folder -> (model in eval mode, float32, on ``device``; config)."""
    folder = Path(folder)
    config = read_config(folder)
    args = to_plain(config.model_args)  # plain dicts and lists, as factories expect
    if "pretrained" in args:
        args["pretrained"] = False  # the weights come from the file, not from ImageNet
    try:
        model = create_model(config.architecture, **args)
    except UnknownModelError:
        raise ModelLoadError(
            f"{folder}: unknown architecture {config.architecture!r} "
            f"(this tinct knows {', '.join(list_models())})"
        ) from None
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{folder}: model arguments do not fit: {exc}") from None
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelLoadError(f"{folder}: missing {WEIGHTS_FILE}")
    try:
        state = load_file(str(weights))
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise ModelLoadError(f"{weights}: unreadable weights ({exc})") from None
    own = model.state_dict()
    state = {k: v.to(own[k].dtype) if k in own else v for k, v in state.items()}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise ModelLoadError(
            f"{weights}: weights do not match architecture {config.architecture!r} "
            f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''})"
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise ModelLoadError(f"{weights}: weights do not fit the architecture: {first}") from None
    decode = dict(config.decode)
    if decode and model.decode_settings() is not None:
        try:
            model.set_decode(**decode)
        except (TypeError, ValueError) as exc:
            raise ModelLoadError(f"{folder}: bad decode settings {decode}: {exc}") from None
    return model.to(device).eval(), config


def model_search_path() -> list[Path]:
    """Folders searched for installed models: ``$TINCT_MODELS`` entries, then the package's."""
    extra = [Path(p) for p in os.environ.get(MODELS_ENV, "").split(os.pathsep) if p]
    return [*extra, WEIGHTS_DIR]


def installed_models() -> dict[str, Path]:
    """Name -> folder of every installed saved model (first found on the search path wins)."""
    found: dict[str, Path] = {}
    for root in model_search_path():
        if not root.is_dir():
            continue
        for sub in sorted(root.iterdir()):
            if (sub / CONFIG_FILE).is_file() and sub.name not in found:
                found[sub.name] = sub
    return found


def resolve_model(name_or_path: str | os.PathLike | None = None) -> Path:
    """A model name (installed) or a folder path (``~`` expanded) -> the saved-model folder.

    ``None`` means the shipped default. Raises ``ModelLoadError`` with what is available.
    """
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    models = installed_models()
    if str(name_or_path) in models:
        return models[str(name_or_path)]
    if str(name_or_path) == DEFAULT_MODEL:
        raise ModelLoadError(
            "no trained model shipped yet: this tinct has no default model. Train one with "
            "'tinct train' and pass its folder with --model"
        )
    available = ", ".join(models) or "none"
    raise ModelLoadError(
        f"{name_or_path}: no such model folder or installed model (installed: {available})"
    )
