"""Outbox delivery when the producer stops answering: one bounded wait per batch, a close that never raises.

kafka-python's producer can wedge after a leader is killed (its futures never complete and its own delivery
timeout never fires); the fault test `test_leader_sigkill_during_10k_publishes_loses_nothing` met it. These
tests pin what newsmon does about it with a producer that behaves the same way, deterministically, and when a
long-running process may lend its last producer to the next delivery.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from kafka.errors import KafkaTimeoutError

from newsmon import kafka_io
from newsmon.config import Settings
from newsmon.kafka_io import ProducerShelf, alert_topics, close_producer, deliver_outbox
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


class CountingProducer:
    """A producer that only says whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    def close(self, timeout: float) -> None:
        self.closed = True


@pytest.fixture
def shelf(monkeypatch: pytest.MonkeyPatch) -> tuple[ProducerShelf, list[CountingProducer], list[list[str]]]:
    """A fresh shelf whose producers are made and topics ensured by fakes: (shelf, producers made, ensures)."""
    made: list[CountingProducer] = []
    ensured: list[list[str]] = []

    def make(bootstrap: str, settings: Settings) -> CountingProducer:
        made.append(CountingProducer())
        return made[-1]

    monkeypatch.setattr(kafka_io, "make_producer", make)
    monkeypatch.setattr(kafka_io, "ensure_topics", lambda b, s, ids=(): ensured.append(alert_topics(s, ids)))
    return ProducerShelf(), made, ensured


def test_a_clean_delivery_leaves_its_producer_for_the_next_and_a_failed_one_closes_it(
    shelf: tuple[ProducerShelf, list[CountingProducer], list[list[str]]], settings_factory
) -> None:  # type: ignore[no-untyped-def]
    producers, made, ensured = shelf
    settings = settings_factory()
    first = producers.take("127.0.0.1:9", settings)
    producers.give_back(first, clean=True)
    second = producers.take("127.0.0.1:9", settings)
    assert second.producer is first.producer and len(made) == 1 and len(ensured) == 1  # no new producer, no check
    producers.give_back(second, clean=False)  # it may be wedged: never lent again
    assert made[0].closed
    third = producers.take("127.0.0.1:9", settings)
    assert third.producer is made[1] and len(ensured) == 2


def test_a_kept_producer_is_for_its_own_broker_and_timeout_and_new_topics_are_created_first(
    shelf: tuple[ProducerShelf, list[CountingProducer], list[list[str]]], settings_factory
) -> None:  # type: ignore[no-untyped-def]
    producers, made, ensured = shelf
    settings = settings_factory(topic_per_seed_topic=True)
    producers.give_back(producers.take("127.0.0.1:9", settings, ["chips"]), clean=True)
    routed = producers.take("127.0.0.1:9", settings, ["chips", "memory"])  # a seed topic added since
    assert routed.producer is made[0] and "newsmon.matches.memory" in ensured[-1]
    producers.give_back(routed, clean=True)
    other = producers.take("127.0.0.1:10", settings, ["chips", "memory"])
    assert other.producer is made[1] and made[0].closed  # another broker: the idle one is closed, not reused
    producers.give_back(other, clean=True)
    slower = producers.take("127.0.0.1:10", settings_factory(delivery_timeout_seconds=99), [])
    assert slower.producer is made[2]  # the producer's own timeouts were made from the old setting


def test_a_forked_child_neither_uses_nor_closes_its_parents_producer(
    shelf: tuple[ProducerShelf, list[CountingProducer], list[list[str]]], settings_factory, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    producers, made, _ = shelf
    settings = settings_factory()
    producers.give_back(producers.take("127.0.0.1:9", settings), clean=True)
    monkeypatch.setattr(kafka_io.os, "getpid", lambda: -1)  # as in a child forked after that delivery
    child = producers.take("127.0.0.1:9", settings)
    assert child.producer is made[1] and not made[0].closed  # closing it would stop the parent's I/O thread


def test_a_kept_producer_whose_new_topics_cannot_be_created_is_closed_not_lost(
    shelf: tuple[ProducerShelf, list[CountingProducer], list[list[str]]], settings_factory, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    producers, made, _ = shelf
    settings = settings_factory(topic_per_seed_topic=True)
    producers.give_back(producers.take("127.0.0.1:9", settings, ["chips"]), clean=True)

    def refuse(*args: object) -> None:
        raise KafkaTimeoutError("no controller")

    monkeypatch.setattr(kafka_io, "ensure_topics", refuse)
    with pytest.raises(KafkaTimeoutError):
        producers.take("127.0.0.1:9", settings, ["chips", "memory"])
    assert made[0].closed  # off the shelf and in no lease: left open, its I/O thread would run for good
