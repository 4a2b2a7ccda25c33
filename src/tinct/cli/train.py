"""``tinct train``: train any registered model family from a YAML recipe."""

from __future__ import annotations

import argparse

from tinct.cli.options import add_progress_option


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train a colorization model",
        description="Train a model from a YAML recipe (see configs/). Any config value can be "
                    "overridden as --section.key=value, e.g. --run.steps=2000 --data.size=128. "
                    "Runs are resumable: --resume RUN_DIR continues exactly where the last "
                    "checkpoint left off. Launch with torchrun for several processes/GPUs: "
                    "torchrun --nproc_per_node=N -m tinct train --config ...",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML recipe (default: built-in defaults)")
    p.add_argument("--run-dir", help="run folder (default: runs/<config>-<time>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    p.add_argument("--build-cache", action="store_true",
                   help="only decode the config's training photos into data.cache (one "
                        "memory-mapped file, reused by every run of the config) and exit")
    add_progress_option(p)
    p.set_defaults(func=run, allow_overrides=True)


def run(args) -> int:
    from tinct.train.loop import build_training_cache, run_from_cli

    if args.build_cache:
        from tinct.train.config import load_config

        build_training_cache(load_config(args.config, args.overrides),
                             progress=not args.no_progress)
        return 0

    result = run_from_cli(args.config, args.overrides, args.run_dir, args.resume,
                        progress=not args.no_progress)
    print(f"best model: {result.best}")
    return 0
