"""Outbox delivery when the producer stops answering: one bounded wait per batch, a close that never raises.

kafka-python's producer can wedge after a leader is killed (its futures never complete and its own delivery
timeout never fires); the fault test `test_leader_sigkill_during_10k_publishes_loses_nothing` met it. These
tests pin what newsmon does about it with a producer that behaves the same way, deterministically.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from kafka.errors import KafkaTimeoutError

from newsmon.kafka_io import close_producer, deliver_outbox
from newsmon.messages import OutboxMessage
from newsmon.store import SQLiteStore


class NeverDone:
    """A send future of a wedged producer: each wait takes the whole timeout it is given, then fails."""

    def __init__(self, waits: list[float]) -> None:
        self.waits = waits

    def get(self, timeout: float) -> None:
        self.waits.append(timeout)
        time.sleep(timeout)
        raise KafkaTimeoutError(f"Timeout after waiting for {timeout} secs.")


class WedgedSender(threading.Thread):
    """kafka-python's I/O thread, stuck: it ends only when force-closed."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.forced = threading.Event()

    def run(self) -> None:
        self.forced.wait(30)

    def force_close(self) -> None:
        self.forced.set()


class WedgedProducer:
    """Accepts every send and acknowledges none; ``close`` raises like kafka-python's when its flush times
    out, before it would force-close its sender."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._sender = WedgedSender()
        self._sender.start()
        self.closed = False

    def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> NeverDone:
        return NeverDone(self.waits)

    def close(self, timeout: float) -> None:
        if self._sender.is_alive():
            raise KafkaTimeoutError("Timeout waiting for future")
        self.closed = True


def _outbox(tmp_path: Path, n: int) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "state.db")
    store.queue(
        OutboxMessage(message_id=f"{i:032x}:s", key=f"{i:032x}", topic="t", value=b"{}", headers=()) for i in range(n)
    )
    return store


def test_a_wedged_producer_costs_one_timeout_per_batch_not_one_per_message(tmp_path: Path) -> None:
    store = _outbox(tmp_path, 50)
    producer = WedgedProducer()
    report = deliver_outbox(store, producer, timeout=0.5, batch=50)
    assert report.sent == 0 and report.failed == 50 and "Timeout" in (report.error or "")
    assert sum(producer.waits) <= 0.5  # a wait per message would hold a cycle for 50 timeouts
    assert store.outbox_counts() == (0, 50)  # every alert still waits for the next cycle
    close_producer(producer, timeout=1)


def test_closing_a_wedged_producer_does_not_raise_and_stops_its_io_thread() -> None:
    producer = WedgedProducer()
    close_producer(producer, timeout=1)
    assert not producer._sender.is_alive()  # a long-running worker would leak one thread per cycle
    assert producer.closed
