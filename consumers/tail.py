"""``newsmon tail``: print each alert of the matches topic, readable or as the raw JSON that was published."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from consumers.loop import ConsumeOptions, consume
from newsmon.messages import MatchMessage

__all__ = ["clip", "render_alert", "tail"]


def clip(text: str, most: int) -> str:
    """``text`` cut to ``most`` characters, with an ellipsis when it was longer: a cut must show."""
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def render_alert(message: MatchMessage) -> str:
    """Rich markup for one alert: time, relevance, topic, title, then its evidence, other sources and link."""
    story, best = message.story, message.deciding
    evidence = best.evidence
    when = story.published[:16].replace("T", " ")
    others = ", ".join(f"{t.name} {t.score:.2f}" for t in message.topics[1:])
    lines = [
        f"[bold]{when}[/]  [green]{message.score:.2f}[/]  [cyan]{escape(best.name)}[/]  "
        f"[bold]{escape(story.title)}[/]" + (f"  [dim]({escape(story.source)})[/]" if story.source else ""),
        f"    why: “{escape(clip(evidence.story_sentence, 140))}” ~ seed “{escape(clip(evidence.seed_sentence, 140))}”"
        f" (cosine {evidence.similarity:.2f})",
    ]
    if evidence.keywords:
        lines.append(f"    keywords: {escape(', '.join(evidence.keywords))}")
    if evidence.exclusion is not None:
        lines.append(
            f"    closest exclusion: “{escape(clip(evidence.exclusion.sentence, 100))}” "
            f"(cosine {evidence.exclusion.similarity:.2f})"
        )
    if others:
        lines.append(f"    also: {escape(others)}")
    if message.duplicates:
        outlets = ", ".join(d.source or d.feed.title or d.url for d in message.duplicates)
        lines.append(f"    same story from {len(message.duplicates)} more: {escape(outlets)}")
    lines.append(f"    [link={story.url}]{escape(story.url[:160])}[/link]")
    return "\n".join(lines)


def tail(options: ConsumeOptions, as_json: bool = False, console: Console | None = None) -> int:
    """Print alerts until ``--max``, the idle timeout or Ctrl-C; returns how many were printed."""
    out = console or Console(highlight=False, soft_wrap=True)

    def handle(message: MatchMessage) -> None:
        if as_json:  # the same bytes the producer wrote: the codec is exact both ways
            sys.stdout.write(message.encode().decode("utf-8") + "\n")
            sys.stdout.flush()
            return
        out.print(render_alert(message))

    def unreadable(record: Any, reason: str) -> None:
        out.print(f"[red]skipped the record at {record.topic}/{record.partition}/{record.offset}: {escape(reason)}[/]")

    return consume(options, handle, on_dead=unreadable)
