"""Near-duplicate grouping: the same story from several outlets within a time window becomes one alert.

Two matched stories are near-duplicates when their titles' cosine reaches a threshold and they were published
within a window of each other. The first story of a group (by publication time) leads it: its alert carries
the group id (its own story id) and the other outlets seen in the same cycle. A story that joins a group whose
alert went out in an earlier cycle raises no new alert. On the recorded headlines, reposts of one story score
0.95–1.0 and rephrasings 0.90–0.95, while different events with similar wording ("semiconductor sales rose N %"
in two different months) stay below 0.90, hence the default threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from models.encoder import Vectors
from newsmon.story import Story

__all__ = ["DEFAULT_COSINE", "DEFAULT_WINDOW", "Grouping", "Recent", "group_near_duplicates"]

DEFAULT_COSINE = 0.90
DEFAULT_WINDOW = timedelta(hours=72)


class Recent(Protocol):
    """A story matched in an earlier cycle, as a store keeps it for grouping: any object with these fields."""

    @property
    def story_id(self) -> str: ...
    @property
    def group_id(self) -> str: ...
    @property
    def published(self) -> datetime: ...
    @property
    def vector(self) -> Vectors: ...


@dataclass(slots=True)
class Grouping:
    """Per story of this cycle: its group id; which stories lead (alert) and who else is in their group;
    which joined an earlier cycle's group (no alert)."""

    group_of: dict[str, str] = field(default_factory=dict)
    members: dict[str, list[Story]] = field(default_factory=dict)
    joined_earlier: set[str] = field(default_factory=set)
    vectors: dict[str, Vectors] = field(default_factory=dict)

    def leads(self, story_id: str) -> bool:
        return story_id in self.members


def group_near_duplicates(
    stories: Sequence[Story],
    vectors: Vectors,
    recent: Sequence[Recent],
    cosine: float = DEFAULT_COSINE,
    window: timedelta = DEFAULT_WINDOW,
) -> Grouping:
    """Group this cycle's matched stories (``vectors``: their unit title embeddings, same order) with each other
    and with ``recent`` ones: each story joins the most similar earlier story within the window, if any."""
    grouping = Grouping()
    known_ids = [r.story_id for r in recent]
    known_groups = [r.group_id for r in recent]
    known_times = [r.published for r in recent]
    known_vectors = [r.vector for r in recent]
    earlier = set(known_groups)
    order = sorted(range(len(stories)), key=lambda i: (stories[i].published, stories[i].id))
    for index in order:
        story = stories[index]
        if story.id in grouping.group_of:
            continue  # the same story matched for two seeds
        group = _closest_group(
            vectors[index], story.published, known_vectors, known_times, known_groups, cosine, window
        )
        if group is None:
            grouping.members[story.id] = []
            group = story.id
        elif group in earlier:
            grouping.joined_earlier.add(story.id)
        else:
            grouping.members[group].append(story)
        grouping.group_of[story.id] = group
        grouping.vectors[story.id] = vectors[index]
        known_ids.append(story.id)
        known_groups.append(group)
        known_times.append(story.published)
        known_vectors.append(vectors[index])
    return grouping


def _closest_group(
    vector: Vectors,
    published: datetime,
    vectors: list[Vectors],
    times: list[datetime],
    groups: list[str],
    cosine: float,
    window: timedelta,
) -> str | None:
    """The group of the most similar known story published within ``window``, if it reaches ``cosine``."""
    if not vectors:
        return None
    similarities = np.asarray(vectors) @ vector
    best, found = cosine, None
    for position, similarity in enumerate(similarities):
        if similarity >= best and abs(times[position] - published) <= window:
            best, found = float(similarity), groups[position]
    return found
