"""Playlists: playlists, their entries and collaborators, export and import, the play queue."""

from veza.playlists.permissions import Action, Relation, Visibility, allowed, may_play
from veza.playlists.service import (
    EntryView,
    Export,
    Imported,
    Playlists,
    PlaylistView,
    Unmatched,
)
from veza.store.playlists import CollaboratorRow, QueueRow

__all__ = [
    "Action",
    "CollaboratorRow",
    "EntryView",
    "Export",
    "Imported",
    "PlaylistView",
    "Playlists",
    "QueueRow",
    "Relation",
    "Unmatched",
    "Visibility",
    "allowed",
    "may_play",
]
