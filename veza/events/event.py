"""Event records: the typed base class, its JSON form and the registry that decodes it by type.

Domain packages define their events as frozen dataclasses with a unique `type`:

    @dataclass(frozen=True)
    class TrackProgress(Event):
        type: ClassVar[str] = "track.progress"
        track_id: str
        fraction: float

Fields must be JSON values (str, int, float, bool, None, lists and dicts of them), so an event
can cross to another process and come back equal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

# Every concrete event class by its `type`; filled as classes are defined.
_REGISTRY: dict[str, type[Event]] = {}


@dataclass(frozen=True)
class Event:
    """Base of every event; subclasses declare `type` (e.g. `"track.ready"`) and their fields."""

    type: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (without `type`, which names the class)."""
        return dataclasses.asdict(self)


def _register(cls: type[Event]) -> None:
    name = cls.__dict__.get("type")
    if not isinstance(name, str) or not name:
        raise TypeError(f"event class {cls.__qualname__} must declare its own `type` string")
    known = _REGISTRY.get(name)
    # dataclass(slots=True) re-creates the class (qualname not yet set): not a clash.
    if known is not None and _named(known) != _named(cls):
        raise TypeError(f"event type {name!r} is already used by {_named(known)}")
    _REGISTRY[name] = cls


def _named(cls: type) -> str:
    return f"{cls.__module__}.{cls.__name__}"


def decode_event(name: str, data: Mapping[str, Any]) -> Event:
    """The event of type `name` built from `data` (as made by `to_dict`); ValueError if the
    type is unknown or the fields do not match."""
    cls = _REGISTRY.get(name)
    if cls is None:
        raise ValueError(f"unknown event type {name!r}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ValueError(f"event {name!r} does not match its fields: {exc}") from None
