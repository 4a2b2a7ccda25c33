"""Resume state: everything needed to continue a run exactly, written atomically.

The file holds only tensors, numbers, strings and containers of them, so it is read with
``torch.load(weights_only=True)``: a crafted ``state.pt`` cannot run code. The random
generators' states (Python's and NumPy's are tuples with arrays) are stored as tensors.
"""

from __future__ import annotations

import os
import pickle
import random
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
