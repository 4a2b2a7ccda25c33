"""Soak of ``tinct serve``: minutes of mixed good and bad requests, the server's memory sampled.

Starts ``python -m tinct serve`` on 127.0.0.1 (loopback only) with the shipped model, then for
``--minutes`` sends, from ``--clients`` concurrent clients, a random mix of: real colorize
uploads (must all be 200), files that are not images (415), an image under the wrong field
name (422), a malformed size (422), an upload declaring 1 GB (413), a 1 MB JSON body to the
study API (413), and clients that send half a body and hang up. The server's resident memory
(VmRSS) is sampled every ``--sample-seconds``. Reports the counts per kind and status, errors
on good requests, and memory growth after warm-up (from the end of the first quarter to the
end); prints and writes ``bench/results/serve_soak.json``.

    python bench/serve_soak.py [--minutes 5] [--clients 4] [--sample-seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import sys
import time
from pathlib import Path

import httpx

from benchlib import write_report
from serve_load import HOST, memory_kb, photo_bytes, wait_ready
from tinct.web.server import free_port

RESULTS = Path(__file__).parent / "results" / "serve_soak.json"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--sample-seconds", type=float, default=5.0)
    p.add_argument("--model", default="tinct-base")
    p.add_argument("--output", type=Path, default=RESULTS)
    return p.parse_args()


def raw_upload(port: int, declared: int, wait_for_answer: bool) -> str:
    """Sends upload headers declaring ``declared`` bytes and 1 KB of body; then reads the
    status line (``wait_for_answer``) or hangs up at once (a client that leaves)."""
    with socket.create_connection((HOST, port), timeout=30) as s:
        s.sendall(f"POST /api/colorize HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n"
                  "Content-Type: multipart/form-data; boundary=B\r\n\r\n--B\r\n".encode()
                  + b"x" * 999)
        if not wait_for_answer:
            return "left"
        try:
            return s.recv(64).split(b" ")[1].decode()
        except (OSError, IndexError):
            return "no answer"


async def one_request(client: httpx.AsyncClient, kind: str, photo: bytes, port: int):
    """Sends one request of ``kind``; returns its status (or a word)."""
    if kind == "good":
        r = await client.post("/api/colorize", files={"file": ("p.jpg", photo, "image/jpeg")})
    elif kind == "not_image":
        r = await client.post("/api/colorize",
                              files={"file": ("p.png", b"hello" * 100, "image/png")})
    elif kind == "wrong_field":
        r = await client.post("/api/colorize", files={"image": ("p.jpg", photo, "image/jpeg")})
    elif kind == "bad_size":
        r = await client.post("/api/colorize", files={"file": ("p.jpg", photo, "image/jpeg")},
                              data={"size": "²"})
    elif kind == "declared_1gb":
        return await asyncio.to_thread(raw_upload, port, 2**30, True)
    elif kind == "big_json":
        r = await client.post("/api/turing/vote", content=b"[" * 2**20,
                              headers={"Content-Type": "application/json"})
    else:
        return await asyncio.to_thread(raw_upload, port, 50_000, False)
    return r.status_code


KINDS = {"good": 6, "not_image": 1, "wrong_field": 1, "bad_size": 1, "declared_1gb": 1,
         "big_json": 1, "hang_up": 1}


async def soak(url: str, port: int, pid: int, args) -> dict:
    photo, _ = photo_bytes(160)
    counts: dict[str, dict[str, int]] = {k: {} for k in KINDS}
    samples: list[tuple[float, int]] = []
    end = time.monotonic() + args.minutes * 60
    rng = random.Random(0)

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            while time.monotonic() < end:
                kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
                try:
                    status = await one_request(client, kind, photo, port)
                except (httpx.HTTPError, OSError) as exc:
                    status = type(exc).__name__
                counts[kind][str(status)] = counts[kind].get(str(status), 0) + 1

    async def sampler() -> None:
        start = time.monotonic()
        while time.monotonic() < end:
            samples.append((round(time.monotonic() - start, 1), memory_kb(pid, "VmRSS") or 0))
            await asyncio.sleep(args.sample_seconds)

    await asyncio.gather(sampler(), *(client_loop() for _ in range(args.clients)))
    return {"counts": counts, "rss_kb": samples}


def main() -> None:
    args = parse_args()
    port = free_port(HOST)
    import subprocess

    server = subprocess.Popen([sys.executable, "-m", "tinct", "serve", "--host", HOST,
                               "--port", str(port), "--model", args.model, "--log-level",
                               "warning", "--queue", str(2 * args.clients)],
                              stdout=subprocess.DEVNULL)
    url = f"http://{HOST}:{port}"
    try:
        wait_ready(url, server)
        result = asyncio.run(soak(url, port, server.pid, args))
    finally:
        server.terminate()
        server.wait(timeout=30)
    rss = [kb for _, kb in result["rss_kb"]]
    warm = rss[len(rss) // 4] if rss else 0
    good = result["counts"]["good"]
    report = {"minutes": args.minutes, "clients": args.clients, "model": args.model,
              "requests": sum(sum(c.values()) for c in result["counts"].values()),
              "good_requests": sum(good.values()), "good_errors":
                  sum(n for s, n in good.items() if s != "200"),
              "rss_mb_after_warmup": round(warm / 1024, 1),
              "rss_mb_end": round(rss[-1] / 1024, 1) if rss else None,
              "rss_mb_max": round(max(rss) / 1024, 1) if rss else None,
              "growth_after_warmup_mb": round((rss[-1] - warm) / 1024, 1) if rss else None,
              **result}
    for kind, statuses in result["counts"].items():
        print(f"{kind:13s} {statuses}")
    print(f"{report['requests']} requests, {report['good_errors']} errors on "
          f"{report['good_requests']} good ones; RSS {report['rss_mb_after_warmup']} MB after "
          f"warm-up -> {report['rss_mb_end']} MB at the end (max {report['rss_mb_max']} MB)")
    write_report(args.output, report)


if __name__ == "__main__":
    main()
