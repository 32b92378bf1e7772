"""The services a request handler may reach, attached to the Quart app by the composition root."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from quart import current_app

from veza.accounts import Accounts
from veza.accounts.resets import PasswordResets
from veza.config import Settings
from veza.library import Library
from veza.nursery.jobs import Workers
from veza.store import Store
from veza.transport.metrics import Metrics
from veza.transport.ratelimit import AuthLimits


@dataclass
class Services:
    settings: Settings
    store: Store
    secret: str
    accounts: Accounts
    password_resets: PasswordResets
    auth_limits: AuthLimits
    library: Library
    workers: Workers
    metrics: Metrics = field(default_factory=Metrics)
    started_at: float = field(default_factory=time.monotonic)


def services() -> Services:
    found: Services = current_app.extensions["veza"]
    return found
