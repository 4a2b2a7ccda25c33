"""Links a balanced sample of a training run's validation photos into one folder, for
``tinct eval`` / ``tinct compare`` during model selection (the eval sets are for reporting).

    python scripts/validation_folder.py RUN_DIR OUT_DIR [--per-folder 50]

Uses the run's data scan and the same hash split as training, so no photo here was trained on.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tinct.data import folder_specs, resolve_data_root, scan_folders, split_files
from tinct.train.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--per-folder", type=int, default=50)
    args = parser.parse_args()
    cfg = load_config(args.run_dir / "config.yaml")
    folders = folder_specs(cfg.data.folders)
    root = resolve_data_root(cfg.data.root)
    report = scan_folders(folders, root=root, cache=args.run_dir / "data_scan.json")
    _, val = split_files(report.files, cfg.data.val_fraction, root)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for spec in folders:
        name = Path(spec.path).name
        chosen = [p for p, _ in val if f"/{name}/" in p][: args.per_folder]
        for path in chosen:
            link = args.out_dir / f"{name}__{Path(path).name}"
            if not link.exists():
                os.symlink(Path(path).resolve(), link)
        print(f"{name}: {len(chosen)} validation photos")


if __name__ == "__main__":
    main()
