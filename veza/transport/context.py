"""What a request handler may reach: the domain services, and the edge's own state (metrics,
rate limits), attached to the Quart app by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from quart import current_app
from quart_trio import QuartTrio

from veza.services import Services
from veza.transport.metrics import Metrics
from veza.transport.ratelimit import AuthLimits, ChatRateLimits

_KEY = "veza"


@dataclass
class Edge:
    services: Services
    metrics: Metrics
    auth_limits: AuthLimits
    chat_limits: ChatRateLimits

    @classmethod
    def for_services(cls, services: Services) -> Edge:
        return cls(
            services,
            Metrics(),
            AuthLimits(services.settings, services.clock),
            ChatRateLimits(services.settings, services.clock),
        )


def install_edge(app: QuartTrio, edge: Edge) -> None:
    app.extensions[_KEY] = edge


def edge() -> Edge:
    found: Edge = current_app.extensions[_KEY]
    return found


def services() -> Services:
    return edge().services
