"""What happens to a track, as events on its topic `track:{id}` (see veza/events)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from veza.events import Event, topic


def track_topic(track_id: str) -> str:
    return topic("track", track_id)


@dataclass(frozen=True)
class TrackAdded(Event):
    """A track of `owner_id` is in the library and its transcode queued; published on the
    owner's topic `user:{id}`, so their open sockets follow its progress on `track:{id}`."""

    type: ClassVar[str] = "track.added"
    track_id: str
    owner_id: str


@dataclass(frozen=True)
class TrackProgress(Event):
    """A transcode moved on; `fraction` of it is done (reported at most twice a second)."""

    type: ClassVar[str] = "track.progress"
    track_id: str
    fraction: float


@dataclass(frozen=True)
class TrackReady(Event):
    """The transcode's result is committed: the track plays."""

    type: ClassVar[str] = "track.ready"
    track_id: str
    duration_s: float


@dataclass(frozen=True)
class TrackFailed(Event):
    """The track cannot be transcoded; `reason` says why, in words for people."""

    type: ClassVar[str] = "track.failed"
    track_id: str
    reason: str
