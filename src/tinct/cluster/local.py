"""A real multi-node Ray cluster on one machine, for trying the ray engine and for its tests
and benchmark: ``ray start`` run once for a head node and once per extra node, all on
127.0.0.1, each with its own CPUs and a small object store.

    address = start_local_cluster(nodes=2, cpus_per_node=1)
    ...  # tinct colorize photos/ -o out/ --engine ray --ray-address <address>
    stop_local_cluster()
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tinct.errors import InputError

# the cluster listens on 127.0.0.1 only; every process of it (and each driver given this
# environment) agrees on no token, whatever the user's own ~/.ray holds
LOCAL_CLUSTER_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def ray_command() -> str:
    """The ``ray`` executable beside this Python's, or the one on PATH."""
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else (shutil.which("ray") or "ray")


def _ray(*args: str) -> None:
    env = {**os.environ, **LOCAL_CLUSTER_ENV}
    try:
        subprocess.run([ray_command(), *args], check=True, env=env, capture_output=True,
                       text=True, timeout=180)
    except subprocess.CalledProcessError as exc:
        last = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise InputError(f"ray {args[0]} failed: {last[0]}") from None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_local_cluster(nodes: int = 2, cpus_per_node: int = 1,
                        temp_dir: str | os.PathLike | None = None,
                        object_store_bytes: int = 100 * 2**20) -> str:
    """Starts a head node and ``nodes - 1`` more on 127.0.0.1; returns the address
    (``127.0.0.1:PORT``). Drivers must run with :data:`LOCAL_CLUSTER_ENV` in their
    environment. ``temp_dir`` must be a short path (Ray's unix sockets live there)."""
    port = _free_port()
    address = f"127.0.0.1:{port}"
    head = ["--head", "--port", str(port), "--include-dashboard", "false"]
    if temp_dir is not None:
        head += ["--temp-dir", str(temp_dir)]
    _ray("start", *head, *_node_options(cpus_per_node, object_store_bytes))
    for _ in range(nodes - 1):
        add_local_node(address, cpus_per_node, object_store_bytes)
    return address


def _node_options(cpus: int, object_store_bytes: int) -> list[str]:
    return ["--num-cpus", str(cpus), "--object-store-memory", str(object_store_bytes),
            "--disable-usage-stats", "--node-ip-address", "127.0.0.1"]


def add_local_node(address: str, cpus: int = 1, object_store_bytes: int = 100 * 2**20) -> None:
    """Starts one more node on this machine and joins it to the cluster at ``address``."""
    _ray("start", "--address", address, *_node_options(cpus, object_store_bytes))


def stop_local_cluster() -> None:
    """Stops every Ray process this machine runs (``ray stop --force``)."""
    env = {**os.environ, **LOCAL_CLUSTER_ENV}
    subprocess.run([ray_command(), "stop", "--force"], env=env, capture_output=True,
                   timeout=120)
