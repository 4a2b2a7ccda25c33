"""Training data: folders of colour photos -> ``{"L", "chroma", "index"}`` samples.

- Several folders, each with a sampling weight (an image of a folder with weight 4 is drawn
  four times as often as one of a folder with weight 1), scanned recursively; unreadable and
  grayscale-looking photos are skipped and counted.
- A deterministic train/validation split by a hash of each file's path relative to the data
  root, so the split does not change when files are added elsewhere or the root is spelled
  differently.
- Augmentation (random resized crop, horizontal flip) driven by a per-sample seed derived from
  (seed, epoch, position), so a resumed run sees exactly the images and crops it would have seen.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from tinct import color
from tinct.errors import InputError
from tinct.imageio import ImageReadError, list_images, read_image

DATA_ENV = "TINCT_DATA"


NO_ROOT_HELP = (f"set data.root in the config (--data.root=DIR) or the environment variable "
                f"{DATA_ENV} (e.g. export {DATA_ENV}=../shared/data)")


def default_data_root() -> Path:
    """The shared photo collection, ``$TINCT_DATA``; an ``InputError`` saying how to set it
    when it is not set (tinct never guesses a folder)."""
    value = os.environ.get(DATA_ENV)
    if not value:
        raise InputError(f"no data folder given: {NO_ROOT_HELP}")
    return Path(value)


def resolve_data_root(configured: str | None = None) -> Path | None:
    """A config's ``data.root`` if set, else ``$TINCT_DATA``; None when neither is (then only
    absolute data folders can be used: :func:`check_folders` says so for a relative one)."""
    if configured:
        return Path(configured)
    value = os.environ.get(DATA_ENV)
    return Path(value) if value else None


@dataclass
class FolderSpec:
    """One folder of photos and how often its photos are drawn: ``weight`` per photo, or
    ``share``, the folder's share of all draws (its photos' weight is then ``share`` divided
    by how many it has, so a large folder cannot dominate and a small one is not lost)."""

    path: str
    weight: float = 1.0
    share: float | None = None


def folder_specs(entries: list) -> list[FolderSpec]:
    """A config's ``data.folders`` (paths, or ``{path, weight}`` mappings) as specs."""
    return [FolderSpec(**e) if isinstance(e, dict) else FolderSpec(str(e)) for e in entries]


def check_folders(folders: list[FolderSpec], root: Path | None = None) -> list[Path]:
    """The folders' paths (relative ones under ``root``), each checked to exist with a
    positive weight; raises ``FileNotFoundError`` / ``ValueError`` naming the folder."""
    paths = []
    for spec in folders:
        folder = Path(spec.path)
        if not folder.is_absolute():
            if root is None:
                raise InputError(f"{folder}: a relative data folder needs a data root: "
                                 f"{NO_ROOT_HELP}")
            folder = root / folder
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: data folder not found")
        if spec.weight <= 0:
            raise InputError(f"{folder}: sampling weight must be positive, got {spec.weight}")
        if spec.share is not None and spec.share <= 0:
            raise InputError(f"{folder}: share must be positive, got {spec.share}")
        paths.append(folder)
    return paths


@dataclass
class ScanReport:
    """What scanning found: usable files per folder, and what was skipped and why."""

    files: list[tuple[str, float]] = field(default_factory=list)  # (path, weight)
    unreadable: list[str] = field(default_factory=list)
    gray: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)  # the scanned folders, resolved

    def summary(self) -> str:
        return (f"{len(self.files)} colour photos, {len(self.gray)} grayscale-looking skipped, "
                f"{len(self.unreadable)} unreadable skipped")


def _check_file(path: Path) -> str:
    """'ok', 'gray' or 'unreadable' for one image file (reads it fully)."""
    try:
        return "ok" if read_image(path).was_color else "gray"
    except (ImageReadError, OSError):
        return "unreadable"


def scan_folders(folders: list[FolderSpec], root: Path | None = None,
                 cache: Path | None = None, workers: int = 4) -> ScanReport:
    """Lists the usable colour photos of ``folders`` (relative paths resolve against ``root``).

    ``cache``: a JSON file remembering each file's verdict (keyed by path, size and mtime), so
    a resumed or repeated run does not decode every photo again.
    """
    verdicts: dict[str, str] = {}
    if cache is not None and cache.is_file():
        verdicts = json.loads(cache.read_text(encoding="utf-8"))
    report = ScanReport()
    todo: list[tuple[Path, str, float]] = []
    report.folders = check_folders(folders, root)
    for spec, folder in zip(folders, report.folders, strict=True):
        for path in list_images(folder):
            st = path.stat()
            todo.append((path, f"{path}|{st.st_size}|{int(st.st_mtime)}", spec.weight))
    missing = [p for p, key, _ in todo if key not in verdicts]
    if missing:
        with ThreadPoolExecutor(max(1, workers)) as pool:
            found = dict(zip(missing, pool.map(_check_file, missing), strict=True))
        for path, key, _ in todo:
            if path in found:
                verdicts[key] = found[path]
    for path, key, weight in todo:
        verdict = verdicts[key]
        if verdict == "ok":
            report.files.append((str(path), weight))
        elif verdict == "gray":
            report.gray.append(str(path))
        else:
            report.unreadable.append(str(path))
    if cache is not None and missing:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(verdicts), encoding="utf-8")
        os.replace(tmp, cache)
    return report


# Files under the data root are hashed as if the root were spelled like this (the default),
# so the split does not change with the spelling ($TINCT_DATA, an absolute or relative path)
# and every run so far, made with this default, keeps its held-out photos.
SPLIT_ROOT_SPELLING = "../shared/data"


def interleave_by_folder(files: list[tuple[str, float]], folders: list[Path],
                         limit: int) -> list[tuple[str, float]]:
    """Up to ``limit`` of ``files`` (``(path, weight)`` pairs), taken from each of ``folders``
    in turn (files under none of them form one more group), each folder's in their order:
    a small validation set then samples every source, not mostly the largest one."""
    groups: list[list[tuple[str, float]]] = [[] for _ in range(len(folders) + 1)]
    prefixes = [os.path.join(os.path.abspath(f), "") for f in folders]
    for item in files:
        path = os.path.abspath(item[0])
        index = next((i for i, p in enumerate(prefixes) if path.startswith(p)), len(folders))
        groups[index].append(item)
    mixed = [item for row in itertools.zip_longest(*groups) for item in row if item is not None]
    return mixed[:limit]


def apply_shares(files: list[tuple[str, float]], folders: list[Path],
                 specs: list[FolderSpec]) -> list[tuple[str, float]]:
    """``files`` with the per-photo weight of every folder that has a ``share``: the folders
    with shares divide their photos' draws in proportion to the shares (a folder's photos each
    get ``share / sum(shares) * M / n``, ``n`` its photos, ``M`` the photos of all folders
    with shares, so the weights still add up to ``M`` and an epoch keeps its length); other
    folders keep their per-photo weight."""
    prefixes = [os.path.join(os.path.abspath(f), "") for f in folders]
    owner = [next((i for i, p in enumerate(prefixes) if os.path.abspath(f).startswith(p)), None)
             for f, _ in files]
    counts = np.bincount([i for i in owner if i is not None], minlength=len(folders))
    shared = [i for i, spec in enumerate(specs) if spec.share is not None and counts[i]]
    total_share = sum(specs[i].share for i in shared)
    photos = sum(int(counts[i]) for i in shared)
    out = []
    for (path, weight), i in zip(files, owner, strict=True):
        if i in shared:
            weight = specs[i].share / total_share * photos / counts[i]
        out.append((path, float(weight)))
    return out


def split_key(path: str, root: Path | None) -> str:
    """The string the split hashes: :func:`portable_path` of ``path``."""
    return portable_path(path, root)


def portable_path(path: str, root: Path | None) -> str:
    """``path`` re-spelled below :data:`SPLIT_ROOT_SPELLING` if it lies under ``root``
    (however ``root`` is spelled), else ``path`` as given: the same string on every machine."""
    if root is None:
        return path
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return path
    return f"{SPLIT_ROOT_SPELLING}/{Path(rel).as_posix()}"


def split_files(files: list[tuple[str, float]], val_fraction: float, root: Path | None = None
                ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Deterministic split by a hash of each file's name and path: (train, validation).

    ``root``: the data root the files were found under; paths below it are hashed relative to
    it (:func:`split_key`), so the same photos split the same way however the root is spelled.
    """
    train, val = [], []
    for item in files:
        key = split_key(item[0], root)
        digest = hashlib.sha1(Path(item[0]).name.encode() + key.encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        (val if u < val_fraction else train).append(item)
    return train, val


def sample_seed(seed: int, epoch: int, position: int) -> int:
    """A per-sample seed from (run seed, epoch, position in the epoch)."""
    return (seed * 1_000_003 + epoch * 7_919 + position) % (2**63)


def epoch_order(weights: np.ndarray, seed: int, epoch: int, fraction: float = 1.0
                ) -> np.ndarray:
    """The epoch's sequence of file indices: weighted draws with replacement.

    An epoch has ``round(fraction * sum(weights))`` draws, so with all weights 1 and fraction 1
    it is as long as the dataset. Deterministic in (seed, epoch).
    """
    rng = np.random.default_rng([seed, epoch])
    p = weights / weights.sum()
    n = max(1, round(fraction * float(weights.sum())))
    return rng.choice(len(weights), size=n, replace=True, p=p)


class ColorizationDataset(Dataset):
    """Photos -> training samples at ``size`` x ``size``.

    Item ``i`` of epoch ``e`` is the file ``order[i]`` with augmentation seeded by
    ``sample_seed(seed, e, i)``. Returns a dict:
    ``L`` ``(1, S, S)`` normalized lightness in [-1, 1]; ``chroma`` ``(2, S, S)`` in
    colour-space units; ``index`` the file index.
    """

    def __init__(self, files: list[tuple[str, float]], size: int, space: str = "lab",
                 augment: bool = True, seed: int = 0,
                 crop_scale: tuple[float, float] = (0.35, 1.0), pixels: np.ndarray | None = None,
                 degrade: float = 0.0):
        if not files:
            raise InputError("no usable photos to train on")
        self.paths = [f for f, _ in files]
        self.weights = np.array([w for _, w in files], dtype=np.float64)
        self.size = size
        self.space = space
        self.augment = augment
        self.seed = seed
        self.crop_scale = crop_scale
        self.order = np.arange(len(self.paths))
        self.epoch = 0
        self.pixels = pixels    # (N, S, S, 3) uint8 decoded pool (train/cache.py), or None
        self.degrade = degrade  # share of samples whose input lightness gets old-print damage

    def set_epoch(self, epoch: int, fraction: float = 1.0) -> None:
        """Draws this epoch's weighted order (training) or keeps the fixed order (validation)."""
        self.epoch = epoch
        if self.augment:
            self.order = epoch_order(self.weights, self.seed, epoch, fraction)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        index = int(self.order[i])
        rng = np.random.default_rng(sample_seed(self.seed, self.epoch, i))
        with self._open(index) as im:
            im = im.convert("RGB")
            im = self._crop(im, rng) if self.augment else _center_square(im)
            im = im.resize((self.size, self.size), Image.BILINEAR, reducing_gap=2.0)
            if self.augment and rng.random() < 0.5:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
            rgb = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)
        L, chroma = color.to_lightness_chroma(rgb, self.space)
        item = {"chroma": chroma, "index": torch.tensor(index)}
        if self.degrade:  # the clean input too, for a teacher (loss.distill)
            item["L_clean"] = color.normalize_lightness(L)
            if rng.random() < self.degrade:
                from tinct.train.degrade import degrade_lightness

                L = degrade_lightness(L, rng)  # the input is damaged; the target stays clean
        return {"L": color.normalize_lightness(L), **item}

    def _open(self, index: int) -> Image.Image:
        """Photo ``index``: from the decoded pool when there is one, else its file."""
        if self.pixels is not None:
            return Image.fromarray(np.asarray(self.pixels[index]))
        return Image.open(self.paths[index])

    def _crop(self, im: Image.Image, rng: np.random.Generator) -> Image.Image:
        """Random resized crop: area share in ``crop_scale``, aspect ratio in [3/4, 4/3]."""
        W, H = im.size
        for _ in range(10):
            area = W * H * rng.uniform(*self.crop_scale)
            ratio = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
            w = int(round(np.sqrt(area * ratio)))
            h = int(round(np.sqrt(area / ratio)))
            if 0 < w <= W and 0 < h <= H:
                x = int(rng.integers(0, W - w + 1))
                y = int(rng.integers(0, H - h + 1))
                return im.crop((x, y, x + w, y + h))
        return _center_square(im)


def _center_square(im: Image.Image) -> Image.Image:
    W, H = im.size
    s = min(W, H)
    x, y = (W - s) // 2, (H - s) // 2
    return im.crop((x, y, x + s, y + s))
