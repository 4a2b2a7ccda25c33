"""Links a balanced sample of a training run's validation photos into one folder, for
``tinct eval`` / ``tinct compare`` during model selection (the eval sets are for reporting).

    python scripts/study/validation_folder.py RUN_DIR OUT_DIR [--per-folder 30]
    python scripts/study/validation_folder.py RUN_DIR OUT_DIR --per-folder 0 \\
        --under train/bsds500 --under train/imagenette/n03028079      # a subset, all of it

Uses the run's config, its data scan and the same hash split as training, so no photo here
was trained on; every folder of the config gives up to ``--per-folder`` photos (its share,
whatever its size), the first in path order. ``--under`` (folders relative to the data root,
repeatable) keeps only the validation photos under them, each giving up to ``--per-folder``
(0: all). Links are named ``<config folder>__<file>``; links left from an earlier build that no
longer name a validation photo (a photo removed from the pool) are deleted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tinct.train.config import load_config
from tinct.train.loop import scan_cache_path, split_data


def folder_prefix(folder: Path) -> str:
    """``folder``'s absolute path with a trailing separator, for ``startswith`` tests."""
    return os.path.join(os.path.abspath(folder), "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--per-folder", type=int, default=30,
                        help="validation photos per folder, the first in path order (0: all)")
    parser.add_argument("--under", action="append", default=[], metavar="FOLDER",
                        help="only photos under this folder (relative to the data root); "
                             "repeatable, each a group of its own")
    args = parser.parse_args(argv)
    cfg = load_config(args.run_dir / "config.yaml")
    _, val, report, root = split_data(cfg, scan_cache_path(cfg, args.run_dir))
    if args.under and root is None:
        print("validation_folder: --under needs the data root: set TINCT_DATA", file=sys.stderr)
        return 2
    groups = [Path(root) / under for under in args.under] or list(report.folders)
    missing = [g for g in groups if not g.is_dir()]
    if missing:
        print(f"validation_folder: {missing[0]}: no such folder under the data root",
              file=sys.stderr)
        return 2
    owners = [(folder_prefix(f), f.name) for f in report.folders]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for group in groups:
        prefix = folder_prefix(group)
        chosen = [p for p, _ in val if os.path.abspath(p).startswith(prefix)]
        chosen = chosen[: args.per_folder] if args.per_folder > 0 else chosen
        for path in chosen:
            owner = next(name for p, name in owners if os.path.abspath(path).startswith(p))
            link = args.out_dir / f"{owner}__{Path(path).name}"
            wanted.add(link.name)
            if not link.exists():
                os.symlink(Path(path).resolve(), link)
        print(f"{group.relative_to(root) if args.under else group.name}: "
              f"{len(chosen)} validation photos")
    for stale in args.out_dir.iterdir():
        if stale.is_symlink() and stale.name not in wanted:
            stale.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
