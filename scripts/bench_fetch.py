"""Benchmark the ingestion path (not a test: it prints figures measured in one run).

1. Polling 1,000 feeds whose server answers 304 (conditional GET): one whole poll cycle as the flow runs it
   (plan → fetch → parse → record feed health) must take at most 10 s on 2 cores.
2. 1,000 feeds with 20 new items each: items/s for fetch + parse + normalise, and the parse workers' cost as a
   ratio against feedparser + normalise in-process on the same bytes.

The feeds come from a separate server process on 127.0.0.0/8, spread over several loopback addresses (hosts),
so the per-host concurrency limit behaves as it would against many publishers. Items are real headlines.

    .venv/bin/python scripts/bench_fetch.py [--feeds 1000] [--items 20] [--hosts 50]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import tempfile
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HEADLINES = ROOT / "tests" / "fixtures" / "headlines" / "semiconductor-headlines-2026-01-to-04.jsonl"


def _feed_bodies(feeds: int, items: int) -> list[bytes]:
    """RSS documents of real headlines, each item unique across all feeds."""
    rows = [json.loads(line) for line in HEADLINES.read_text(encoding="utf-8").splitlines() if line.strip()]
    when = format_datetime(datetime(2026, 3, 1, tzinfo=UTC))
    bodies = []
    for f in range(feeds):
        entries = []
        for i in range(items):
            row = rows[(f * items + i) % len(rows)]
            entries.append(
                f"<item><title>{escape(row['title'])}</title><link>https://news.example/{f}/{i}</link>"
                f"<description>{escape(row.get('source') or '')} reports: {escape(row['title'])}</description>"
                f"<pubDate>{when}</pubDate></item>"
            )
        bodies.append(
            f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>bench {f}</title>'
            f"<language>en</language>{''.join(entries)}</channel></rss>".encode()
        )
    return bodies


def _serve(hosts: list[str], port: int, feeds: int, items: int, ready: Any) -> None:
    """The feed server: raw asyncio HTTP/1.1 with keep-alive; 304 when If-None-Match matches."""
    bodies = _feed_bodies(feeds, items)
    etags = [f'"{hashlib.sha1(b).hexdigest()[:16]}"' for b in bodies]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                n = int(path.rsplit("/", 1)[1].split(".")[0])
                if headers.get("if-none-match") == etags[n]:
                    writer.write(f"HTTP/1.1 304 Not Modified\r\nETag: {etags[n]}\r\nContent-Length: 0\r\n\r\n".encode())
                else:
                    writer.write(
                        f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: {etags[n]}\r\n"
                        f"Content-Length: {len(bodies[n])}\r\n\r\n".encode()
                        + bodies[n]
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(handle, host, port) for host in hosts]
        ready.set()
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=50, help="loopback addresses the feeds are spread over")
    args = parser.parse_args()

    from newsmon.config import FeedConfig, load_settings
    from newsmon.parse import parse_feed
    from newsmon.pipeline import enrol_feeds, fetch_feeds, parse_results, plan_fetches, record_intake
    from newsmon.store import SQLiteStore

    hosts = [f"127.0.0.{h + 1}" for h in range(args.hosts)]
    port = _free_port()
    ready = multiprocessing.get_context("spawn").Event()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(hosts, port, args.feeds, args.items, ready), daemon=True
    )
    server.start()
    ready.wait(60)
    feeds = tuple(
        FeedConfig(url=f"http://{hosts[n % len(hosts)]}:{port}/feed/{n}.xml", name=f"bench {n}", id=f"bench-{n}")
        for n in range(args.feeds)
    )
    with tempfile.TemporaryDirectory() as data:
        settings = load_settings(data_dir=Path(data), fetch_allow_networks=["127.0.0.0/8"], feeds=feeds)
        store = SQLiteStore(settings.state_db)

        print(f"{args.feeds} feeds × {args.items} new items on {args.hosts} loopback hosts, 2 cores")
        started = time.perf_counter()
        enrol_feeds(store, feeds)
        results = fetch_feeds(plan_fetches(store, feeds, False, time.time(), len(feeds)), settings)
        fetched = time.perf_counter()
        stories, outcomes = parse_results(results, settings.parse_timeout_seconds)
        parsed = time.perf_counter()
        record_intake(store, results, outcomes, feeds, stories)
        recorded = time.perf_counter()
        failed = [o for o in outcomes if o.error_kind]
        assert not failed, failed[:3]
        items = len(stories)
        print(
            f"  new items: {items} in {parsed - started:.2f} s (fetch {fetched - started:.2f} s, parse + normalise"
            f" {parsed - fetched:.2f} s) = {items / (parsed - started):,.0f} items/s; recording health"
            f" {recorded - parsed:.2f} s"
        )

        bodies = [(r.body or b"", r.feed_id, r.url, r.fetched) for r in results]
        inline_started = time.perf_counter()
        inline = sum(len(parse_feed(b, feed_id=i, feed_url=u, fetched=t).stories) for b, i, u, t in bodies)
        inline_seconds = time.perf_counter() - inline_started
        ratio = (parsed - fetched) / inline_seconds
        print(
            f"  parse workers vs in-process feedparser + normalise on the same bytes: {inline_seconds:.2f} s in-process"
            f" ({inline / inline_seconds:,.0f} items/s) → the workers take {ratio:.2f}× that time"
        )

        started = time.perf_counter()
        requests = plan_fetches(store, feeds, False, time.time(), len(feeds))
        results = fetch_feeds(requests, settings)
        stories, outcomes = parse_results(results, settings.parse_timeout_seconds)
        record_intake(store, results, outcomes, feeds, stories)
        cycle = time.perf_counter() - started
        unchanged = sum(r.not_modified for r in results)
        verdict = "ok" if cycle <= 10 and unchanged == args.feeds else "TOO SLOW or not all 304"
        print(
            f"  poll cycle, all unchanged: {unchanged}/{len(results)} answered 304 in {cycle:.2f} s (≤ 10 s: {verdict})"
        )
    server.kill()


if __name__ == "__main__":
    main()
