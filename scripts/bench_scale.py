"""Benchmark several workers on one state (not a test: it prints figures measured in one run).

10,000 feeds spread over 50 loopback addresses. A first poll (not measured) gives every feed its ETag. Then two
measured cycles: every feed unchanged (all 304), and 5 % of the feeds with 4 new items each (2,000 new stories
embedded and matched, the rest 304). Each configuration is 1, 2 or 4 worker processes that start each cycle
together, on a SQLite file or on PostgreSQL (a local server the script starts, durable: fsync on). The workers
are warm (seeds and encoder loaded once, as in a long-running worker) and run the monitor flow's stages without
Prefect and delivery (Kafka): lease a batch → fetch → parse → intake, then claim and score the pending stories.

Per configuration: each cycle's wall time (its slowest worker), fetches/s, new stories/s, where the time goes
(fetch, parse, the state store: leases, intake, claims and verdicts, and scoring), each worker's share of the
feeds and peak RSS. Goals: the all-304 cycle ≤ 20 s with one worker; with two, each polls 50 % ± 10 %.

    .venv/bin/python scripts/bench_scale.py [--feeds 10000] [--workers 1 2 4] [--backends sqlite postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

from bench_fetch import HEADLINES, _free_port

FRESH_EVERY = 20  # one feed in 20 publishes new items before the measured cycle
NEW_ITEMS = 4
HOSTS = 50


def _body(feed: int, generation: int, titles: list[str]) -> bytes:
    """Feed ``feed`` at ``generation``: no items at first; a fresh feed's new items after."""
    items = ""
    if generation and feed % FRESH_EVERY == 0:
        when = format_datetime(datetime(2026, 11, 26, tzinfo=UTC))
        for i in range(NEW_ITEMS):
            title = titles[(feed // FRESH_EVERY * NEW_ITEMS + i) % len(titles)]
            items += (
                f"<item><title>{escape(title)}</title><link>https://news.example/{generation}/{feed}/{i}</link>"
                f"<pubDate>{when}</pubDate></item>"
            )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>bench {feed}</title>'
        f"<language>en</language>{items}</channel></rss>"
    ).encode()


def _serve(port: int, generation: Any, ready: Any) -> None:
    """The feed server: raw asyncio HTTP/1.1 with keep-alive, 304 when If-None-Match matches; what it serves
    changes when the parent bumps ``generation``."""
    import json

    titles = [json.loads(line)["title"] for line in HEADLINES.read_text(encoding="utf-8").splitlines() if line]
    cache: dict[tuple[int, int], tuple[bytes, str]] = {}

    def document(feed: int) -> tuple[bytes, str]:
        key = (feed, generation.value if feed % FRESH_EVERY == 0 else 0)
        if key not in cache:
            body = _body(feed, key[1], titles)
            cache[key] = body, f'"{hashlib.sha1(body).hexdigest()[:16]}"'
        return cache[key]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
                body, etag = document(int(head[0].split(" ")[1].rsplit("/", 1)[1].split(".")[0]))
                if headers.get("if-none-match") == etag:
                    writer.write(f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nContent-Length: 0\r\n\r\n".encode())
                else:
                    writer.write(
                        f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: {etag}\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(handle, f"127.0.0.{h + 1}", port) for h in range(HOSTS)]
        ready.set()
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


@dataclass
class WorkerFigures:
    seconds: float
    fetched: int
    stories: int
    stages: dict[str, float]  # seconds in fetch, parse, store (leases, intake, claims, verdicts), score
    peak_rss_mb: float


class _Stopwatch:
    """Seconds per stage, summed."""

    def __init__(self) -> None:
        self.stages = dict.fromkeys(("fetch", "parse", "store", "score"), 0.0)

    def time(self, stage: str, work: Any, *args: Any) -> Any:
        began = time.perf_counter()
        try:
            return work(*args)
        finally:
            self.stages[stage] += time.perf_counter() - began


def _settings(port: int, feeds: int, state: dict[str, Any], worker: str) -> Any:
    from newsmon.config import FeedConfig, load_settings

    urls = (f"http://127.0.0.{n % HOSTS + 1}:{port}/feed/{n}.xml" for n in range(feeds))
    return load_settings(
        models_dir=load_settings().model_cache_dir,  # the user's encoder exports, whatever the state's data dir
        fetch_allow_networks=["127.0.0.0/8"],
        feeds=tuple(FeedConfig(url=u, name=f"bench {n}", id=f"bench-{n}") for n, u in enumerate(urls)),
        worker_name=worker,
        **state,
    )


def _worker(port: int, feeds: int, state: dict[str, Any], name: str, ready: Any, cycles: Any, out: Any) -> None:
    """One warm worker: loads seeds and encoder once, then for each cycle waits until every worker is ready,
    runs it, and reports its figures."""
    from newsmon import pipeline
    from newsmon.store import open_store

    settings = _settings(port, feeds, state, name)
    scorer = pipeline.build_scorer(settings)
    store = open_store(settings)
    pipeline.enrol_feeds(store, settings.feeds)
    for _ in range(cycles):
        ready.wait()
        watch, began, since = _Stopwatch(), time.perf_counter(), time.time()
        fetched = stories = 0
        while requests := watch.time(
            "store", pipeline.plan_fetches, store, settings.feeds, False, since, settings.lease_batch
        ):
            results = watch.time("fetch", pipeline.fetch_feeds, requests, settings)
            parsed, outcomes = watch.time("parse", pipeline.parse_results, results, settings.parse_timeout_seconds)
            watch.time("store", pipeline.record_intake, store, results, outcomes, settings.feeds, parsed)
            fetched += len(results)
        while pending := watch.time("store", store.claim_pending, pipeline.SCORE_CHUNK):  # score_pending, timed
            verdicts = watch.time("score", pipeline.judge, scorer, pending)
            watch.time("store", pipeline.record_verdicts, store, pending, verdicts, settings, scorer, name)
            stories += len(pending)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out.put((name, WorkerFigures(time.perf_counter() - began, fetched, stories, watch.stages, peak)))


def _cycles(port: int, feeds: int, state: dict[str, Any], workers: int, generation: Any) -> list[list[WorkerFigures]]:
    """Three cycles by ``workers`` warm processes, each cycle started by all at once: the first poll (every feed
    new: its ETag, nothing to score), then all feeds unchanged (304), then with new items in 5 % of them."""
    spawn = multiprocessing.get_context("spawn")
    ready, out = spawn.Barrier(workers + 1), spawn.Queue()  # the workers and this process
    processes = [
        spawn.Process(target=_worker, args=(port, feeds, state, f"bench-{w}", ready, 3, out)) for w in range(workers)
    ]
    for process in processes:
        process.start()
    measured = []
    for new_items in (0, 0, 1):
        generation.value = new_items
        ready.wait()  # every worker loaded (and done with the cycle before): start together
        figures = dict(out.get(timeout=1200) for _ in processes)
        measured.append([figures[name] for name in sorted(figures)])
    for process in processes:
        process.join(60)
    return measured[1:]


def _states(backends: list[str], root: Path) -> Any:
    """For each backend, a factory of fresh, empty states (a new SQLite file, a new PostgreSQL database)."""
    from newsmon.dev.local_postgres import LocalPostgres

    counter = iter(range(1, 1000))
    postgres = None
    if "postgresql" in backends:  # its own temp dir directly under /tmp: the server's user must reach it
        postgres = LocalPostgres(Path(tempfile.mkdtemp(prefix="newsmon-bench-pg-")), port=_free_port(), durable=True)
        postgres.start()
    try:  # the server stops whatever happens to the benchmark
        for backend in backends:
            if backend == "sqlite":
                yield backend, lambda: {"data_dir": root / f"sqlite-{next(counter)}"}
            else:
                assert postgres is not None
                yield backend, lambda: {"state_url": postgres.create_database(f"bench_{next(counter)}")}
    finally:
        if postgres is not None:
            postgres.stop()
            shutil.rmtree(postgres.root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    args = parser.parse_args()

    port = _free_port()
    spawn = multiprocessing.get_context("spawn")
    generation, up = spawn.Value("i", 0), spawn.Event()
    server = spawn.Process(target=_serve, args=(port, generation, up), daemon=True)
    server.start()
    up.wait(60)
    new_stories = len(range(0, args.feeds, FRESH_EVERY)) * NEW_ITEMS
    fresh_feeds = args.feeds // FRESH_EVERY
    print(f"{args.feeds:,} feeds on {HOSTS} loopback hosts, 2 cores. Two cycles: all feeds unchanged (304); then")
    print(f"{new_stories:,} new stories in {fresh_feeds:,} feeds, the other {args.feeds - fresh_feeds:,} unchanged.\n")
    print(
        "| state | workers | 304 cycle | fetches/s | cycle with new items | new stories/s | where the time goes "
        "(fetch / parse / store / score, summed over workers) | feeds per worker | peak RSS/worker |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for backend, fresh_state in _states(args.backends, Path(tmp)):
            for workers in args.workers:
                unchanged, fresh = _cycles(port, args.feeds, fresh_state(), workers, generation)
                quiet, busy = max(f.seconds for f in unchanged), max(f.seconds for f in fresh)
                fetched, stories = sum(f.fetched for f in unchanged), sum(f.stories for f in fresh)
                stages = " / ".join(f"{sum(f.stages[s] for f in fresh):.1f}" for s in fresh[0].stages)
                shares = " / ".join(f"{f.fetched / fetched:.0%}" for f in unchanged)
                print(
                    f"| {backend} | {workers} | {quiet:.1f} s | {fetched / quiet:,.0f} | {busy:.1f} s | "
                    f"{stories / busy:,.0f} | {stages} s | {shares} | "
                    f"{max(f.peak_rss_mb for f in fresh):,.0f} MB |",
                    flush=True,
                )
    server.kill()


if __name__ == "__main__":
    main()
