"""``newsmon consume webhook``: POST each alert to a URL, as the JSON message or as Slack-style text.

Every request carries ``Idempotency-Key: <message id>``, so a receiver can drop the one repeat Kafka's
at-least-once delivery may cause (a crash between the POST and recording it as handled). Transient failures —
connection errors, timeouts, 429 and 5xx — are retried with exponential backoff, obeying ``Retry-After``;
any other 4xx is the receiver refusing the alert for good, and the shared loop sends it to the DLQ. A token
bucket keeps each target under its rate limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from consumers.loop import PoisonMessageError
from newsmon.messages import MatchMessage
from newsmon.retry_after import retry_after_seconds

__all__ = ["RateLimiter", "WebhookTarget", "post_alert", "slack_text"]

_TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(slots=True)
class RateLimiter:
    """A token bucket: at most ``per_second`` requests a second on average, ``burst`` at once."""

    per_second: float
    burst: int = 1
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _tokens: float = field(default=-1.0, init=False)
    _stamp: float = field(default=0.0, init=False)

    def wait(self) -> None:
        now = self.clock()
        if self._tokens < 0:
            self._tokens, self._stamp = float(self.burst), now
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.per_second)
        self._stamp = now
        if self._tokens < 1:
            pause = (1 - self._tokens) / self.per_second
            self.sleep(pause)
            self._tokens, self._stamp = 1.0, self._stamp + pause
        self._tokens -= 1


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    mode: Literal["json", "slack"] = "json"
    timeout: float = 10.0
    attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0


def slack_text(message: MatchMessage) -> str:
    """The alert as one Slack mrkdwn message: relevance, topic, linked title, evidence, other outlets."""
    story, best = message.story, message.deciding
    source = f" ({story.source})" if story.source else ""
    lines = [
        f"*{message.score:.2f}* · {best.name} · <{story.url}|{story.title}>{source}",
        f"> {best.evidence.story_sentence[:200]}",
        f"_seed:_ {best.evidence.seed_sentence[:200]}",
    ]
    if best.evidence.keywords:
        lines.append(f"_keywords:_ {', '.join(best.evidence.keywords)}")
    if message.duplicates:
        lines.append(f"_also from:_ {', '.join(d.source or d.feed.title for d in message.duplicates)}")
    return "\n".join(lines)


def post_alert(
    client: httpx.Client,
    target: WebhookTarget,
    message: MatchMessage,
    limiter: RateLimiter | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST one alert; returns the status of the accepted attempt. Raises PoisonMessageError on a permanent
    refusal and the last error once transient failures outlast ``attempts``."""
    body: dict[str, Any] = message.to_json() if target.mode == "json" else {"text": slack_text(message)}
    headers = {"Idempotency-Key": message.message_id, "User-Agent": "newsmon-webhook"}
    delay = target.backoff
    for attempt in range(1, target.attempts + 1):
        if limiter is not None:
            limiter.wait()
        wait: float | None = None
        try:
            response = client.post(target.url, json=body, headers=headers, timeout=target.timeout)
        except httpx.TransportError:
            if attempt == target.attempts:
                raise
        else:
            if response.is_success:
                return response.status_code
            if response.status_code not in _TRANSIENT:
                raise PoisonMessageError(f"{target.url} refused the alert: HTTP {response.status_code}")
            if attempt == target.attempts:
                raise httpx.HTTPStatusError(f"HTTP {response.status_code}", request=response.request, response=response)
            wait = retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))
        sleep(min(target.max_backoff, max(delay, wait or 0.0)))
        delay *= 2
    raise RuntimeError("unreachable")  # pragma: no cover - the loop returns or raises
