"""Batch colorization of photos on a Ray cluster.

The driver makes the same plan as the local engine (:func:`tinct.inference.batch.make_plan`:
what to read, where to write, what to skip) and hands its jobs, as file names, to Ray Data's
``map_batches`` over a pool of :class:`PhotoColorizer` actors. Each actor loads one
``Colorizer`` and runs the local engine's :class:`~tinct.inference.batch.Runner` on its batch,
so reading, the memory bound, the atomic writes and the one-line errors are the local
engine's own. Pixels never travel through Ray: every node reads and writes the shared
filesystem. Results come back to the driver as they finish, one
:class:`~tinct.inference.batch.Outcome` per photo, for the manifest and the progress bar.

Faults: an actor process that dies is restarted and its batch retried (Ray Data's defaults
for an actor pool: ``max_restarts`` and ``max_task_retries`` unbounded); since writes are
atomic renames of a complete file to the same name, a retried photo is written once, whole,
and reported once (Ray Data returns the rows of the attempt that finished); the temporary
file a killed attempt was writing is removed when the run ends.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np

from tinct.cluster.runtime import POOL_START_TIMEOUT_S, cluster_workers, ray_session
from tinct.errors import InputError
from tinct.fileio import TEMP_NAME
from tinct.inference.batch import (
    ColorizerSpec,
    InputGuard,
    Job,
    Outcome,
    Progress,
    Runner,
    RunSettings,
)

OUTCOME_FIELDS = ("source", "target", "status", "error", "seconds", "node")


class _Silent:
    def update(self, n: int = 1) -> None:
        pass


class PhotoColorizer:
    """A Ray Data actor: one loaded Colorizer; each call colorizes a batch of jobs.

    Input batch: ``{"source": (N,) str, "target": (N,) str, "hints": (N,) str}`` absolute
    paths (``hints`` empty for photos without a hint file). Output batch:
    the :data:`OUTCOME_FIELDS` as arrays of N (``seconds`` float64, the rest str).
    """

    def __init__(self, spec: ColorizerSpec, settings: RunSettings):
        import ray
        import torch

        context = ray.get_runtime_context()
        cpus = context.get_assigned_resources().get("CPU", 1)
        torch.set_num_threads(max(1, int(cpus)))
        self.node = f"{socket.gethostname()}/{context.get_node_id()[:8]}"
        self.colorizer = spec.build()
        self.settings = settings

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        jobs = [Job(Path(s), Path(t), Path(h) if h else None)
                for s, t, h in zip(batch["source"], batch["target"], batch["hints"], strict=True)]
        outcomes: list[Outcome] = []
        runner = Runner(self.colorizer, InputGuard(job.source for job in jobs), self.settings,
                        report=lambda line: None, progress=_Silent(),
                        on_outcome=outcomes.append, node=self.node)
        runner.run(jobs)
        columns = {name: np.array([str(getattr(o, name)) for o in outcomes], dtype=object)
                   for name in OUTCOME_FIELDS if name != "seconds"}
        columns["seconds"] = np.array([o.seconds for o in outcomes], dtype=np.float64)
        return columns


def _wants_gpu(device: str) -> bool:
    return device == "auto" or device.startswith("cuda")


def colorize_photos_on_ray(jobs: Sequence[Job], spec: ColorizerSpec, settings: RunSettings, *,
                           address: str | None, workers: int | None,
                           on_outcome: Callable[[Outcome], None],
                           progress: Progress,
                           start_timeout_s: float = POOL_START_TIMEOUT_S) -> None:
    """Colorizes ``jobs`` on Ray; ``on_outcome`` gets one :class:`Outcome` per job, on the
    driver, as batches finish (job paths as the plan named them).

    ``address``: see :func:`tinct.cluster.runtime.ray_session`. ``workers``: actors in the
    pool (default: one per GPU of the cluster when ``spec.device`` allows a GPU and there is
    one, else one per CPU). Work is handed out once every actor has started, so every worker
    gets a share; a pool the cluster cannot start within ``start_timeout_s`` seconds is a
    one-line :class:`~tinct.errors.InputError`.
    """
    if not jobs:
        return
    by_absolute = {str(job.source.absolute()): job for job in jobs}
    with ray_session(address) as ray:
        gpus = 1 if _wants_gpu(spec.device) and ray.cluster_resources().get("GPU", 0) else 0
        blocks = max(1, min(len(jobs), math.ceil(len(jobs) / settings.batch_size)))
        pool = min(workers or cluster_workers(ray, gpus), blocks)
        items = [{"source": str(job.source.absolute()), "target": str(job.target.absolute()),
                  "hints": str(job.hints.absolute()) if job.hints else ""} for job in jobs]
        context = ray.data.DataContext.get_current()  # datasets copy it when made
        waited, context.wait_for_min_actors_s = context.wait_for_min_actors_s, max(
            1, math.ceil(start_timeout_s))
        try:
            dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
                PhotoColorizer, fn_constructor_kwargs={"spec": spec, "settings": settings},
                batch_size=settings.batch_size, batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=pool),
                num_cpus=1, num_gpus=gpus)
        finally:
            context.wait_for_min_actors_s = waited  # a caller's own datasets keep theirs
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                for row in range(len(batch["source"])):
                    job = by_absolute[str(batch["source"][row])]
                    on_outcome(_outcome(job, batch, row))
                progress.update(len(batch["source"]))
        except ray.exceptions.GetTimeoutError:
            free = int(ray.available_resources().get("GPU" if gpus else "CPU", 0))
            raise InputError(
                f"Ray started fewer than {pool} workers in {start_timeout_s:g} s (the cluster "
                f"has {free} {'GPUs' if gpus else 'CPUs'} free): ask for fewer with "
                "--ray-workers") from None
    remove_abandoned_writes(jobs)


def remove_abandoned_writes(jobs: Sequence[Job]) -> list[Path]:
    """Deletes the temporary files that killed attempts left beside this run's outputs
    (``.NAME.XXXXXXXX.tmp`` for an output NAME of the run; every worker has finished, so
    none of them is still being written). Returns what was removed."""
    wanted: dict[Path, set[str]] = {}
    for job in jobs:
        wanted.setdefault(job.target.parent, set()).add(job.target.name)
    removed = []
    for folder, names in wanted.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not TEMP_NAME.match(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            output_name = entry.name[1:].rsplit(".", 2)[0]  # ".NAME.XXXXXXXX.tmp" -> NAME
            if output_name in names:
                with suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _outcome(job: Job, batch: dict[str, Any], row: int) -> Outcome:
    return Outcome(job.source, job.target, str(batch["status"][row]), str(batch["error"][row]),
                   float(batch["seconds"][row]), str(batch["node"][row]))
