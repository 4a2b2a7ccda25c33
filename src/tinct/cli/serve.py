"""``tinct serve``: the web page and HTTP API (and the Turing test) on a local server."""

from __future__ import annotations

import argparse
import os

from tinct.cli import CLIError
from tinct.cli.options import (
    add_device_option,
    add_models_option,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve", help="web page and HTTP API for colorizing (and the Turing test)",
        description="Serve the colorizing web page and HTTP API (POST /api/colorize, "
                    "GET /api/models, GET /healthz; reference at /docs). Binds to 127.0.0.1 "
                    "unless --host says otherwise. Uploads stay in memory and nothing is kept "
                    "after a response. Needs the web extra: pip install 'tinct[web]'.",
        epilog="example: tinct serve --model tinct-base --model runs/mine/model --port 8080")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: 127.0.0.1, this machine only; 0.0.0.0 "
                        "exposes the server to the network)")
    p.add_argument("--port", type=positive_int, default=8000, help="TCP port (default: 8000)")
    add_models_option(p, "a model to offer (the first is the page's default)")
    p.add_argument("--max-upload-mb", type=positive_float, default=20.0, metavar="MB",
                   help="largest upload in megabytes; larger requests get 413 (default: 20)")
    p.add_argument("--max-pixels", type=positive_int, default=25_000_000, metavar="N",
                   help="largest image (width x height) accepted; larger get 413 "
                        "(default: 25e6)")
    p.add_argument("--max-size", type=positive_int, default=1024, metavar="PX",
                   help="largest working resolution a request may ask for (default: 1024)")
    p.add_argument("--concurrency", type=positive_int, default=1, metavar="N",
                   help="colorizations running at once (default: 1; on CPU each uses "
                        "cores/N threads)")
    p.add_argument("--queue", type=non_negative_int, default=16, metavar="N",
                   help="requests that may wait for a worker; beyond that the server answers "
                        "503 at once (default: 16)")
    p.add_argument("--keep-results-mb", type=non_negative_float, default=256.0, metavar="MB",
                   help="memory for results kept so the page can re-colour them without a new "
                        "upload (POST /api/recolor); the least recently used go first, 0 keeps "
                        "none (default: 256)")
    p.add_argument("--keep-results-minutes", type=positive_float, default=15.0, metavar="MIN",
                   help="how long a result is kept after its last use (default: 15)")
    add_device_option(p)
    p.add_argument("--study", metavar="STUDY_DIR",
                   help="enable the Turing test pages with a study folder from "
                        "'tinct turing prepare'")
    p.add_argument("--votes", metavar="FILE",
                   help="SQLite file for Turing votes (default: STUDY_DIR/votes.sqlite)")
    p.add_argument("--study-feedback", action="store_true",
                   help="tell participants after each answer whether they were right (for "
                        "teaching; leave off for a real study, where it trains participants "
                        "as they go). Each participant sees their own score at the end either "
                        "way")
    p.add_argument("--log-level", choices=("critical", "error", "warning", "info", "debug"),
                   default="info", help="server log level (default: info)")
    p.set_defaults(func=run)


def _share_cores(concurrency: int, device: str) -> None:
    """On CPU, split the cores among the workers instead of oversubscribing them."""
    import torch

    if device != "cuda" and not torch.cuda.is_available():
        cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                 else os.cpu_count() or 1)
        torch.set_num_threads(max(1, cores // concurrency))


def run(args: argparse.Namespace) -> int:
    try:
        from tinct.web import create_app
        from tinct.web.server import serve
    except ModuleNotFoundError as exc:
        raise CLIError(f"the web server needs {exc.name}: pip install 'tinct[web]'") from None
    if (args.votes or args.study_feedback) and not args.study:
        raise CLIError("--votes and --study-feedback need --study")
    _share_cores(args.concurrency, args.device)
    app = create_app(args.model, max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels,
                     concurrency=args.concurrency, queue=args.queue, max_size=args.max_size,
                     study=args.study, votes=args.votes, device=args.device,
                     study_feedback=args.study_feedback, keep_results_mb=args.keep_results_mb,
                     keep_results_s=args.keep_results_minutes * 60)
    pool = app.state.pool
    print(f"tinct serve: models {', '.join(pool.names)} (default {pool.default}); "
          f"{args.concurrency} worker(s), queue {args.queue}")
    if args.study:
        print(f"tinct serve: Turing test at http://{args.host}:{args.port}/turing "
              f"(votes in {app.state.votes.path})")
    print(f"tinct serve: open http://{args.host}:{args.port}/  (Ctrl-C to stop)", flush=True)
    serve(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
