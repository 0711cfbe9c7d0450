"""The replay flow: score the stories kept from recent cycles against today's seeds and topics, and alert
what now matches and never alerted before (a new seed, or edited topics, catching up on the recent past)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.monitor import as_is, cycle_settings, deliver_outbox, load_task
from models.scoring import Scorer
from newsmon import pipeline
from newsmon.config import Settings
from newsmon.errors import ConfigError, DeliveryError
from newsmon.store import Store, open_store

__all__ = ["replay_stories", "replay_task"]


@task(name="replay: embed and match", cache_policy=NO_CACHE)
def replay_task(
    store: Store, scorer: Scorer, settings: Settings, run_id: str, since: datetime, seed: str | None
) -> pipeline.Recorded:
    logger = get_run_logger()
    total = store.count_kept(since)
    return pipeline.replay(
        store, scorer, settings, run_id, since, seed, lambda done: logger.info("replayed %d of %d stories", done, total)
    )


@flow(name="newsmon-replay", retries=0, validate_parameters=True)
def replay_stories(
    config_file: str | None = None,
    since: datetime | None = None,
    seed: str | None = None,
    kafka_bootstrap: str | None = None,
) -> dict[str, Any]:
    """Replay the kept stories recorded since ``since`` (all kept ones if None), for every seed or one;
    ``kafka_bootstrap`` is the broker the caller started when none is configured."""
    logger = get_run_logger()
    settings = cycle_settings(config_file, kafka_bootstrap)
    store = open_store(settings)
    scorer = load_task(as_is(settings))
    seeds = [ts.seed for ts in scorer.topic_sets]
    if seed is not None and seed not in seeds:
        raise ConfigError(f"no seed {seed!r} with a topics file; the seeds are: {', '.join(seeds)}")
    oldest = store.oldest_kept()
    start = since or datetime.fromtimestamp(0, UTC)  # no window: every story kept
    if since is not None and oldest is not None and since < oldest:
        logger.warning(
            "stories are kept %g days (story_retention_days): the oldest kept was recorded %s",
            settings.story_retention_days,
            f"{oldest:%Y-%m-%d %H:%M} UTC",
        )
    run_id = str(flow_run.get_id() or "local")
    recorded = replay_task(as_is(store), as_is(scorer), as_is(settings), run_id, start, seed)
    store.register_seeds(seeds)
    delivered, undelivered = deliver_outbox(store, settings)
    line = (
        f"replayed {recorded.scored} stories against {seed or ', '.join(seeds)}: {len(recorded.matches)} new "
        f"matches ({recorded.grouped} folded into near-duplicate groups), {recorded.known} already alerted before, "
        f"{delivered} delivered, {undelivered} waiting in the outbox"
    )
    logger.info(line)
    if undelivered:
        raise DeliveryError(f"{undelivered} alert(s) wait in the outbox: Kafka did not acknowledge them")
    return {
        "summary": line,
        "scored": recorded.scored,
        "matches": len(recorded.matches),
        "grouped": recorded.grouped,
        "known": recorded.known,
        "delivered": delivered,
    }
