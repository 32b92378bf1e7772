"""What happens to sessions, as events on the user's topic `user:{id}` (see veza/events).

Published after the commit that revoked the sessions, so every WebSocket of a revoked session
closes at once, in every process (through the event bus and its relay)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from veza.events import Event, topic


def user_topic(user_id: str) -> str:
    return topic("user", user_id)


@dataclass(frozen=True)
class SessionRevoked(Event):
    """Sessions of `user_id` are revoked: the one named by `session_id`, or, when it is None,
    every session of the user but `except_session_id` (a password change keeps the session
    that made it)."""

    type: ClassVar[str] = "session.revoked"
    user_id: str
    session_id: str | None = None
    except_session_id: str | None = None

    def ends(self, session_id: str) -> bool:
        """Whether the session `session_id` (of this user) is among those revoked."""
        if self.session_id is not None:
            return self.session_id == session_id
        return self.except_session_id != session_id
