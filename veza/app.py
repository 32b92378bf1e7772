"""Composition root: builds the Quart-Trio app from settings and the services it serves."""

from __future__ import annotations

from quart_schema import Info, QuartSchema
from quart_trio import QuartTrio

import veza
from veza.config import Settings
from veza.nursery.periodic import PeriodicTask
from veza.store import Store
from veza.transport import system
from veza.transport.context import Services
from veza.transport.http import install_http_edge


def create_app(context: Services) -> QuartTrio:
    app = QuartTrio("veza")
    app.extensions["veza"] = context
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = True
    QuartSchema(
        app,
        openapi_path="/api/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path="/api/docs",
        info=Info(title="Veza", version=veza.__version__),
    )
    install_http_edge(app, context.settings.max_json_bytes)
    app.register_blueprint(system.blueprint)
    return app


def build_services(settings: Settings, store: Store, secret: str) -> Services:
    """Every long-lived service, built once per process from settings and the store."""
    return Services(settings=settings, store=store, secret=secret)


def periodic_tasks(context: Services) -> list[PeriodicTask]:
    """Housekeeping that the supervisor runs every period for the life of the process."""
    return []
