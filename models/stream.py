"""What the stream has shown of each seed: the recent stories closest to its article.

An article names its topics once, in its own words; the stories that follow them share the words of the day (a
bill's name, a company's new fab). ``seed.stream`` is closeness to the article's exemplars *and* to these
stories, so a story near them gets credit its distance from the article alone would deny it. Only closeness to
the article picks them (about ``STREAM_FLOOR`` background standard deviations above ordinary news), never the
relevance they raise, so a picked story does not pull in others like it: the pool cannot drift away from the
article. A seed's labels correct its pool: a story labelled core counts fully, whatever its closeness, and one
labelled other not at all (``models.scoring``). The monitor keeps each seed's pool in its store; ``eval`` takes
the labelled file as the stream.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.encoder import Vectors

__all__ = ["STREAM_DAYS", "STREAM_FLOOR", "STREAM_MOST", "STREAM_RAMP", "StreamPool", "joined", "picked", "weight"]

# A story counts fully from STREAM_FLOOR + STREAM_RAMP background standard deviations above ordinary news, not
# at all below STREAM_FLOOR - STREAM_RAMP, by a weight rising linearly between: a hard floor would let one
# story's small change of closeness (another encoder, int8 against fp32) add or drop a pick and move every
# story near it. Measured leave-one-seed-out on both labelled seeds (``scripts/train_transfer.py``).
STREAM_FLOOR = 2.25
STREAM_RAMP = 0.5
STREAM_MOST = 100  # the closest picks a seed keeps: bounds the cost per story; a busier stream keeps closer ones
STREAM_DAYS = 30  # picks older than this are let go, so the words of a past month stop counting


@dataclass(frozen=True, slots=True)
class StreamPool:
    """One seed's picked stories: their ids (a story never counts itself), titles (another encoder reads them
    again), unit title vectors and closeness to the article (in background standard deviations: what ranks
    them)."""

    ids: tuple[str, ...]
    titles: tuple[str, ...]
    vectors: Vectors
    closeness: npt.NDArray[np.float64]

    @classmethod
    def empty(cls, dimension: int) -> StreamPool:
        return cls((), (), np.zeros((0, dimension), dtype=np.float32), np.zeros(0))

    @classmethod
    def picks_of(
        cls, ids: Sequence[str], titles: Sequence[str], vectors: Vectors, closeness: npt.NDArray[np.float64]
    ) -> StreamPool:
        """The picks among stories (``picked``: by their closeness to the article), in their order."""
        mine = picked(closeness)
        return cls(tuple(ids[i] for i in mine), tuple(titles[i] for i in mine), vectors[mine], closeness[mine])

    def __len__(self) -> int:
        return len(self.ids)

    def joined(self, newer: StreamPool, most: int = STREAM_MOST) -> StreamPool:
        """This pool and newer picks (a story picked again takes its newer reading): the ``most`` closest."""
        ids, titles = [*self.ids, *newer.ids], [*self.titles, *newer.titles]
        vectors = np.vstack([self.vectors, newer.vectors.reshape(len(newer), self.vectors.shape[1])])
        closeness = np.concatenate([self.closeness, newer.closeness])
        last = {story: i for i, story in enumerate(ids)}  # a story's newest reading
        rows = np.asarray(sorted(last.values()), dtype=np.intp)
        keep = np.sort(rows[np.argsort(-closeness[rows], kind="stable")[: max(most, 0)]])
        return StreamPool(tuple(ids[i] for i in keep), tuple(titles[i] for i in keep), vectors[keep], closeness[keep])

    def without(self, titles: Container[str]) -> StreamPool:
        """This pool less the stories whose title (lower case) is in ``titles``."""
        keep = [i for i, title in enumerate(self.titles) if title.lower() not in titles]
        rows = np.asarray(keep, dtype=np.intp)
        return StreamPool(
            tuple(self.ids[i] for i in keep),
            tuple(self.titles[i] for i in keep),
            self.vectors[rows],
            self.closeness[rows],
        )


def picked(closeness: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Which stories join the pool: those whose closeness to the article gives them a weight, in their order."""
    return np.flatnonzero(weight(closeness) > 0)


def weight(closeness: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """How much a pick counts, from its closeness to the article: 0 up to the ramp's foot, 1 from its top."""
    low = STREAM_FLOOR - STREAM_RAMP
    result: npt.NDArray[np.float64] = np.clip((np.asarray(closeness, dtype=np.float64) - low) / (2 * STREAM_RAMP), 0, 1)
    return result


def joined(pools: Mapping[str, StreamPool], newer: Mapping[str, StreamPool]) -> dict[str, StreamPool]:
    """Every seed's pool with its newer picks."""
    result = dict(pools)
    for seed, pool in newer.items():
        result[seed] = (result.get(seed) or StreamPool.empty(pool.vectors.shape[1])).joined(pool)
    return result
