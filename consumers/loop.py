"""The shared consumer loop every consumer runs on.

One consumer group per consumer; ``auto_offset_reset`` set explicitly; an offset is committed only after the
handler succeeded. Each record is decoded and validated against the match schema first: a record that cannot
be (a poison message) goes to the DLQ topic with the reason and is committed past, so one bad record never
blocks a partition. A handler that fails is retried with backoff, then its record goes to the DLQ too.
Handled message ids are kept in a small SQLite file per consumer group, so a record redelivered after a crash
or a rebalance — Kafka's at-least-once — is skipped, across restarts. SIGTERM or SIGINT stops the loop after
the record in hand, with its offset committed. Handlers receive typed ``MatchMessage`` objects.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from consumers.sqlite import transaction
from newsmon.dev.faults import crash_point
from newsmon.kafka_io import close_producer, make_producer, unreachable
from newsmon.messages import MatchMessage, MessageError

__all__ = ["ConsumeOptions", "HandledLog", "PoisonMessageError", "consume", "decode_alert"]

Handler = Callable[[MatchMessage], object]  # whatever it returns is ignored
DeadHandler = Callable[[Any, str], None]


class PoisonMessageError(ValueError):
    """A record no retry can fix: not JSON, not a match message, or refused by a handler for good."""


@dataclass(frozen=True, slots=True)
class ConsumeOptions:
    """How long and from where to read. ``idle_timeout`` counts from the group join or the last record.

    ``handled_log`` (a SQLite path) enables de-duplication by message id across restarts; ``dlq_topic``
    receives poison records; a failing handler is tried ``attempts`` times, ``backoff`` seconds doubling."""

    bootstrap: str
    topic: str
    group: str
    from_beginning: bool = False
    max_messages: int | None = None
    idle_timeout: float | None = None
    poll_ms: int = 500
    handled_log: Path | None = None
    dlq_topic: str | None = None
    attempts: int = 5
    backoff: float = 0.5


class HandledLog:
    """Message ids a consumer group has handled, in SQLite: survives restarts, shared by a group's processes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with transaction(self.path) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS handled (message_id TEXT PRIMARY KEY, handled_at REAL NOT NULL)")

    def seen(self, message_id: str) -> bool:
        with transaction(self.path) as conn:
            return conn.execute("SELECT 1 FROM handled WHERE message_id = ?", (message_id,)).fetchone() is not None

    def add(self, message_id: str) -> None:
        with transaction(self.path) as conn:
            conn.execute("INSERT OR IGNORE INTO handled VALUES (?, ?)", (message_id, time.time()))


def decode_alert(value: bytes) -> MatchMessage:
    """A record's value as a ``newsmon.match/1`` message, or PoisonMessageError saying why not."""
    try:
        return MatchMessage.decode(value)
    except MessageError as exc:
        raise PoisonMessageError(str(exc)) from exc


class _StopFlag:
    """Set by SIGTERM/SIGINT; the loop checks it between records."""

    def __init__(self) -> None:
        self.stopped = False

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopped = True


def _install(flag: _StopFlag) -> dict[int, Any]:
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():  # elsewhere the caller stops us another way
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, flag)
    return previous


class _Processor:
    """What happens to one record: decode, skip if handled, handle with retries, or dead-letter."""

    def __init__(self, options: ConsumeOptions, handle: Handler, flag: _StopFlag, on_dead: DeadHandler | None) -> None:
        self.options = options
        self.handle = handle
        self.on_dead = on_dead
        self.flag = flag
        self.log = HandledLog(options.handled_log) if options.handled_log else None
        self.dlq: Any = None
        self.skipped = 0
        self.dead = 0

    def process(self, record: Any) -> bool:
        """True when the record was handled now (not a duplicate, not dead-lettered)."""
        try:
            message = decode_alert(record.value)
        except PoisonMessageError as exc:
            self._dead_letter(record, str(exc))
            return False
        message_id = message.message_id
        if self.log and self.log.seen(message_id):
            self.skipped += 1
            return False
        error = self._handle_with_retries(message)
        if error is not None:
            self._dead_letter(record, error)
            return False
        crash_point("consumer-handled")
        if self.log:
            self.log.add(message_id)
        crash_point("consumer-logged")
        return True

    def _handle_with_retries(self, message: MatchMessage) -> str | None:
        delay = self.options.backoff
        for attempt in range(1, self.options.attempts + 1):
            try:
                self.handle(message)
                return None
            except PoisonMessageError as exc:
                return f"handler refused it: {exc}"
            except Exception as exc:  # a handler's failure must not kill the loop: retry, then dead-letter
                if attempt == self.options.attempts or self.flag.stopped:
                    return f"handler failed {attempt} times: {type(exc).__name__}: {exc}"
                time.sleep(delay)
                delay *= 2
        return "no attempt made"

    def _dead_letter(self, record: Any, reason: str) -> None:
        """Publish the record to the DLQ with the reason (acknowledged before we move past it)."""
        self.dead += 1
        if self.on_dead is not None:
            self.on_dead(record, reason)
        if not self.options.dlq_topic:
            return
        if self.dlq is None:
            self.dlq = make_producer(self.options.bootstrap, client_id="newsmon-dlq")
        headers = [
            ("reason", reason[:1000].encode()),
            ("consumer_group", self.options.group.encode()),
            ("source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        ]
        self.dlq.send(self.options.dlq_topic, key=record.key, value=record.value, headers=headers).get(timeout=30)

    def close(self) -> None:
        if self.dlq is not None:
            close_producer(self.dlq, timeout=5)


def _subscribe(options: ConsumeOptions) -> Any:
    """A consumer of the alerts topic in the options' group; a broker that does not answer (kafka-python gives
    up bootstrapping after 30 s) is one clear error, not a traceback."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        return KafkaConsumer(
            options.topic,
            bootstrap_servers=options.bootstrap,
            group_id=options.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if options.from_beginning else "latest",
            client_id=f"newsmon-{options.group}",
        )
    except KafkaError as exc:
        raise unreachable(options.bootstrap, exc) from None


def consume(options: ConsumeOptions, handle: Handler, on_dead: DeadHandler | None = None) -> int:
    """Feed each valid, not yet handled alert to ``handle`` and commit its offset after; returns alerts handled.
    ``on_dead`` hears of each record sent to the DLQ (record, reason)."""
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    consumer = _subscribe(options)
    flag = _StopFlag()
    previous = _install(flag)
    processor = _Processor(options, handle, flag, on_dead)
    handled = 0
    last_activity: float | None = None
    try:
        while not flag.stopped:
            batches = consumer.poll(timeout_ms=options.poll_ms)
            now = time.monotonic()
            if last_activity is None and consumer.assignment():
                last_activity = now
            for partition_records in batches.values():
                for record in partition_records:
                    handled += processor.process(record)
                    tp = TopicPartition(record.topic, record.partition)
                    consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)})
                    last_activity = time.monotonic()
                    if flag.stopped or (options.max_messages is not None and handled >= options.max_messages):
                        return handled
            idle_for = now - last_activity if last_activity is not None else 0.0
            if options.idle_timeout is not None and idle_for >= options.idle_timeout:
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        processor.close()
        consumer.close()
    return handled
