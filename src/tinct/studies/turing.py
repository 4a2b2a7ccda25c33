"""The colorization Turing test (the human study of Zhang et al. 2016): study sets and statistics.

A *study* is a folder built by :func:`prepare_study` (``tinct turing prepare``): for each colour
photo, the real photo and one colorization per model of the same scene, all at the same size
and encoded the same way (JPEG, same quality), so the file itself gives nothing away, plus
``manifest.json``. Visitors see one image at a time and answer "real or colorized?"; the
figure of merit per model is how often its colorizations were taken for real ("fooling rate"),
with a 95% Wilson score interval (:func:`wilson_interval`).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from tinct.errors import InputError, TinctError
from tinct.fileio import atomic_write_text
from tinct.imageio import ImageReadError, list_images, read_image, to_uint, write_image

STUDY_FORMAT = "tinct-turing-study"
STUDY_VERSION = 1
MANIFEST_FILE = "manifest.json"
REAL = "real"
IMAGE_QUALITY = 92  # JPEG quality of every study image, real or colorized alike
Z_95 = 1.959963984540054  # two-sided 95% normal quantile


class StudyError(TinctError, ValueError):
    """A study folder is missing, malformed or inconsistent (one-line message)."""


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / trials``.

    Returns ``(low, high)`` in [0, 1]; ``(0.0, 1.0)`` when ``trials`` is 0 (nothing is known).
    Unlike the normal approximation it stays inside [0, 1] and behaves at 0 and n successes.
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise InputError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


# --------------------------------------------------------------------------- a loaded study


@dataclass(frozen=True)
class StudyItem:
    """One image of the study: the real photo of ``scene`` (``model`` None) or a colorization."""

    id: str  # opaque: tells nothing about real or colorized
    scene: str
    model: str | None
    path: Path

    @property
    def is_real(self) -> bool:
        return self.model is None


@dataclass
class Study:
    """A study folder read back: its items by opaque id, scene ids, model names."""

    root: Path
    study_id: str
    models: list[str]
    scenes: list[str]
    items: dict[str, StudyItem] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # scene id -> the photo's name

    def pick(self, exclude: set[str] = frozenset(), rng: random.Random | None = None
             ) -> StudyItem | None:
        """A random item of a scene not in ``exclude``; ``None`` when every scene is excluded.

        Real and colorized are equally likely (the prior a voter should assume is 50/50);
        a colorization's model is uniform among the study's models.
        """
        rng = rng or random.SystemRandom()
        scenes = [s for s in self.scenes if s not in exclude]
        if not scenes:
            return None
        scene = rng.choice(scenes)
        variants = [i for i in self.items.values() if i.scene == scene]
        real = [i for i in variants if i.is_real]
        fake = [i for i in variants if not i.is_real]
        return rng.choice(real if (not fake or (real and rng.random() < 0.5)) else fake)


def _inside(root: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    if root.resolve() not in path.parents:
        raise StudyError(f"{root / MANIFEST_FILE}: path {relative!r} leaves the study folder")
    if not path.is_file():
        raise StudyError(f"{root / MANIFEST_FILE}: image {relative!r} is missing")
    return path


def load_study(folder: str | os.PathLike) -> Study:
    """Reads and checks a study folder written by :func:`prepare_study`."""
    root = Path(folder)
    manifest_path = root / MANIFEST_FILE
    if not manifest_path.is_file():
        raise StudyError(f"{root}: not a Turing study folder (no {MANIFEST_FILE}); build one "
                         "with 'tinct turing prepare PHOTOS_DIR -o STUDY_DIR'")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StudyError(f"{manifest_path}: unreadable JSON ({exc})") from None
    if manifest.get("format") != STUDY_FORMAT or manifest.get("version") != STUDY_VERSION:
        raise StudyError(f"{manifest_path}: not a version-{STUDY_VERSION} {STUDY_FORMAT} "
                         "manifest")
    try:
        models = [str(m["name"]) for m in manifest["models"]]
        study = Study(root, str(manifest["study_id"]), models, [])
        for scene in manifest["scenes"]:
            sid = str(scene["id"])
            study.scenes.append(sid)
            study.sources[sid] = str(scene.get("source", sid))
            variants = {None: scene["real"], **{m: scene["colorized"][m] for m in models}}
            for model, rel in variants.items():
                item = StudyItem(secrets.token_urlsafe(12), sid, model, _inside(root, rel))
                study.items[item.id] = item
    except (KeyError, TypeError) as exc:
        raise StudyError(f"{manifest_path}: malformed manifest (missing {exc})") from None
    if not study.scenes:
        raise StudyError(f"{manifest_path}: the study has no scenes")
    return study


# --------------------------------------------------------------------------- preparing a study


@dataclass
class PrepareReport:
    """What :func:`prepare_study` did: scenes written, photos skipped (gray) and failed."""

    manifest: Path
    scenes: int
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _folder_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"


def _fit(image: Image.Image, size: int) -> Image.Image:
    """``image`` scaled down so its longer side is at most ``size`` pixels (never up)."""
    scale = size / max(image.size)
    if scale >= 1:
        return image
    target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(target, Image.LANCZOS, reducing_gap=3.0)


def _write_json_atomically(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def prepare_study(photos: str | os.PathLike, out_dir: str | os.PathLike,
                  colorizers: Sequence, *, limit: int | None = None, size: int = 512,
                  overwrite: bool = False, progress: bool = True) -> PrepareReport:
    """Builds a study folder from the colour photos under ``photos``.

    Each photo is scaled to ``size`` (longer side, never enlarged) and written as the real
    image; each colorizer (a :class:`~tinct.Colorizer`) colorizes that same scaled photo from
    its lightness alone. Gray photos are skipped (a study needs real colour); unreadable ones
    are reported and the rest goes on. ``limit`` keeps the first N usable photos (sorted by
    path). ``manifest.json`` is written last, atomically: a folder without it is no study.
    """
    from tqdm.auto import tqdm

    photos, out = Path(photos), Path(out_dir)
    if not colorizers:
        raise InputError("a study needs at least one model")
    if size < 16:
        raise InputError(f"--size must be at least 16 pixels, got {size}")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    paths = list_images(photos)
    if not paths:
        raise InputError(f"{photos}: no images found (looked for JPEG, PNG, TIFF, WebP, ...)")
    if out.resolve() == photos.resolve() or out.resolve() in photos.resolve().parents:
        raise InputError(f"{out}: the study folder must not contain the photos folder")
    if (out / MANIFEST_FILE).exists() and not overwrite:
        raise InputError(f"{out}: already holds a study; choose another folder or pass --force")
    names = [_folder_name(c.name) for c in colorizers]
    if len(set(names)) != len(names) or REAL in names:
        raise InputError(f"model names must be distinct and not {REAL!r}: {names}")
    out.mkdir(parents=True, exist_ok=True)

    report = PrepareReport(out / MANIFEST_FILE, 0)
    scenes: list[dict] = []
    wanted = limit or len(paths)
    with tqdm(total=wanted, unit="photo", desc="turing prepare", disable=not progress) as bar:
        for path in paths:
            if len(scenes) >= wanted:
                break
            try:
                loaded = read_image(path)
            except ImageReadError as exc:
                report.failed.append(str(exc))
                continue
            if not loaded.was_color:
                report.skipped.append(f"{path}: gray photo (a study needs colour photos)")
                continue
            real = _fit(Image.fromarray(to_uint(loaded.to_float())), size)
            sid = f"s{len(scenes) + 1:04d}"
            scene = {"id": sid, "source": os.path.relpath(path, photos),
                     "real": f"{REAL}/{sid}.jpg", "colorized": {}}
            write_image(out / scene["real"], np.asarray(real), quality=IMAGE_QUALITY,
                        protect=[path])
            for colorizer, folder in zip(colorizers, names, strict=True):
                rel = f"{folder}/{sid}.jpg"
                colorized = np.asarray(colorizer.colorize(real).convert("RGB"))
                write_image(out / rel, colorized, quality=IMAGE_QUALITY, protect=[path])
                scene["colorized"][folder] = rel
            scenes.append(scene)
            bar.update(1)
    if not scenes:
        raise InputError(f"{photos}: no usable colour photos ({len(report.skipped)} gray, "
                         f"{len(report.failed)} unreadable)")
    manifest = {
        "format": STUDY_FORMAT,
        "version": STUDY_VERSION,
        "study_id": secrets.token_hex(8),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "size": size,
        "models": [{"name": n, "source": c.config.name or n,
                    "architecture": c.config.architecture}
                   for n, c in zip(names, colorizers, strict=True)],
        "scenes": scenes,
    }
    _write_json_atomically(report.manifest, manifest)
    report.scenes = len(scenes)
    return report
