"""Links a balanced sample of a training run's validation photos into one folder, for
``tinct eval`` / ``tinct compare`` during model selection (the eval sets are for reporting).

    python scripts/study/validation_folder.py RUN_DIR OUT_DIR [--per-folder 30]

Uses the run's config, its data scan and the same hash split as training, so no photo here
was trained on; every folder of the config gives up to ``--per-folder`` photos (its share,
whatever its size). Links are named ``<folder>__<file>``; links left from an earlier build
that no longer name a validation photo (a photo removed from the pool) are deleted.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tinct.train.config import load_config
from tinct.train.loop import scan_cache_path, split_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--per-folder", type=int, default=30)
    args = parser.parse_args()
    cfg = load_config(args.run_dir / "config.yaml")
    _, val, report, _ = split_data(cfg, scan_cache_path(cfg, args.run_dir))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for folder in report.folders:
        prefix = os.path.join(os.path.abspath(folder), "")
        chosen = [p for p, _ in val if os.path.abspath(p).startswith(prefix)][: args.per_folder]
        for path in chosen:
            link = args.out_dir / f"{folder.name}__{Path(path).name}"
            wanted.add(link.name)
            if not link.exists():
                os.symlink(Path(path).resolve(), link)
        print(f"{folder.name}: {len(chosen)} validation photos")
    for stale in args.out_dir.iterdir():
        if stale.is_symlink() and stale.name not in wanted:
            stale.unlink()


if __name__ == "__main__":
    main()
