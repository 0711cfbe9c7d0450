"""Parse fetched documents in worker processes, each within a deadline, so no document can stall a cycle.

feedparser is pure Python and some inputs make it slow without bound (its author e-mail regex is quadratic on
long author fields: feedparser issue 562), and a thread cannot be stopped. A process can: each document gets
``timeout`` seconds in a worker; a worker that overruns is killed and replaced, and that document becomes a
``FeedError`` of kind ``parse_timeout`` while the others carry on. Idle workers wait for the next call. Workers
come from a ``forkserver`` (forking a process that runs Prefect's threads is unsafe) and have an address-space
cap, so a pathological document fails with ``parse_memory`` instead of taking the machine's memory.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import resource
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from newsmon.errors import FeedError
from newsmon.parse import ParsedFeed, parse_feed

__all__ = ["ParseJob", "parse_all"]

_WORKER_MEMORY_BYTES = 2 * 1024**3
# Workers outlive a call: starting two took about 0.2 s of every cycle. Each parses at most this many documents,
# then a fresh one takes over, so nothing a parser keeps can grow without bound.
WORKER_JOBS = 1000


@dataclass(frozen=True, slots=True)
class ParseJob:
    """One fetched document and what its stories need to know about where it came from."""

    body: bytes
    feed_id: str
    feed_url: str
    fetched: datetime
    headers: Mapping[str, str] = field(default_factory=dict)


def _parse(job: ParseJob) -> ParsedFeed | FeedError:
    try:
        return parse_feed(
            job.body, feed_id=job.feed_id, feed_url=job.feed_url, fetched=job.fetched, headers=dict(job.headers)
        )
    except FeedError as exc:
        return exc
    except MemoryError:
        return FeedError("parse_memory", f"parsing needed more than {_WORKER_MEMORY_BYTES >> 20} MiB")
    except Exception as exc:  # a parser bug on one document is that feed's error, never the cycle's
        return FeedError("parse", f"parser failed: {type(exc).__name__}: {exc}")


def _serve(conn: Connection) -> None:
    """A worker's life: parse each job it is sent and send the result back, until the pipe closes."""
    resource.setrlimit(resource.RLIMIT_AS, (_WORKER_MEMORY_BYTES, _WORKER_MEMORY_BYTES))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        conn.send(_parse(job))


class _Worker:
    def __init__(self, ctx: multiprocessing.context.BaseContext) -> None:
        self.conn, child = ctx.Pipe()
        self.process: BaseProcess = ctx.Process(target=_serve, args=(child,), daemon=True)  # type: ignore[attr-defined]
        self.process.start()
        child.close()
        self.job: int | None = None
        self.deadline = 0.0
        self.parsed = 0

    def give(self, index: int, job: ParseJob, timeout: float) -> None:
        self.job, self.deadline = index, time.monotonic() + timeout
        self.parsed += 1
        self.conn.send(job)

    @property
    def reusable(self) -> bool:
        return self.job is None and self.parsed < WORKER_JOBS and self.process.is_alive()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


_IDLE: list[_Worker] = []


def _context() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["newsmon.parse", "newsmon.language"])  # workers inherit the loaded model
    return ctx


def parse_all(jobs: Sequence[ParseJob], timeout: float, workers: int = 2) -> list[ParsedFeed | FeedError]:
    """Parse every job in a worker process; results in job order, each a ParsedFeed or that feed's FeedError."""
    results: list[ParsedFeed | FeedError | None] = [None] * len(jobs)
    if not jobs:
        return []
    ctx = _context()
    todo = deque(range(len(jobs)))
    pool = [_take(ctx) for _ in range(min(workers, len(jobs)))]
    finished = False
    try:
        while todo or any(w.job is not None for w in pool):
            for worker in pool:
                if worker.job is None and todo:
                    index = todo.popleft()
                    worker.give(index, jobs[index], timeout)
            busy = [w for w in pool if w.job is not None]
            wait = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = multiprocessing.connection.wait([w.conn for w in busy], timeout=wait)
            for i, worker in enumerate(pool):
                current = worker.job
                if current is None or (worker.conn not in ready and time.monotonic() < worker.deadline):
                    continue
                worker.job = None
                if worker.conn in ready:
                    try:
                        results[current] = worker.conn.recv()
                        continue
                    except (EOFError, OSError):
                        results[current] = FeedError("parse", "the parser process died on this document")
                else:
                    results[current] = FeedError("parse_timeout", f"parsing took longer than {timeout:g} s")
                worker.kill()
                pool[i] = _Worker(ctx)
        finished = True
    finally:
        for worker in pool:
            if finished and worker.reusable:
                _IDLE.append(worker)
            else:
                worker.kill()
    return [r if r is not None else FeedError("parse", "not parsed") for r in results]


def _take(ctx: multiprocessing.context.BaseContext) -> _Worker:
    """A worker left idle by an earlier call if one is alive, else a new one."""
    while _IDLE:
        worker = _IDLE.pop()
        if worker.reusable:
            return worker
        worker.kill()
    return _Worker(ctx)
