"""Helpers shared by several test modules (fixtures live in ``conftest.py``): small photo
folders, a small saved model, a perfect "colorizer", and skip marks for optional extras."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from tinct import create_model
from tinct.cluster.local import LOCAL_CLUSTER_ENV
from tinct.inference.checkpoint import save_pretrained
from tinct.train.data import ColorizationDataset


def requires(module: str, extra: str):
    """A skip mark for a test that needs ``module``, installed by ``pip install tinct[extra]``."""
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"needs {module}: pip install 'tinct[{extra}]'")


requires_web = requires("fastapi", "web")
requires_av = requires("av", "video")
requires_cv2 = requires("cv2", "video")
requires_ray = requires("ray", "ray")

# drivers of the test cluster (tinct.cluster.local) run with its environment
RAY_ENV = {**os.environ, **LOCAL_CLUSTER_ENV}


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


TINY_UNET = {"decoder_channels": [32, 16, 16, 8]}


def training_batch(photo_root: Path, n: int = 4, size: int = 64):
    """Training samples of the first ``n`` photos of ``photo_root/a``: L ``(n, 1, size, size)``
    and chroma ``(n, 2, size, size)``, as the training data gives them."""
    files = [(str(p), 1.0) for p in sorted((photo_root / "a").glob("*.jpg"))[:n]]
    ds = ColorizationDataset(files, size, augment=False)
    items = [ds[i] for i in range(len(ds))]
    return torch.stack([it["L"] for it in items]), torch.stack([it["chroma"] for it in items])


def tiny_train_overrides(photo_root: Path, steps: int) -> list[str]:
    """Config overrides of a tiny, fast training run on ``photo_root`` (see conftest)."""
    return [f"data.root={photo_root}", 'data.folders=[{"path": "a"}, {"path": "b"}]',
            "data.size=64", "data.workers=0", "data.val_fraction=0.2",
            "model.architecture=unet", f"model.args={json.dumps(TINY_UNET)}",
            f"run.steps={steps}", "run.batch_size=2", "run.eval_every=4",
            "run.checkpoint_every=2", "run.log_every=1", "run.grid_images=2",
            "run.device=cpu", "run.precision=fp32", "optim.warmup_steps=2"]
