"""Resume state: everything needed to continue a run exactly, written atomically.

The file holds only tensors, numbers, strings and containers of them, so it is read with
``torch.load(weights_only=True)``: a crafted ``state.pt`` cannot run code. The random
generators' states (Python's and NumPy's are tuples with arrays) are stored as tensors.
"""

from __future__ import annotations

import math
import os
import pickle
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tinct.errors import TinctError

STATE_FILE = "state.pt"
TEMP_PREFIX = f".{STATE_FILE}.tmp-"
REQUIRED_KEYS = ("model", "optimizer", "objective", "step", "epoch", "position",
                 "wall_time_s", "best_val", "bad_evals", "rng")


class StateError(TinctError, ValueError):
    """A resume state that is damaged, foreign or incomplete (one-line message)."""


def rng_state() -> dict[str, Any]:
    """The random generators' states (Python, NumPy, torch CPU and CUDA) as tensors."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64),
                        "gauss": gauss},
             "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)),
                       "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["internal"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["name"], npy["keys"].numpy().astype(np.uint32), npy["pos"],
                         npy["has_gauss"], npy["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def remove_stale_temp_files(run_dir: Path) -> list[Path]:
    """Deletes ``.state.pt.tmp-PID`` files left by a trainer that was killed mid-write (the
    finished ``state.pt`` is never touched); returns what was removed. A temp file of a
    process that is still alive is kept."""
    removed = []
    for tmp in Path(run_dir).glob(f"{TEMP_PREFIX}*"):
        pid = tmp.name[len(TEMP_PREFIX):]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def save_state(run_dir: Path, state: dict[str, Any]) -> Path:
    """Writes ``state`` to ``run_dir/state.pt`` via a temp file and an atomic rename."""
    path = run_dir / STATE_FILE
    tmp = path.with_name(f"{TEMP_PREFIX}{os.getpid()}")
    try:
        torch.save(state, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_state(run_dir: Path) -> dict[str, Any]:
    """The resume state of ``run_dir`` (tensors and plain values only). Raises
    ``FileNotFoundError`` when there is none and :class:`StateError`, naming the file and the
    problem, when it is damaged, not a tinct state, or lacks a part a resume needs."""
    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no resume state ({STATE_FILE}) in this run folder")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise StateError(f"{path}: not a tinct resume state, refused to load it "
                         f"({first[:160]})") from None
    except Exception as exc:  # noqa: BLE001 - any failure to read a user's file is "damaged"
        # torch's weights-only unpickler meets garbage with whatever Python raises on the way
        # (IndexError, KeyError, struct.error, ...), so every exception here means "damaged".
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StateError(f"{path}: damaged resume state ({first[:160]})") from None
    if not isinstance(state, dict):
        raise StateError(f"{path}: not a tinct resume state (a {type(state).__name__})")
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise StateError(f"{path}: not a complete tinct resume state (missing "
                         f"{', '.join(missing)})")
    return state


@dataclass
class Progress:
    """How far a run is: optimizer steps, epoch and samples into it, training wall time, the
    best validation loss and how many validations since it improved."""

    step: int = 0
    epoch: int = 0
    position: int = 0
    wall_time_s: float = 0.0
    best_val: float = math.inf
    bad_evals: int = 0


@dataclass
class TrainState:
    """Everything a resume restores, defined once: what :meth:`save` writes is what
    :meth:`restore` reads.

    ``model``: the network being trained (not its DDP or compiled wrapper); ``ema``: its
    ``AveragedModel`` or None; ``objective``: the family's objective (its own state, e.g. a
    discriminator, a colour prior).
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    objective: Any
    ema: torch.nn.Module | None
    progress: Progress = field(default_factory=Progress)

    @property
    def eval_model(self) -> torch.nn.Module:
        """The network that is validated and saved: the EMA weights when there are some."""
        return self.ema.module if self.ema is not None else self.model

    def save(self, run_dir: Path, world_size: int) -> Path:
        """Writes ``run_dir/state.pt`` atomically (see :func:`save_state`)."""
        p = self.progress
        return save_state(Path(run_dir), {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "objective": self.objective.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "step": p.step, "epoch": p.epoch, "position": p.position,
            "wall_time_s": p.wall_time_s, "best_val": p.best_val, "bad_evals": p.bad_evals,
            "rng": rng_state(), "world_size": world_size})

    def restore(self, run_dir: Path) -> None:
        """Loads ``run_dir/state.pt`` into this state (weights, optimizer, objective, EMA,
        progress, random generators). Raises :class:`StateError` for a damaged file or one
        that does not fit this run's model and config."""
        state = load_state(Path(run_dir))
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.objective.load_state_dict(state["objective"])
            if self.ema is not None and state.get("ema") is not None:
                self.ema.load_state_dict(state["ema"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise StateError(f"{Path(run_dir) / STATE_FILE}: does not fit this run's model and "
                             f"config ({str(exc).strip().splitlines()[0][:160]})") from None
        self.progress = Progress(int(state["step"]), int(state["epoch"]),
                                 int(state["position"]), float(state["wall_time_s"]),
                                 float(state["best_val"]), int(state["bad_evals"]))
        set_rng_state(state["rng"])
