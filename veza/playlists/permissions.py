"""Who may do what with a playlist: the one table, by relation, action and visibility.

A caller stands in one or more relations to a playlist: its owner, a collaborator (editor or
viewer), a moderator, and always `anyone` (any signed-in account). An action is allowed when
one of those relations allows it at the playlist's visibility; anything the table does not
name is refused. Whether a caller may play a track (entry availability, export, import,
queue) is `may_play`, the one place that asks the tracks' own rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from veza.accounts import Permission, Principal
from veza.store.tracks import Track
from veza.tracks.visibility import can_see


class Visibility(StrEnum):
    PRIVATE = "private"  # its owner and collaborators
    UNLISTED = "unlisted"  # anyone with the link
    PUBLIC = "public"  # listed for every account


class Relation(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"
    MODERATOR = "moderator"
    ANYONE = "anyone"


class Action(StrEnum):
    READ = "read"  # the playlist, its entries and collaborators; subscribe to its changes
    EXPORT = "export"  # an M3U of signed stream URLs
    EDIT_ENTRIES = "edit_entries"  # add, remove, move
    EDIT_DETAILS = "edit_details"  # name, description, visibility
    SHARE = "share"  # invite collaborators, change or remove them
    TRANSFER = "transfer"  # hand the playlist to another account
    LEAVE = "leave"  # a collaborator removes themself
    DELETE = "delete"


COLLABORATOR_ROLES = (Relation.EDITOR, Relation.VIEWER)

_ALL = frozenset(Visibility)
_SHARED = frozenset({Visibility.UNLISTED, Visibility.PUBLIC})

RULES: dict[Action, dict[Relation, frozenset[Visibility]]] = {
    Action.READ: {
        Relation.OWNER: _ALL,
        Relation.EDITOR: _ALL,
        Relation.VIEWER: _ALL,
        Relation.MODERATOR: _SHARED,
        Relation.ANYONE: _SHARED,
    },
    Action.EXPORT: {
        Relation.OWNER: _ALL,
        Relation.EDITOR: _ALL,
        Relation.VIEWER: _ALL,
        Relation.MODERATOR: _SHARED,
        Relation.ANYONE: _SHARED,
    },
    Action.EDIT_ENTRIES: {Relation.OWNER: _ALL, Relation.EDITOR: _ALL},
    Action.EDIT_DETAILS: {Relation.OWNER: _ALL},
    Action.SHARE: {Relation.OWNER: _ALL},
    Action.TRANSFER: {Relation.OWNER: _ALL},
    Action.LEAVE: {Relation.EDITOR: _ALL, Relation.VIEWER: _ALL},
    # A moderator removes what others can see; a private playlist is its owner's business.
    Action.DELETE: {Relation.OWNER: _ALL, Relation.MODERATOR: _SHARED},
}


def allowed(relations: Iterable[Relation], action: Action, visibility: Visibility) -> bool:
    """Deny by default: only what the table names for one of `relations` is allowed."""
    granted = RULES.get(action, {})
    return any(visibility in granted.get(relation, frozenset()) for relation in relations)


def relations_of(
    principal: Principal, owner_id: str, collaborator_role: str | None
) -> frozenset[Relation]:
    """Every relation `principal` stands in to a playlist owned by `owner_id`, in which it is a
    collaborator with `collaborator_role` (None: it is not)."""
    found = {Relation.ANYONE}
    if principal.user.id == owner_id:
        found.add(Relation.OWNER)
    if collaborator_role in COLLABORATOR_ROLES:
        found.add(Relation(collaborator_role))
    if principal.can(Permission.MODERATE):
        found.add(Relation.MODERATOR)
    return frozenset(found)


def may_play(principal: Principal, track: Track) -> bool:
    """Whether `principal` may play `track`: the one question every playlist feature asks
    (entry availability, covers, export, import matching, the queue), answered by the
    tracks' own rule (veza/tracks/visibility.py) and the stream permission."""
    return principal.can(Permission.STREAM) and can_see(principal, track)
