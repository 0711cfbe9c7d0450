"""End-to-end cycle benchmark (not a test: it prints figures measured in one run).

The real monitor flow (Prefect's temporary API, the real encoder, a real local Apache Kafka) on loopback feeds
of recorded stories (the demo feeds' stories with their summaries, then recorded headlines):

- **cold**: ``newsmon run --once`` in a fresh process and data dir on ``--stories`` new stories in ``--feeds``
  feeds: what a first run or a fresh flow-run process pays (imports, Prefect's temporary server, model load);
- **warm**: the same flow called again in one long-lived process (the model loaded, as in ``newsmon serve``) on
  ``--stories`` other new stories: time per stage (``newsmon.stages``), Prefect's share (the flow run's wall
  time beyond its stages), stories/s; then the bare encoder on exactly the texts that cycle embedded;
- **no change**: a cycle over ``--quiet-feeds`` feeds that all answer 304;
- **memory**: ``--rss-cycles`` more warm cycles with ``--rss-stories`` new stories each; RSS after the tenth and
  after the last.

The last line reads ``warm cycle / bare encoder: X.XX, prefect share: Y.Y %``. Goals (issue 16): warm cycle
≥ 0.8× the bare encoder; Prefect ≤ 5 % of a 2,000-story warm cycle; RSS growth over 100 cycles ≤ 5 %.

    .venv/bin/python scripts/bench_cycle.py [--stories 2000] [--feeds 40] [--quiet-feeds 1000] [--rss-cycles 100]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_fetch import HEADLINES, _free_port  # noqa: E402

DEMO = ROOT / "newsmon" / "dev" / "demo" / "feeds"


def _recorded_items() -> list[tuple[str, str]]:
    """(title, summary) of every recorded story: the demo feeds' (with summaries), then the headlines'."""
    import feedparser

    items = []
    for path in sorted(DEMO.glob("*.xml")):
        items += [(e.get("title", ""), e.get("summary", "")) for e in feedparser.parse(path.read_bytes()).entries]
    items += [(json.loads(line)["title"], "") for line in HEADLINES.read_text(encoding="utf-8").splitlines() if line]
    return [(t, s) for t, s in items if t]


class Feeds:
    """Loopback feeds whose content the benchmark rewrites: generation g of a feed set holds stories never
    served before (their own URLs), published in the last hour."""

    def __init__(self, root: Path) -> None:
        from newsmon.dev.feedserver import FeedServer

        self.folder = root / "feeds"
        self.folder.mkdir(parents=True)
        self.server = FeedServer(self.folder).start()
        self.items = _recorded_items()
        self.served = 0

    def write(self, prefix: str, feeds: int, stories: int) -> list[str]:
        """``feeds`` feeds named ``prefix-N`` sharing ``stories`` new stories; their URLs."""
        now = datetime.now(UTC)
        for f in range(feeds):
            entries = ""
            for i in range(f, stories, feeds):
                title, summary = self.items[(self.served + i) % len(self.items)]
                when = format_datetime(now - timedelta(minutes=i % 60))
                link = f"https://bench.example/{self.served + i}"
                entries += (
                    f"<item><title>{escape(title)}</title><link>{link}</link><guid>{link}</guid>"
                    f"<description>{escape(summary)}</description><pubDate>{when}</pubDate></item>"
                )
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{prefix} {f}</title>'
                f"<link>https://bench.example/</link><language>en</language>{entries}</channel></rss>"
            )
            (self.folder / f"{prefix}-{f}.xml").write_text(body, encoding="utf-8")
        self.served += stories
        return [self.server.url(f"{prefix}-{f}.xml") for f in range(feeds)]


def _config(path: Path, urls: list[str]) -> Path:
    import yaml

    feeds = [{"url": u, "name": u.rsplit("/", 1)[1]} for u in urls]
    path.write_text(yaml.safe_dump({"feeds": feeds, "fetch_allow_networks": ["127.0.0.1/32"]}))
    return path


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cold(config: Path, root: Path) -> tuple[float, float]:
    """``newsmon run --once`` in a fresh process, data dir and Prefect home: (wall seconds, peak RSS MiB of that
    process and the children it waited for; not the broker or anything else this script started)."""
    env = {**os.environ, "NEWSMON_DATA_DIR": str(root / "cold-data"), "PREFECT_HOME": str(root / "cold-prefect")}
    log = root / "cold.log"
    started = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "newsmon", "run", "--once", "--config", str(config)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"the cold run failed:\n{log.read_text()[-4000:]}")
    return wall, usage.ru_maxrss / 1024


def _export_encoder() -> None:
    """Make the encoder's one-time export in a child process. Not in this one: a child's peak RSS counts the
    pages it shared with its parent when forked, so a parent holding the exporter (torch) would inflate the cold
    run's figure."""
    make = "from newsmon.config import load_settings; from models.encoder import load_encoder; "
    make += "settings = load_settings(); load_encoder(settings.model_backend, settings.model_cache_dir)"
    subprocess.run([sys.executable, "-c", make], cwd=ROOT, check=True, capture_output=True)


def _timed(cycle: Callable[[], dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    result = cycle()
    return time.perf_counter() - started, result


def _capture_texts(scorer: Any) -> list[str]:
    """Record every text the scorer's encoder embeds from now on (the list fills as cycles run)."""
    texts: list[str] = []
    encoder = scorer.encoder

    class Recording:
        name, backend = encoder.name, encoder.backend

        def encode(self, batch: list[str], *args: Any, **kwargs: Any) -> Any:
            texts.extend(batch)
            return encoder.encode(batch, *args, **kwargs)

    scorer.encoder = Recording()
    return texts


def _stage_line(seconds: dict[str, float]) -> str:
    return ", ".join(f"{stage} {s:.2f} s" for stage, s in sorted(seconds.items(), key=lambda kv: -kv[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--quiet-feeds", type=int, default=1000)
    parser.add_argument("--rss-cycles", type=int, default=100)
    parser.add_argument("--rss-stories", type=int, default=200)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="newsmon-bench-cycle-"))
    os.environ.update(NEWSMON_DATA_DIR=str(root / "data"), PREFECT_HOME=str(root / "prefect"))
    from newsmon.cli.common import prefect_environment
    from newsmon.config import load_settings
    from newsmon.dev.local_kafka import LocalKafka
    from newsmon.logs import apply_log_policy

    settings = load_settings()
    apply_log_policy()
    prefect_environment(settings)
    kafka = LocalKafka(root / "kafka", settings.cache_dir, port=_free_port())
    kafka.start(timeout=180)
    os.environ["NEWSMON_KAFKA_BOOTSTRAP"] = kafka.bootstrap
    feeds = Feeds(root)
    try:
        _run(args, root, feeds)
    finally:
        feeds.server.stop()
        kafka.stop()


def _run(args: argparse.Namespace, root: Path, feeds: Feeds) -> None:
    from flows.local import in_process
    from flows.monitor import monitor_cycle
    from newsmon import pipeline
    from newsmon.config import load_settings

    logging.getLogger("prefect.flow_runs").setLevel(logging.WARNING)  # the figures, not a line per flow run
    settings = load_settings()
    os.environ.setdefault("NEWSMON_MODELS_DIR", str(settings.model_cache_dir))  # one export, shared by every run
    _export_encoder()  # made now: the cold run pays no one-time export
    n = args.stories
    busy = _config(root / "busy.yaml", feeds.write("busy", args.feeds, n))
    cold_wall, cold_rss = _cold(busy, root)
    print(
        f"cold: {n} new stories in {args.feeds} feeds, a fresh process: {cold_wall:.1f} s, peak RSS {cold_rss:.0f} MiB"
    )

    def cycle(**parameters: Any) -> dict[str, Any]:  # as newsmon run and serve call it
        with in_process():
            result: dict[str, Any] = monitor_cycle.with_options(retries=0)(**parameters)
        return result

    feeds.write("busy", args.feeds, n)
    first_wall, first = _timed(lambda: cycle(config_file=str(busy), due_only=False))
    print(f"first cycle in the long-lived process (model load included): {first_wall:.1f} s ({first['new']} new)")

    texts = _capture_texts(pipeline.build_scorer(load_settings(busy)))
    feeds.write("busy", args.feeds, n)
    warm_wall, warm = _timed(lambda: cycle(config_file=str(busy), due_only=False))
    stages = warm["seconds"]
    prefect = max(0.0, warm_wall - sum(stages.values()))
    scorer = pipeline.build_scorer(load_settings(busy))
    started = time.perf_counter()
    scorer.encoder.encode(list(texts), scorer.batch_size)
    bare = time.perf_counter() - started
    print(
        f"warm: {warm['new']} new stories, {len(texts)} texts embedded: {warm_wall:.2f} s "
        f"({warm['new'] / warm_wall:.0f} stories/s); stages: {_stage_line(stages)}; Prefect {prefect:.2f} s"
    )
    print(f"bare encoder on the same {len(texts)} texts: {bare:.2f} s ({len(texts) / bare:.0f} texts/s)")

    quiet = _config(root / "quiet.yaml", feeds.write("quiet", args.quiet_feeds, args.quiet_feeds))
    cycle(config_file=str(quiet), due_only=False)  # first poll: every feed's ETag
    still_wall, still = _timed(lambda: cycle(config_file=str(quiet), due_only=False))
    still_prefect = max(0.0, still_wall - sum(still["seconds"].values()))
    print(
        f"no change: {args.quiet_feeds} feeds, all 304: {still_wall:.2f} s; stages: {_stage_line(still['seconds'])}; "
        f"Prefect {still_prefect:.2f} s ({100 * still_prefect / still_wall:.1f} %)"
    )

    rss = []
    for _ in range(args.rss_cycles):
        feeds.write("busy", args.feeds, args.rss_stories)
        cycle(config_file=str(busy), due_only=False)
        rss.append(_rss_mib())
    if len(rss) >= 10:
        growth = 100 * (rss[-1] - rss[9]) / rss[9]
        print(
            f"memory: {args.rss_cycles} cycles of {args.rss_stories} new stories: RSS after cycle 10 {rss[9]:.0f} MiB, "
            f"after cycle {len(rss)} {rss[-1]:.0f} MiB ({growth:+.1f} %), peak {max(rss):.0f} MiB"
        )
    print(f"warm cycle / bare encoder: {bare / warm_wall:.2f}, prefect share: {100 * prefect / warm_wall:.1f} %")


if __name__ == "__main__":
    main()
