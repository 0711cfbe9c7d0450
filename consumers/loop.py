"""The shared consumer loop: a consumer group, offsets committed only after the handler succeeded, a stop on
``--max``, on an idle timeout or on SIGTERM/SIGINT (finishing the record in hand, then committing).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

__all__ = ["ConsumeOptions", "consume"]

Handler = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class ConsumeOptions:
    """How long and from where to read. ``idle_timeout`` counts from the group join or the last record."""

    bootstrap: str
    topic: str
    group: str
    from_beginning: bool = False
    max_messages: int | None = None
    idle_timeout: float | None = None
    poll_ms: int = 500


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


def consume(options: ConsumeOptions, handle: Handler) -> int:
    """Feed each record to ``handle`` and commit its offset after the handler returned; returns records handled."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(
        options.topic,
        bootstrap_servers=options.bootstrap,
        group_id=options.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if options.from_beginning else "latest",
        client_id=f"newsmon-{options.group}",
    )
    flag = _StopFlag()
    previous = _install(flag)
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
                    handle(record)
                    handled += 1
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
        consumer.close()
    return handled
