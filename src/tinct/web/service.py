"""Bounded concurrency: a fixed pool of workers and a bounded queue in front of it.

At most ``concurrency`` colorizations run at once (worker threads; the network itself frees
the GIL), and at most ``queue`` more requests wait for a worker. A request takes its place
only once its upload has arrived (``uploads.UploadSlots`` bounds the bodies being read, and
each read times out), so clients that stall cannot hold the queue; a request that finds
every worker busy and the queue full is refused at once (503).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from tinct.web.errors import ApiError

T = TypeVar("T")


class Busy(ApiError):
    def __init__(self, capacity: int):
        super().__init__(503, f"the server is busy ({capacity} requests in progress); "
                              "try again in a moment", headers={"Retry-After": "2"})


@dataclass
class Ticket:
    """One admitted request's place; ``job`` is its work once submitted."""

    job: Future | None = None


class WorkQueue:
    """Admission control plus a worker thread pool.

    ``with admit() as ticket`` takes one of ``concurrency + queue`` places or raises 503;
    ``await run(ticket, fn, *args)`` then runs ``fn`` on a worker thread. A place is given back
    when the request ends, or, if its client left while the job runs, when the job ends.
    """

    def __init__(self, concurrency: int = 1, queue: int = 8):
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if queue < 0:
            raise ValueError(f"queue must be 0 or more, got {queue}")
        self.concurrency = concurrency
        self.capacity = concurrency + queue
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="tinct-worker")

    @contextmanager
    def admit(self):
        """Takes a place for one request (503 when none is free); yields a :class:`Ticket`."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise Busy(self.capacity)
            self._admitted += 1
        ticket = Ticket()
        try:
            yield ticket
        finally:
            job = ticket.job
            if job is not None and not job.done() and not job.cancel():
                # the client went away while its job runs: keep the place until it ends
                job.add_done_callback(lambda _: self._release())
            else:
                self._release()

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    async def run(self, ticket: Ticket, fn: Callable[..., T], *args) -> T:
        """Runs ``fn(*args)`` on a worker thread, on the place ``ticket`` holds."""
        if ticket.job is not None:
            raise RuntimeError("a ticket runs one job")
        ticket.job = self._executor.submit(self._counted, fn, args)
        return await asyncio.wrap_future(ticket.job)

    def _counted(self, fn: Callable[..., T], args: tuple) -> T:
        with self._lock:
            self._running += 1
        try:
            return fn(*args)
        finally:
            with self._lock:
                self._running -= 1

    def stats(self) -> dict[str, int]:
        """``running`` on workers, ``queued`` waiting (reading uploads or for a worker)."""
        with self._lock:
            return {"running": self._running, "queued": self._admitted - self._running,
                    "concurrency": self.concurrency, "capacity": self.capacity}

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
