"""The consumers' own parts, without a broker: decoding, the handled log, webhook, digest and archive."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.archive import Archive
from consumers.digest import Digest, period_of
from consumers.loop import HandledLog, PoisonMessageError, decode_alert
from consumers.webhook import RateLimiter, WebhookTarget, post_alert, slack_text
from newsmon.messages import Outlet

from .alerts import TOPICS, alert, with_story
from .webhook_receiver import Receiver, webhook_receiver


def test_decoding_accepts_valid_alerts_and_names_what_is_wrong_with_others() -> None:
    message = alert(1)
    assert decode_alert(message.encode()) == message
    with pytest.raises(PoisonMessageError, match="not JSON"):
        decode_alert(b"\xff{")
    with pytest.raises(PoisonMessageError, match=r"not a newsmon\.match/1 message"):
        decode_alert(json.dumps({**message.to_json(), "score": "high"}).encode())


def test_the_handled_log_survives_reopening(tmp_path: Path) -> None:
    HandledLog(tmp_path / "g.sqlite3").add("a:seed")
    reopened = HandledLog(tmp_path / "g.sqlite3")
    assert reopened.seen("a:seed") and not reopened.seen("b:seed")


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    with webhook_receiver() as found:
        yield found


def test_webhook_retries_transient_failures_with_the_same_idempotency_key(receiver: Any) -> None:
    url, handler = receiver
    handler.script = [503, 500]
    sleeps: list[float] = []
    with httpx.Client() as client:
        status = post_alert(client, WebhookTarget(url, backoff=0.01), alert(1), sleep=sleeps.append)
    assert status == 200 and len(handler.seen) == 3 and len(sleeps) == 2
    keys = {headers["Idempotency-Key"] for headers, _ in handler.seen}
    assert keys == {alert(1).message_id} and handler.seen[-1][1] == alert(1).to_json()


def test_webhook_gives_up_on_a_permanent_refusal_and_after_its_attempts(receiver: Any) -> None:
    url, handler = receiver
    handler.script = [400]
    with httpx.Client() as client, pytest.raises(PoisonMessageError, match="HTTP 400"):
        post_alert(client, WebhookTarget(url), alert(1), sleep=lambda _s: None)
    handler.script = [503, 503, 503]
    with httpx.Client() as client, pytest.raises(httpx.HTTPStatusError):
        post_alert(client, WebhookTarget(url, attempts=3), alert(1), sleep=lambda _s: None)
    assert len(handler.seen) == 4


def test_slack_mode_sends_readable_text_with_the_link_and_evidence(receiver: Any) -> None:
    url, handler = receiver
    copy = alert(3).story
    message = replace(alert(2), duplicates=(Outlet(copy.id, copy.title, copy.url, copy.source, copy.feed),))
    with httpx.Client() as client:
        post_alert(client, WebhookTarget(url, mode="slack"), message, sleep=lambda _s: None)
    ((_, body),) = handler.seen
    assert set(body) == {"text"} and body["text"] == slack_text(message)
    assert "<https://news.test/2|Headline number 2>" in body["text"] and "_also from:_ Outlet 0" in body["text"]


def test_the_rate_limiter_spaces_requests_to_the_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(per_second=2.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert slept == pytest.approx([0.5, 0.5, 0.5, 0.5])  # a burst of one, then one every half second
    now[0] += 10
    limiter.wait()
    assert len(slept) == 4  # after a quiet spell the bucket is full again


def test_the_archive_keeps_one_row_per_message_and_answers_queries(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "alerts.sqlite3")
    assert archive.add(alert(1)) and not archive.add(alert(1))  # a redelivery adds nothing
    archive.add(alert(2, topic=1, hours=30))
    archive.add(with_story(alert(3, hours=50), title="Samsung halts China fab upgrade"))
    assert archive.count() == 3
    assert [a.title for a in archive.query(topic="us-export-controls")] == ["Headline number 2"]
    assert [a.title for a in archive.query(text="China fab")] == ["Samsung halts China fab upgrade"]
    assert [a.message_id for a in archive.query(since="2026-03-06")] == [alert(3).message_id, alert(2).message_id]
    assert len(archive.query(limit=1)) == 1
    name = TOPICS[1][1]
    assert [a.title for a in archive.query(topic=name.upper())] == ["Headline number 2"]  # its name, in any case


def test_archive_query_shows_seed_and_link_finds_topics_by_name_and_refuses_a_date_it_cannot_read(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    path = tmp_path / "alerts.sqlite3"
    archive = Archive(path)
    archive.add(with_story(alert(1), title="[Exclusive] Huawei's fab"))
    archive.add(alert(2, topic=1))

    def query(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "newsmon", "archive", "query", "--file", str(path), *args]
        env = {**os.environ, "COLUMNS": "200"}
        return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)

    table = query("--topic", TOPICS[0][1])
    assert table.returncode == 0, table.stderr
    assert "[Exclusive] Huawei's fab" in table.stdout and "Headline number 2" not in table.stdout
    assert "huawei-korea-chips" in table.stdout and "https://news.test/1" in table.stdout
    bad = query("--since", "yesterday")
    assert bad.returncode == 2 and "'yesterday' is not a time" in " ".join(bad.stderr.split())
    assert "Traceback" not in bad.stderr
    empty = query("--text", "nothing like this")
    assert empty.returncode == 0 and "no alerts match (the archive holds 2)" in empty.stderr
    assert empty.stdout.strip() == ""


def test_the_digest_groups_by_seed_and_topic_and_never_repeats_a_line(tmp_path: Path) -> None:
    digest = Digest(tmp_path / "digests", "day")
    for message in (alert(1, relevance=0.8), alert(2, topic=1), alert(3, relevance=0.95), alert(1, relevance=0.8)):
        path = digest.add(message)
    assert path == tmp_path / "digests" / "digest-2026-03-05.md"
    text = path.read_text()
    assert text.count("Headline number 1") == 1 and "3 alert(s)." in text
    korean, export = text.index("### Korean memory chipmakers and China"), text.index("### US export controls")
    assert korean < text.index("Headline number 3") < text.index("Headline number 1") < export  # by relevance
    html = path.with_suffix(".html").read_text()
    assert '<a href="https://news.test/2">Headline number 2</a>' in html
    digest.add(alert(4, hours=24))
    assert (tmp_path / "digests" / "digest-2026-03-06.md").exists()
    assert not list((tmp_path / "digests").glob("*.partial"))


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_periods_contain_their_moment(moment: Any) -> None:
    stamp = moment.isoformat()
    assert stamp.startswith(period_of(stamp, "day")) and stamp.startswith(period_of(stamp, "hour"))
    year, week, _ = moment.isocalendar()
    assert period_of(stamp, "week") == f"{year}-W{week:02d}"
