"""Who sees a track: the one rule every read path applies (by id, in lists, for playback, the
original, the waveform and covers), and who may change one.

- `public`: every account, guests included;
- `unlisted`: any signed-in account that holds its id or link (the `see_unlisted` permission:
  every role but guest), never listed or found by search, except by its owner;
- `private`: its owner, moderators and admins.

A track the caller may not see is answered as if it did not exist (404), so its id reveals
nothing. Lists show public tracks and the caller's own: other people's private tracks stay out
of a moderator's library too (they are reached by id)."""

from __future__ import annotations

from veza.accounts import Permission, Principal
from veza.errors import ValidationFailed
from veza.store.tracks import PRIVATE, PUBLIC, UNLISTED, VISIBILITIES, Shown, Track

__all__ = [
    "PRIVATE",
    "PUBLIC",
    "UNLISTED",
    "VISIBILITIES",
    "can_edit",
    "can_see",
    "checked_visibility",
    "is_listed",
    "listed_for",
]


def can_see(principal: Principal | None, track: Track) -> bool:
    """May `principal` (None: nobody signed in) read, play or download `track`?"""
    if track.visibility == PUBLIC:
        return True
    if principal is None:
        return False
    if track.owner_id is not None and track.owner_id == principal.user.id:
        return True
    if principal.can(Permission.MODERATE):
        return True
    return track.visibility == UNLISTED and principal.can(Permission.SEE_UNLISTED)


def listed_for(principal: Principal | None) -> Shown:
    """Which tracks the lists, the search, the albums and the artists show `principal`: public
    ones, and their own whatever their visibility. (Every track listed is one `can_see`
    admits.)"""
    return Shown((PUBLIC,), None if principal is None else principal.user.id)


def checked_visibility(visibility: str) -> str:
    """A visibility a client gave: one of VISIBILITIES, else ValidationFailed."""
    if visibility not in VISIBILITIES:
        raise ValidationFailed(f"visibility: one of {', '.join(VISIBILITIES)}")
    return visibility


def is_listed(principal: Principal | None, track: Track) -> bool:
    """Whether `listed_for(principal)` includes `track`: for lists built outside SQL (top
    tracks from play counts)."""
    shown = listed_for(principal)
    return track.visibility in shown.visibilities or (
        shown.owner_id is not None and track.owner_id == shown.owner_id
    )


def can_edit(principal: Principal, track: Track) -> bool:
    """Tags, visibility, cover: the owner, a moderator or an admin."""
    owns = track.owner_id is not None and track.owner_id == principal.user.id
    return owns or principal.can(Permission.MODERATE)
