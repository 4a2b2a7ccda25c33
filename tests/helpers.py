"""Helpers shared by several test modules (fixtures live in ``conftest.py``): small photo
folders, a small saved model, a perfect "colorizer", and skip marks for optional extras."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from tinct import create_model
from tinct.inference.checkpoint import save_pretrained


def requires(module: str, extra: str):
    """A skip mark for a test that needs ``module``, installed by ``pip install tinct[extra]``."""
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"needs {module}: pip install 'tinct[{extra}]'")


requires_web = requires("fastapi", "web")
requires_av = requires("av", "video")
requires_cv2 = requires("cv2", "video")
requires_ray = requires("ray", "ray")

RAY = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
# a test cluster listens on 127.0.0.1 only; every process of it (and each driver) agrees on
# no token, whatever a developer's own ~/.ray holds
RAY_ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _ray(*args: str) -> None:
    subprocess.run([RAY, *args], check=True, env=RAY_ENV, capture_output=True, timeout=180)


def start_ray_cluster(temp: Path) -> str:
    """A real two-node Ray cluster on this machine (``ray start``: a head node and a second
    worker node, one CPU each, small object stores); returns its address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus", "1", "--object-store-memory", str(100 * 2**20),
              "--disable-usage-stats", "--node-ip-address", "127.0.0.1"]
    _ray("start", "--head", "--port", str(port), "--include-dashboard", "false",
         "--temp-dir", str(temp), *common)
    _ray("start", "--address", address, *common)
    return address


def stop_ray_cluster() -> None:
    """Stops every Ray process of this machine's test cluster."""
    subprocess.run([RAY, "stop", "--force"], env=RAY_ENV, capture_output=True, timeout=120)


class Identity:
    """A perfect "colorizer": returns the original photo (test helper)."""

    name = "identity"

    def colorize_batch(self, images, size=None, batch_size=8, dtype=None):
        return [im.to_float() for im in images]


def write_photos(folder: Path, broken: bool = True) -> Path:
    """Five small colour photos (three skimage photos, two synthetic), one gray photo and,
    with ``broken``, one truncated file. Returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)

    def small(array: np.ndarray, width: int) -> Image.Image:
        im = Image.fromarray(array)
        return im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)

    small(data.chelsea(), 96).save(folder / "a_chelsea.png")
    small(data.coffee(), 80).save(folder / "b_coffee.png")
    small(data.astronaut(), 72).save(folder / "c_astronaut.jpg", quality=95)
    bands = np.zeros((48, 64, 3), np.uint8)
    bands[:16] = (200, 40, 40)
    bands[16:32] = (40, 160, 60)
    bands[32:] = (30, 60, 190)
    Image.fromarray(bands).save(folder / "d_bands.png")
    y, x = np.mgrid[0:40, 0:56]
    gradient = np.stack([x * 4, y * 6, 255 - x * 4], axis=-1).clip(0, 255).astype(np.uint8)
    Image.fromarray(gradient).save(folder / "e_gradient.png")
    Image.fromarray(data.camera()[::8, ::8]).save(folder / "f_gray.png")
    if broken:
        (folder / "g_broken.jpg").write_bytes((folder / "c_astronaut.jpg").read_bytes()[:300])
    return folder


def save_small_model(folder: Path, arch: str = "unet", training: dict | None = None) -> Path:
    """A real, randomly initialized model saved as a tinct model folder (working size 64)."""
    torch.manual_seed(0)
    if arch == "unet":
        model = create_model("unet", decoder_channels=(32, 16, 16, 8))
    else:
        model = create_model("cnn", width=8, depth=2)
    return save_pretrained(model, folder, working_size=64, training=training)
