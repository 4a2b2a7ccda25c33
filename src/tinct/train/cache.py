"""A decoded training pool: every training photo once, as uint8 pixels in one memory-mapped file.

Decoding and resizing a JPEG costs more than a training step's share of the network on a
two-core CPU, so a long run reads its photos from a cache built once:

    CACHE/pixels.npy   (N, S, S, 3) uint8, the centre square of each photo resized to S x S
    CACHE/index.json   the photos (paths as :func:`tinct.train.data.portable_path` spells them,
                       so the cache is the same on every machine), their sampling weights,
                       S, and the folders and split it was built for
    CACHE/data_scan.json  the scan verdicts (colour / grayscale / unreadable), reused

Only the training split is cached: validation photos are read from their files as before.
The cache is built by ``tinct train --config C --build-cache`` (or on the first run of a
config with ``data.cache`` set), reused across runs and restarts, and rebuilt when the photos
it was built from change. Files are written under temporary names and renamed.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from tinct.errors import TinctError
from tinct.train.data import portable_path

INDEX_FILE = "index.json"
PIXELS_FILE = "pixels.npy"
SCAN_FILE = "data_scan.json"
CACHE_VERSION = 1


class CacheError(TinctError, ValueError):
    """The cache is missing, damaged or does not match the run's photos (one-line message)."""


def centre_square(path: str, side: int) -> np.ndarray:
    """The photo's centre square resized to ``side`` x ``side``: ``(side, side, 3)`` uint8."""
    with Image.open(path) as im:
        im.draft("RGB", (side, side))  # JPEG: decode at a reduced scale when it is large
        im = im.convert("RGB")
        W, H = im.size
        s = min(W, H)
        box = ((W - s) // 2, (H - s) // 2, (W - s) // 2 + s, (H - s) // 2 + s)
        im = im.resize((side, side), Image.BICUBIC, box=box, reducing_gap=2.0)
        return np.asarray(im, dtype=np.uint8)


def cache_key(files: list[tuple[str, float]], root: Path | None) -> list[str]:
    """The photos as the index records them (portable paths, in order)."""
    return [portable_path(p, root) for p, _ in files]


def build_cache(cache_dir: Path, files: list[tuple[str, float]], root: Path | None, side: int,
                folders: list[dict], workers: int = 2, progress: bool = True) -> Path:
    """Decodes ``files`` (``(path, weight)`` pairs) into ``cache_dir``; returns the folder.

    Reuses an existing cache built from the same photos at the same side.
    """
    cache_dir = Path(cache_dir)
    paths = cache_key(files, root)
    existing = cache_dir / INDEX_FILE
    if existing.is_file():
        try:
            index = json.loads(existing.read_text(encoding="utf-8"))
            if index.get("paths") == paths and index.get("side") == side:
                return cache_dir
        except (OSError, json.JSONDecodeError):
            pass
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{PIXELS_FILE}.tmp-{os.getpid()}"
    pixels = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                       shape=(len(files), side, side, 3))
    try:
        with ThreadPoolExecutor(max(1, workers)) as pool:
            decoded = pool.map(lambda f: centre_square(f[0], side), files)
            for i, arr in enumerate(tqdm(decoded, total=len(files), disable=not progress,
                                         unit="photo", desc="decoding the training pool")):
                pixels[i] = arr
        pixels.flush()
        del pixels
        os.replace(tmp, cache_dir / PIXELS_FILE)
    finally:
        tmp.unlink(missing_ok=True)
    index = {"version": CACHE_VERSION, "side": side, "folders": folders, "paths": paths,
             "weights": [w for _, w in files]}
    tmp_index = cache_dir / f".{INDEX_FILE}.tmp-{os.getpid()}"
    tmp_index.write_text(json.dumps(index), encoding="utf-8")
    os.replace(tmp_index, existing)
    return cache_dir


def open_cache(cache_dir: Path, files: list[tuple[str, float]], root: Path | None
               ) -> np.ndarray:
    """The cached pixels ``(N, S, S, 3)`` uint8 (memory-mapped, read-only), checked to hold
    exactly ``files`` in order; raises :class:`CacheError` otherwise."""
    cache_dir = Path(cache_dir)
    try:
        index = json.loads((cache_dir / INDEX_FILE).read_text(encoding="utf-8"))
        pixels = np.load(cache_dir / PIXELS_FILE, mmap_mode="r")
    except FileNotFoundError:
        raise CacheError(f"{cache_dir}: no training cache here (build it with "
                         f"tinct train --config CONFIG --build-cache)") from None
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise CacheError(f"{cache_dir}: damaged training cache ({exc}); delete it and "
                         f"build it again") from None
    if index.get("paths") != cache_key(files, root):
        raise CacheError(f"{cache_dir}: the cache holds {len(index.get('paths', []))} photos "
                         f"that differ from this run's {len(files)}; build it again")
    if pixels.shape != (len(files), index["side"], index["side"], 3):
        raise CacheError(f"{cache_dir}: pixels.npy has shape {pixels.shape}, expected "
                         f"({len(files)}, {index['side']}, {index['side']}, 3)")
    return pixels
