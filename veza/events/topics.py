"""Topic names: `kind:id`, built and checked here so a malformed topic never reaches the bus."""

from __future__ import annotations

TOPIC_KINDS = frozenset(
    {"user", "track", "conversation", "playlist", "room", "library", "presence"}
)
MAX_ID_LENGTH = 128


class InvalidTopic(ValueError):
    """A topic that is not `kind:id` with a known kind and a well-formed id."""


def topic(kind: str, id: str | int) -> str:
    """The topic of one thing, e.g. `topic("track", track_id)` -> `"track:ab12..."`."""
    return check_topic(f"{kind}:{id}")


def check_topic(name: str) -> str:
    """`name` itself if it is a well-formed topic; raises InvalidTopic otherwise.

    Topics also arrive from clients (WebSocket `subscribe` frames), hence the strict form.
    """
    kind, sep, ident = name.partition(":")
    if not sep or kind not in TOPIC_KINDS:
        raise InvalidTopic(f"topic {name!r} is not kind:id with kind one of {sorted(TOPIC_KINDS)}")
    if not _valid_id(ident):
        raise InvalidTopic(
            f"topic {name!r}: the id must be 1 to {MAX_ID_LENGTH} printable characters "
            "without spaces or colons"
        )
    return name


def _valid_id(ident: str) -> bool:
    return (
        0 < len(ident) <= MAX_ID_LENGTH
        and ident.isprintable()
        and ":" not in ident
        and not any(c.isspace() for c in ident)
    )
