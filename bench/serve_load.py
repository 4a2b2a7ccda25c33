"""Load on ``tinct serve``: a bounded burst of colorize requests against a local server.

Starts ``python -m tinct serve`` on 127.0.0.1 (a free port; loopback only) as a child process,
waits for ``/healthz``, then sends N requests (default 200) with at most C in flight (default
16), each a real upload of a gray photo to ``POST /api/colorize``. Reports latency p50/p95/p99,
throughput, errors (any non-200: must be 0 for valid input, so the server's queue is sized to
hold every concurrent request), and the server's peak resident memory (``VmHWM`` from
``/proc``, Linux). Prints a summary and writes ``bench/results/serve_load.json``.

Without ``--model`` the server runs a random-init model of the shipped architecture (U-Net,
EfficientNet-Lite0 encoder, default decoder, working size 256): the same compute as the real
thing, without needing trained weights.

    python bench/serve_load.py [--requests 200] [--clients 16] [--workers 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from skimage import data

from benchlib import write_report
from tinct import create_model
from tinct.inference.checkpoint import save_pretrained
from tinct.web.server import free_port

HOST = "127.0.0.1"  # loopback only, by design
RESULTS = Path(__file__).parent / "results" / "serve_load.json"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=200, help="requests in the burst (200)")
    p.add_argument("--clients", type=int, default=16, help="requests in flight at once (16)")
    p.add_argument("--workers", type=int, default=2,
                   help="server --concurrency: colorizations at once (2)")
    p.add_argument("--queue", type=int,
                   help="server --queue (default: --clients, so no valid request gets 503)")
    p.add_argument("--model", help="model name or folder (default: untrained shipped arch)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--image-size", type=int, default=512, help="longer side of the photo (512)")
    p.add_argument("--format", default="png", choices=("png", "jpeg"))
    p.add_argument("--output", type=Path, default=RESULTS)
    return p.parse_args()


def photo_bytes(size: int) -> tuple[bytes, tuple[int, int]]:
    """A gray photo (skimage's camera man), ``size`` px on its longer side, as JPEG bytes."""
    image = Image.fromarray(data.camera()).resize((size, size * 3 // 4), Image.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue(), image.size


def memory_kb(pid: int, field: str) -> int | None:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of process ``pid`` in KiB; None off Linux."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def start_server(args, model: str, port: int, queue: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "tinct", "serve", "--host", HOST, "--port", str(port),
               "--model", model, "--concurrency", str(args.workers), "--queue", str(queue),
               "--device", args.device, "--log-level", "warning"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def wait_ready(url: str, server: subprocess.Popen, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            return httpx.get(f"{url}/healthz", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer /healthz within {timeout:.0f} s")


async def burst(url: str, body: bytes, args) -> tuple[list[float], dict[int, int], float]:
    """Sends the requests; returns (latencies of successes in s, status counts, wall time)."""
    gate = asyncio.Semaphore(args.clients)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)

    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        async def one(i: int) -> None:
            async with gate:
                start = time.perf_counter()
                try:
                    r = await client.post("/api/colorize",
                                          files={"file": (f"photo{i}.jpg", body, "image/jpeg")},
                                          data={"format": args.format})
                    status = r.status_code
                except httpx.HTTPError:
                    status = 0  # connection-level failure
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(args.requests)))
        return latencies, statuses, time.perf_counter() - start


def main() -> None:
    args = parse_args()
    queue = args.queue if args.queue is not None else args.clients
    body, (width, height) = photo_bytes(args.image_size)
    with tempfile.TemporaryDirectory(prefix="tinct-serve-load-") as tmp:
        model = args.model or str(save_pretrained(create_model("unet"), Path(tmp) / "unet-lite0",
                                                  working_size=256))
        port = free_port(HOST)
        url = f"http://{HOST}:{port}"
        server = start_server(args, model, port, queue)
        try:
            health = wait_ready(url, server)
            warm = httpx.post(f"{url}/api/colorize", files={"file": ("w.jpg", body)},
                              timeout=120)  # first request: lazy allocations, not the burst
            warm.raise_for_status()
            idle_kb = memory_kb(server.pid, "VmRSS")
            latencies, statuses, wall = asyncio.run(burst(url, body, args))
            peak_kb = memory_kb(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait(timeout=30)

    errors = args.requests - statuses.get(200, 0)
    lat = np.array(latencies) if latencies else np.array([np.nan])
    result = {
        "requests": args.requests,
        "clients": args.clients,
        "server": {"workers": args.workers, "queue": queue, "device": args.device,
                   "model": args.model or "unet (efficientnet_lite0, untrained), working 256"},
        "image": {"width": width, "height": height, "bytes": len(body),
                  "response_format": args.format},
        "latency_s": {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
                      "p99": float(np.percentile(lat, 99)), "max": float(lat.max()),
                      "mean": float(lat.mean())},
        "throughput_rps": statuses.get(200, 0) / wall,
        "wall_s": wall,
        "errors": errors,
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "server_rss_mb": {"idle_after_warmup": idle_kb / 1024 if idle_kb else None,
                          "peak": peak_kb / 1024 if peak_kb else None},
        "machine": {"cpu_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                    else os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "tinct": health.get("version")},
    }
    print(f"{args.requests} requests, {args.clients} in flight, {args.workers} workers, "
          f"{width}x{height} photo -> {args.format}")
    print(f"latency p50 {result['latency_s']['p50']:.3f} s, p95 {result['latency_s']['p95']:.3f} s"
          f", p99 {result['latency_s']['p99']:.3f} s")
    print(f"throughput {result['throughput_rps']:.2f} req/s over {wall:.1f} s; errors {errors} "
          f"{result['status_counts']}")
    print(f"server RSS: {result['server_rss_mb']['idle_after_warmup'] or float('nan'):.0f} MB "
          f"idle, {result['server_rss_mb']['peak'] or float('nan'):.0f} MB peak")
    write_report(args.output, result)
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
