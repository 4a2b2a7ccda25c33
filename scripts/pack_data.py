"""Packs a training config's photos small enough to travel to a lent GPU machine.

    python scripts/pack_data.py configs/tinct-base.yaml OUT [--side 160] [--quality 85] \\
        [--part-mib 50] [--scan-cache RUN/data_scan.json] [--square]

The device tool copies the working tree (and at most 8 ``carry`` paths) to the GPU machine,
at most 64 MiB a call, and keeps what earlier calls carried while the machine stays warm. So
the pack is cut into parts of at most ``--part-mib``, each one folder that mirrors the data
root's layout: ``OUT/part-K/<folder>/...``. Carry ``OUT/part-0`` in the first call,
``OUT/part-1`` in the next, and so on (or several parts in one call, within 64 MiB); there,
merge them into one data root with hard links and train on it with the config's folders
unchanged::

    mkdir -p data && for p in OUT/part-*; do cp -al "$p"/. data/; done
    tinct train --config CONFIG --data.root=data ...

Only the training split of the original photos is packed (the same hash split as training),
so the validation photos used for model selection here stay held out. Photos are resized so
the shorter side is at most ``--side`` (training crops are 160 px) and re-encoded as JPEG;
each file is written to a temporary name and renamed.
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

from PIL import Image

from tinct.train.config import load_config
from tinct.train.data import FolderSpec, folder_specs, resolve_data_root, scan_folders, split_files


def shrink(path: str, side: int, quality: int, square: bool = False) -> bytes:
    """The photo as JPEG bytes, shorter side at most ``side`` px (never enlarged); with
    ``square``, only its centre square (what the training cache keeps of it)."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        if square:
            edge = min(im.size)
            left, top = (im.width - edge) // 2, (im.height - edge) // 2
            im = im.crop((left, top, left + edge, top + edge))
        scale = side / min(im.size)
        if scale < 1:
            im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                           Image.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def pack(cfg_path: Path, out: Path, side: int, quality: int, part_mib: float,
         data_root: Path | None = None, scan_cache: Path | None = None,
         square: bool = False) -> list[int]:
    """Writes the pack; returns the bytes of each part."""
    cfg = load_config(cfg_path)
    root = data_root or resolve_data_root(cfg.data.root)
    folders = folder_specs(cfg.data.folders)
    parts = [0]
    limit = part_mib * 2**20
    for spec in folders:
        base = root / spec.path
        report = scan_folders([FolderSpec(str(base), spec.weight)], cache=scan_cache)
        train, _ = split_files(report.files, cfg.data.val_fraction, root)
        for source, _ in train:
            data = shrink(source, side, quality, square)
            if parts[-1] + len(data) > limit:
                parts.append(0)
            rel = Path(source).relative_to(base).with_suffix(".jpg")
            write_atomic(out / f"part-{len(parts) - 1}" / spec.path / rel, data)
            parts[-1] += len(data)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path, help="training config whose data.folders to pack")
    parser.add_argument("out", type=Path)
    parser.add_argument("--side", type=int, default=160, help="max shorter side, px")
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality")
    parser.add_argument("--part-mib", type=float, default=50.0, help="max size of one part")
    parser.add_argument("--data", type=Path, help="data root (default: the config's)")
    parser.add_argument("--scan-cache", type=Path, help="data_scan.json of an earlier run")
    parser.add_argument("--square", action="store_true",
                        help="keep only each photo's centre square (all the cache uses; 25%% "
                             "smaller for a 4:3 photo)")
    args = parser.parse_args()
    parts = pack(args.config, args.out, args.side, args.quality, args.part_mib, args.data,
                 args.scan_cache, args.square)
    for k, size in enumerate(parts):
        print(f"part-{k}: {size / 2**20:.1f} MiB  (carry {args.out}/part-{k})")
    print(f"{len(parts)} part(s), {sum(parts) / 2**20:.1f} MiB in all")


if __name__ == "__main__":
    main()
