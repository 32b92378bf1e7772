"""What happens to a playlist and a play queue, as events (see veza/events).

`playlist.changed` goes to `playlist:{id}` (whoever has the playlist open) and to `user:{id}`
of its owner and collaborators (their sockets hear it without subscribing), after the commit.
Events cross processes through PostgreSQL NOTIFY (8000 bytes at most): they carry ids, never
titles or names, and at most `MAX_IDS` of them; a client refetches the playlist for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from veza.events import Event, topic

MAX_IDS = 64  # 64 ids of 32 characters, quoted: about 2.3 KB, well inside NOTIFY's limit


def playlist_topic(playlist_id: str) -> str:
    return topic("playlist", playlist_id)


def user_topic(user_id: str) -> str:
    return topic("user", user_id)


class Change:
    """What a `playlist.changed` says happened."""

    CREATED = "created"
    DETAILS = "details"  # name, description or visibility (`fields` says which)
    ENTRIES_ADDED = "entries_added"
    ENTRY_REMOVED = "entry_removed"
    ENTRY_MOVED = "entry_moved"
    TRACK_REMOVED = "track_removed"  # a deleted track's entries went with it
    COLLABORATORS = "collaborators"  # `user_ids`: whose role was set or removed
    OWNER = "owner"  # `user_ids`: the new owner
    DELETED = "deleted"


@dataclass(frozen=True)
class PlaylistChanged(Event):
    """The playlist is now at `version`; `change` says what happened, with the ids involved
    (`entry_ids` empty with `truncated` when there were more than MAX_IDS)."""

    type: ClassVar[str] = "playlist.changed"
    playlist_id: str
    version: int
    change: str
    by: str | None  # the account that made the change (None: the system)
    entry_ids: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    truncated: bool = False


def playlist_changed(
    playlist_id: str,
    version: int,
    change: str,
    by: str | None,
    *,
    entry_ids: list[str] | None = None,
    user_ids: list[str] | None = None,
    fields: list[str] | None = None,
) -> PlaylistChanged:
    entries = entry_ids or []
    truncated = len(entries) > MAX_IDS
    return PlaylistChanged(
        playlist_id,
        version,
        change,
        by,
        entry_ids=[] if truncated else entries,
        user_ids=(user_ids or [])[:MAX_IDS],
        fields=fields or [],
        truncated=truncated,
    )


@dataclass(frozen=True)
class QueueChanged(Event):
    """The account's play queue was saved (from `changed_by`): other devices may refetch it."""

    type: ClassVar[str] = "queue.changed"
    user_id: str
    changed_by: str
    updated_at: float
