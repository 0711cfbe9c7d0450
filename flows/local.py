"""Flow runs called in this process (``newsmon run``, ``serve`` without a server, ``replay``), not started by a
worker from a deployment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.settings import Settings

__all__ = ["in_process"]

_QUIET: list[tuple[Settings, Settings]] = []  # (the settings in force, the same without heartbeats): the last pair


@contextmanager
def in_process() -> Iterator[None]:
    """Flow runs in the block send no heartbeats. Prefect's heartbeats let a server tell that a deployment's
    run crashed; a run called here ends with its caller, so they tell nobody anything. And they cost: when a
    run ends, the engine joins the heartbeat thread, which sleeps in whole seconds, so every run waited 0.5 s
    on average (up to 1 s) for nothing: most of Prefect's share of a warm 2,000-story cycle (0.48 s of 5.1 s),
    and of a cycle with nothing new. A served deployment's runs keep them.

    The settings without heartbeats are made once per settings in force, not per block: Prefect validates its
    whole settings tree again to make them (about 20 ms), which ``serve`` paid every cycle."""
    from prefect.context import SettingsContext, get_settings_context

    context = get_settings_context()
    with SettingsContext(profile=context.profile, settings=_without_heartbeats(context.settings)):
        yield


def _without_heartbeats(settings: Settings) -> Settings:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

    if not _QUIET or _QUIET[0][0] is not settings:
        _QUIET[:] = [(settings, settings.copy_with_update(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}))]
    return _QUIET[0][1]
