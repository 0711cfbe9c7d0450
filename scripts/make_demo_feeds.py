"""Build the bundled demo feeds (newsmon/dev/demo/feeds/*.xml) from the recorded fixtures in tests/fixtures.

Every 8th recorded headline of Jan-Apr 2026 outside the labelled dev set, and every 3rd one inside it (the dev
set holds nearly all the headlines about the seed's topics), becomes an RSS item, grouped
into one Google-News-style feed per month (titles "Title - Publisher" with a <source>, as Google News writes
them) and one CNBC feed; the real Ars Technica and (not well-formed) Phys.org feeds are copied as recorded.
Every recorded near-duplicate pair involving a dev-set headline (another URL, title cosine ≥ 0.90 within 72 h:
the production grouping rule) comes along whole, so the demo shows syndicated repeats folding into one alert.
Run: .venv/bin/python scripts/make_demo_feeds.py
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import defaultdict
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "fixtures"
OUT = ROOT / "newsmon" / "dev" / "demo" / "feeds"
OTHER_STEP = 8
DEV_STEP = 3


def _item(row: dict[str, str]) -> str:
    publisher = row["source"].removesuffix("More").strip(" |")
    when = format_datetime(datetime.fromisoformat(row["crawled_at"]).replace(microsecond=0), usegmt=False)
    aggregated = publisher not in ("Google News", "CNBC")
    title = f"{row['title']} - {publisher}" if aggregated else row["title"]
    source = f'<source url="https://news.google.com">{escape(publisher)}</source>' if aggregated else ""
    return (
        f"<item><title>{escape(title)}</title><link>{escape(row['url'])}</link>"
        f'<guid isPermaLink="false">{escape(row["url"])}</guid><pubDate>{when.replace("-0000", "+0000")}'
        f"</pubDate>{source}</item>"
    )


def _feed(title: str, link: str, items: list[str]) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link><language>en-US</language>"
        "<description>Recorded for newsmon's offline demo</description>\n" + "\n".join(items) + "\n</channel></rss>\n"
    )


def _near_duplicates(seeds: list[dict[str, str]], rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Both sides of every recorded near-duplicate pair with one side in ``seeds`` (production grouping rule)."""
    from models.duplicates import DEFAULT_COSINE, DEFAULT_WINDOW
    from models.encoder import load_encoder

    encoder = load_encoder("torch")
    similarity = encoder.encode([r["title"] for r in rows]) @ encoder.encode([r["title"] for r in seeds]).T
    found = []
    for row, sims in zip(rows, similarity, strict=True):
        when = datetime.fromisoformat(row["crawled_at"])
        for sim, seed in zip(sims, seeds, strict=True):
            close = abs(datetime.fromisoformat(seed["crawled_at"]) - when) <= DEFAULT_WINDOW
            if sim >= DEFAULT_COSINE and close and seed["url"] != row["url"]:
                found += [row, seed]
    return found


def main() -> None:
    headlines = FIXTURES / "headlines"
    dev = {json.loads(line)["title"] for line in (headlines / "dev-labelled.jsonl").open(encoding="utf-8")}
    rows = [json.loads(line) for line in (headlines / "semiconductor-headlines-2026-01-to-04.jsonl").open()]
    chosen = [r for r in rows if r["title"] not in dev][::OTHER_STEP]
    chosen += [r for r in rows if r["title"] in dev][::DEV_STEP]
    chosen += _near_duplicates([r for r in rows if r["title"] in dev], rows)
    chosen = list({r["url"]: r for r in chosen}.values())
    chosen.sort(key=lambda r: r["crawled_at"])
    groups: dict[str, list[str]] = defaultdict(list)
    for row in chosen:
        name = "cnbc" if row["source"] == "CNBC" else f"google-news-semiconductors-{row['crawled_at'][:7]}"
        groups[name].append(_item(row))
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.xml"):
        old.unlink()
    for name, items in sorted(groups.items()):
        title = "CNBC" if name == "cnbc" else f"Semiconductor - Google News ({name[-7:]})"
        (OUT / f"{name}.xml").write_text(_feed(title, "https://news.google.com", items), encoding="utf-8")
    shutil.copy(FIXTURES / "feeds" / "real" / "arstechnica_all_2025-01-16.xml", OUT / "arstechnica.xml")
    shutil.copy(FIXTURES / "feeds" / "real" / "physorg_rss-parser_2021-07-20.xml", OUT / "physorg.xml")
    print(f"{len(chosen)} headlines in {len(groups)} feeds, plus Ars Technica and Phys.org, in {OUT}")


if __name__ == "__main__":
    main()
