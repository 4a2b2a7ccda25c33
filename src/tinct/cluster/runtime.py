"""Connecting to Ray: a local instance started for the run, or an existing cluster."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tinct.errors import InputError

# A local Ray started for one run keeps its shared-memory object store small: the engine
# passes file names between processes, never pixels.
LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024

# How long a driver waits for its whole actor pool to start (each actor loads the model)
# before handing out work: without the wait, the first actor up queues batches the others
# never see, and a small run ends on one node. An autoscaling cluster may need minutes.
POOL_START_TIMEOUT_S = 300


def import_ray() -> Any:
    """``ray`` (with Ray Data), or a one-line error naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError("the ray engine needs Ray: pip install 'tinct[ray]'") from None
    return ray


@contextmanager
def ray_session(address: str | None = None) -> Iterator[Any]:
    """Yields the ``ray`` module connected to a cluster, and disconnects at the end.

    ``address``: None starts a local Ray for this run (stopped afterwards); ``"auto"`` joins
    the cluster this machine belongs to (``ray start``); ``"host:port"`` or
    ``"ray://host:port"`` joins that one. A failure to connect is a one-line error.
    """
    ray = import_ray()
    if ray.is_initialized():  # a caller (a notebook, a test) already connected
        yield ray
        return
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                               "logging_level": logging.WARNING,
                               "configure_logging": True}
    if address is None:  # "local": a new instance even when this machine runs a cluster
        options.update(address="local", object_store_memory=LOCAL_OBJECT_STORE_BYTES)
    else:
        options["address"] = address
        del options["include_dashboard"]
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise InputError(f"cannot start or reach {where}: "
                         f"{' '.join(str(exc).split())[:300]}") from None
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # per-run INFO lines and notices
    # Ray Data logs the stack of every exception it raises to the caller; tinct states each
    # in one line itself
    logging.getLogger("ray.data.exceptions").setLevel(logging.CRITICAL)
    try:
        data_context = ray.data.DataContext.get_current()
        data_context.enable_progress_bars = False  # tinct draws its own bar
        data_context.print_on_execution_start = False
        yield ray
    finally:
        ray.shutdown()


def cluster_workers(ray: Any, gpus_per_worker: float) -> int:
    """How many colorization actors the cluster holds: one per GPU when it has GPUs, else
    one per CPU (each actor's network then runs on one core)."""
    resources = ray.cluster_resources()
    if gpus_per_worker and resources.get("GPU", 0) >= 1:
        return max(1, int(resources["GPU"] / gpus_per_worker))
    return max(1, int(resources.get("CPU", 1)))
