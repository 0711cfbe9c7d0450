"""Kafka at the edge: which broker to use, topic creation, and delivering the outbox.

The producer is idempotent with ``acks="all"``, both set explicitly; every send's future is checked, and an
outbox row is marked sent only after the broker acknowledged it. Anything unacknowledged stays in the
outbox for the next cycle, so a broker outage loses no alert. A long-running process keeps the producer of
its last clean delivery for the next one (``PRODUCERS``); a delivery that failed closes its producer.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from newsmon.config import Settings
from newsmon.dev.faults import crash_point
from newsmon.errors import ConfigError, KafkaUnreachableError
from newsmon.messages import OutboxMessage
from newsmon.store import Store

__all__ = [
    "PRODUCERS",
    "DeliveryReport",
    "ProducerLease",
    "ProducerShelf",
    "alert_topics",
    "bootstrap_servers",
    "close_producer",
    "deliver_outbox",
    "ensure_topics",
    "make_producer",
    "probe",
    "unreachable",
]


def bootstrap_servers(settings: Settings) -> str:
    """The configured brokers. Nothing is started here: the commands that use a local broker start it
    themselves, visibly, and pass its address on."""
    if not settings.kafka_bootstrap:
        raise ConfigError(
            "no Kafka broker configured: set kafka_bootstrap (NEWSMON_KAFKA_BOOTSTRAP), or start the local one "
            "with 'newsmon kafka start' and run newsmon's commands, which use it when nothing is set"
        )
    return settings.kafka_bootstrap


def alert_topics(settings: Settings, seed_topic_ids: Sequence[str] = ()) -> list[str]:
    """The topics newsmon writes to: matches, optional stories, DLQ, and the per-seed-topic routes if enabled."""
    names = [t for t in (settings.topic_matches, settings.topic_stories, settings.topic_dlq) if t]
    if settings.topic_per_seed_topic:
        names += [f"{settings.topic_matches}.{topic_id}" for topic_id in seed_topic_ids]
    return names


def unreachable(bootstrap: str, exc: Exception) -> KafkaUnreachableError:
    """What a command says when no broker answers at ``bootstrap`` (kafka-python gives up after 30 s)."""
    return KafkaUnreachableError(
        f"cannot reach Kafka at {bootstrap} ({exc}). Is the broker running? 'newsmon kafka start' starts a local "
        "one; NEWSMON_KAFKA_BOOTSTRAP (or kafka_bootstrap in the config) says where yours is"
    )


def probe(bootstrap: str, timeout: float = 3.0) -> None:
    """Raise ``KafkaUnreachableError`` at once when no bootstrap address accepts a TCP connection.

    kafka-python spends 30 s bootstrapping before it gives up, and a cycle bootstraps twice (topics, then
    producer) on each of its delivery attempts: minutes of waiting and retry logs for a broker that is
    simply not running. One connect per address says the same in milliseconds."""
    refused: list[str] = []
    for address in (a.strip() for a in bootstrap.split(",") if a.strip()):
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=timeout):
                return
        except (OSError, ValueError) as exc:
            refused.append(f"{address}: {getattr(exc, 'strerror', None) or exc}")
    raise unreachable(bootstrap, Exception("; ".join(refused) or "no address given"))


def ensure_topics(bootstrap: str, settings: Settings, seed_topic_ids: Sequence[str] = ()) -> None:
    """Create missing topics with the configured partitions, replication factor and min.insync.replicas (with
    acks=all, a write is acknowledged once that many replicas have it). Existing topics are left as they are."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    names = alert_topics(settings, seed_topic_ids)
    configs = {"min.insync.replicas": str(settings.topic_min_insync_replicas)}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="newsmon-admin")
    try:
        missing = [n for n in names if n not in set(admin.list_topics())]
        if missing:
            topics = [
                NewTopic(n, settings.topic_partitions, settings.topic_replication, topic_configs=configs)
                for n in missing
            ]
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker created it meanwhile
                admin.create_topics(topics)
    finally:
        admin.close()


def make_producer(bootstrap: str, settings: Settings | None = None, client_id: str = "newsmon-producer") -> Any:
    """The one way newsmon makes a producer (the pipeline's, the consumers' dead-letter one): idempotent,
    acks=all, waiting at most the settings' delivery timeout (30 s without settings). kafka-python silently
    drops idempotence on a conflicting setting, so both are set here explicitly and nothing that could
    conflict is. A producer kept between cycles may outlive a broker's restart: it tries to reconnect at least
    once a second (kafka-python's backoff grows to 30 s, which held a kept producer's first delivery after a
    two-minute outage for 27 s)."""
    from kafka import KafkaProducer

    timeout_ms = int((settings.delivery_timeout_seconds if settings else 30.0) * 1000)
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        delivery_timeout_ms=timeout_ms,
        request_timeout_ms=max(1000, min(30000, timeout_ms - 1000)),
        max_block_ms=timeout_ms,
        compression_type=None,
        reconnect_backoff_max_ms=1000,
    )


def close_producer(producer: Any, timeout: float) -> None:
    """Close a producer within ``timeout`` seconds, whatever state it is in, and never raise.

    kafka-python's ``close(timeout)`` flushes first and raises ``KafkaTimeoutError`` when the flush times
    out, before it reaches its own force-close: a wedged producer would leave its I/O thread running (one
    more per cycle in a long-running worker) and turn a delivery report into a traceback. Whatever it
    did not send is still unsent in the outbox, so forcing the close loses nothing.
    """
    from kafka.errors import KafkaError

    try:
        producer.close(timeout=timeout)
    except KafkaError:
        sender = getattr(producer, "_sender", None)  # close() raised before it could force-close its sender
        if sender is not None:
            sender.force_close()
            sender.join(timeout)
        with contextlib.suppress(KafkaError):
            producer.close(timeout=0)


@dataclass(frozen=True, slots=True)
class ProducerLease:
    """A producer lent for one delivery, with what it was made for: its process, broker and delivery timeout
    (``owner``), and the alert topics ensured for it."""

    producer: Any
    owner: tuple[int, str, float]
    topics: frozenset[str]


class ProducerShelf:
    """At most one idle producer, kept from one delivery to the next in a long-running process.

    A fresh producer's first send waits for the cluster's metadata and an idempotent producer id, and its
    topics are checked first: about 0.12 s of every cycle with alerts (a warm 2,000-story cycle takes about
    two seconds), and again on each retry. A producer goes back on the shelf only after a delivery in which
    every send was acknowledged: kafka-python's producer can wedge after a partition leader is killed (no
    future ever completes), so one that saw any failure is closed and the next delivery starts afresh, as
    every delivery did before. A producer made in another process (before a fork) is never used or closed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: ProducerLease | None = None

    def take(self, bootstrap: str, settings: Settings, seed_topic_ids: Sequence[str] = ()) -> ProducerLease:
        """The idle producer when it was made for this process, broker and timeout (its alert topics ensured
        once more if some are new, such as a seed topic added since); otherwise a new one, topics ensured."""
        owner = (os.getpid(), bootstrap, settings.delivery_timeout_seconds)
        topics = frozenset(alert_topics(settings, seed_topic_ids))
        with self._lock:
            idle, self._idle = self._idle, None
        if idle is not None and idle.owner != owner:
            self._discard(idle)
            idle = None
        try:
            if idle is None or not topics <= idle.topics:
                ensure_topics(bootstrap, settings, seed_topic_ids)
        except BaseException:
            if idle is not None:  # taken off the shelf: closed, or its I/O thread would run on unowned
                self._discard(idle)
            raise
        if idle is None:
            return ProducerLease(make_producer(bootstrap, settings), owner, topics)
        return ProducerLease(idle.producer, owner, idle.topics | topics)

    def give_back(self, lease: ProducerLease, clean: bool) -> None:
        """Keep the producer for the next delivery if every send of this one was acknowledged; else close it."""
        if not clean:
            self._discard(lease)
            return
        with self._lock:
            previous, self._idle = self._idle, lease
        if previous is not None:
            self._discard(previous)

    def clear(self) -> None:
        """Close the idle producer, if any (a test starting from a known state; a process about to end)."""
        with self._lock:
            idle, self._idle = self._idle, None
        if idle is not None:
            self._discard(idle)

    @staticmethod
    def _discard(lease: ProducerLease) -> None:
        if lease.owner[0] == os.getpid():  # a parent's producer: its threads do not exist in this process
            close_producer(lease.producer, timeout=5)


PRODUCERS = ProducerShelf()


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int
    failed: int
    error: str | None = None


def _send_batch(producer: Any, messages: Sequence[OutboxMessage], timeout: float) -> tuple[list[int], str | None]:
    from kafka.errors import KafkaError

    futures = []
    error = None
    for message in messages:
        try:
            futures.append(
                (
                    message.id,
                    producer.send(
                        message.topic, key=message.key.encode(), value=message.value, headers=list(message.headers)
                    ),
                )
            )
        except KafkaError as exc:
            error = f"{type(exc).__name__}: {exc}"
            break
    crash_point("pipeline-sent")
    acked = []
    deadline = time.monotonic() + timeout  # one deadline for the batch: a wedged producer costs `timeout`, once
    for message_id, future in futures:
        try:
            future.get(timeout=max(0.0, deadline - time.monotonic()))
        except KafkaError as exc:
            error = error or f"{type(exc).__name__}: {exc}"
            continue
        acked.append(int(message_id or 0))
    return acked, error


def deliver_outbox(store: Store, producer: Any, timeout: float, batch: int = 500) -> DeliveryReport:
    """Send every unsent outbox message, oldest first; mark each sent once acknowledged. Stops at the first
    batch with failures (the broker is likely down) and leaves the rest for the next cycle."""
    sent = failed = 0
    error = None
    done: set[int] = set()
    while True:
        pending = [m for m in store.claim_unsent(batch) if m.id not in done]
        if not pending:
            break
        acked, error = _send_batch(producer, pending, timeout)
        if acked:
            crash_point("pipeline-acked")
        store.mark_sent(acked)
        done.update(acked)
        sent += len(acked)
        if error:
            failed = len(pending) - len(acked)
            store.mark_failed([m.id for m in pending if m.id not in set(acked) and m.id is not None], error)
            break
    return DeliveryReport(sent=sent, failed=failed, error=error)
