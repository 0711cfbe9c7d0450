"""Reading a topic's raw records in tests (keys, headers, values as published), with a fresh consumer group."""

from __future__ import annotations

import time
import uuid
from typing import Any


def read_records(bootstrap: str, topic: str, idle: float = 4.0, group: str | None = None) -> list[Any]:
    """Every record of ``topic`` from the beginning, until nothing new arrived for ``idle`` seconds."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group or f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    records: list[Any] = []
    last = time.monotonic()
    try:
        while time.monotonic() - last < idle or not consumer.assignment():
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
                last = time.monotonic()
            if time.monotonic() - last > 60:
                break
        if group:
            consumer.commit()
    finally:
        consumer.close()
    return records


def wait_for_stories(bootstrap: str, topic: str, wanted: set[str], timeout: float) -> set[str]:
    """The story ids of the records on ``topic`` (from the beginning), once every one of ``wanted`` is there or
    ``timeout`` seconds have passed, whichever comes first."""
    import json

    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    found: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while not wanted <= found and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                found |= {json.loads(record.value)["story"]["id"] for record in batch}
    finally:
        consumer.close()
    return found
