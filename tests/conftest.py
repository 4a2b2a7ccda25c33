"""Shared fixtures: a tiny real (untrained) saved model, its Colorizer, and small test photos.

No test needs the internet, a GPU or ../shared/data: models are built with ``create_model``
from random initial weights and photos come from ``skimage.data``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from tinct import create_model
from tinct.inference import checkpoint

TINY_UNET_ARGS = {"encoder": "efficientnet_lite0", "decoder_channels": (32, 16, 16, 8)}
TINY_WORKING_SIZE = 64


def make_tiny_model(seed: int = 0, **overrides):
    """A small random-init U-Net (about 3.5 M parameters, fast on CPU at 64 px)."""
    torch.manual_seed(seed)
    return create_model("unet", **{**TINY_UNET_ARGS, **overrides}).eval()


@pytest.fixture(scope="session")
def tiny_model():
    """The factory :func:`make_tiny_model`: ``tiny_model(seed=0, **unet_args)`` -> model."""
    return make_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved-model folder (config.json + model.safetensors) of an untrained tiny U-Net."""
    folder = tmp_path_factory.mktemp("models") / "tiny-unet"
    return checkpoint.save_pretrained(make_tiny_model(), folder,
                                      working_size=TINY_WORKING_SIZE,
                                      description="untrained test model")


def make_tiny_classifier(hints: bool = False):
    """A random-init colour classifier (EfficientNet-Lite0 U-Net, 261 bins, stride 4) with
    non-trivial BatchNorm statistics (an export has to carry them) and a colour prior like that
    of photos (mostly low chroma), which decode boosts reweight. ``hints=True``: it takes colour
    hints, with random (non-zero) hint weights so that hints change its output."""
    torch.manual_seed(0)
    model = create_model("classifier", decoder_channels=(32, 16, 16), hints=hints).eval()
    prior = torch.exp(-model.centres.norm(dim=1) / 15)
    model.prior.copy_(prior / prior.sum())
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    if hints:
        with torch.no_grad():
            model.hint_stem.weight.normal_(0, 0.1)
            model.hint_head.weight.normal_(0, 0.1)
    return model


@pytest.fixture(scope="session")
def tiny_classifier_dir(tmp_path_factory) -> Path:
    """A saved :func:`make_tiny_classifier` (working size 96)."""
    folder = tmp_path_factory.mktemp("models") / "tiny-classifier"
    return checkpoint.save_pretrained(make_tiny_classifier(), folder, working_size=96)


@pytest.fixture(scope="session")
def tiny_hint_classifier_dir(tmp_path_factory) -> Path:
    """A saved :func:`make_tiny_classifier` that takes colour hints (working size 96)."""
    folder = tmp_path_factory.mktemp("models") / "tiny-hint-classifier"
    return checkpoint.save_pretrained(make_tiny_classifier(hints=True), folder, working_size=96)


@pytest.fixture(scope="session")
def colorizer(tiny_model_dir):
    """A CPU float32 Colorizer over ``tiny_model_dir``. Do not modify it in a test."""
    from tinct import Colorizer

    return Colorizer.from_pretrained(tiny_model_dir, device="cpu", precision="fp32")


@pytest.fixture
def no_installed_models(tmp_path, monkeypatch) -> Path:
    """Empties the model search path (no $TINCT_MODELS, no shipped models). Returns its folder."""
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setattr(checkpoint, "WEIGHTS_DIR", empty)
    monkeypatch.delenv(checkpoint.MODELS_ENV, raising=False)
    return empty


def photo(name: str = "astronaut", size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """A skimage colour photo resized to ``size`` = (width, height): (H, W, 3) uint8."""
    rgb = getattr(data, name)()
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))


def gray_photo(name: str = "astronaut", size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """The gray version of :func:`photo`: (H, W) uint8."""
    return np.asarray(Image.fromarray(photo(name, size)).convert("L"))


@pytest.fixture(scope="session")
def photo_of():
    """The factory :func:`photo`: ``photo_of(name, (width, height))`` -> (H, W, 3) uint8."""
    return photo


@pytest.fixture(scope="session")
def rgb_photo() -> np.ndarray:
    """A colour photo, (48, 64, 3) uint8."""
    return photo()


@pytest.fixture(scope="session")
def gray_image() -> np.ndarray:
    """A gray photo, (48, 64) uint8."""
    return gray_photo()


@pytest.fixture(scope="session")
def ray_cluster():
    """The address of a real two-node Ray cluster (one CPU each) started for the session with
    ``ray start`` (:mod:`tinct.cluster.local`), stopped at the end."""
    from tinct.cluster.local import start_local_cluster, stop_local_cluster

    temp = Path(f"/tmp/tinct-ray-{os.getpid()}")  # unix socket paths must stay short
    try:
        yield start_local_cluster(nodes=2, cpus_per_node=1, temp_dir=temp)
    finally:
        stop_local_cluster()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="session")
def photo_root(tmp_path_factory) -> Path:
    """Two folders of small colour photos (skimage) plus a gray and a broken file."""
    from skimage import data

    root = tmp_path_factory.mktemp("photos")
    names = ["astronaut", "coffee", "chelsea", "rocket", "cat", "immunohistochemistry"]
    for i, name in enumerate(names):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(exist_ok=True)
        img = Image.fromarray(getattr(data, name)())
        for flip in (False, True):
            out = img.transpose(Image.FLIP_LEFT_RIGHT) if flip else img
            out.resize((96, 80)).save(folder / f"{name}{'_f' if flip else ''}.jpg")
    Image.fromarray(data.camera()).resize((96, 80)).save(root / "b" / "gray.png")
    (root / "b" / "broken.jpg").write_bytes(b"not an image")
    return root
