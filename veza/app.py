"""Composition root: builds the Quart-Trio app from settings and the services it serves."""

from __future__ import annotations

import os
import socket

import trio
from quart_schema import Info, QuartSchema
from quart_trio import QuartTrio

import veza
from veza.config import Settings
from veza.library import Library
from veza.nursery.jobs import Workers
from veza.nursery.periodic import PeriodicTask
from veza.store import Store
from veza.transcode import TranscodeOptions
from veza.transport import hls, system
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
    app.register_blueprint(hls.blueprint)
    return app


def build_services(settings: Settings, store: Store, secret: str) -> Services:
    """Every long-lived service, built once per process from settings and the store."""
    # Shared by every job: CPU-bound work (decode, resample, analysis) never exceeds the cores.
    cpu_limiter = trio.CapacityLimiter(os.cpu_count() or 1)
    library = Library(
        store,
        settings.media_dir,
        transcode_options=TranscodeOptions(
            target_lufs=settings.loudness_target_lufs, apply_gain=settings.loudness_apply_gain
        ),
        cpu_limiter=cpu_limiter,
        max_attempts=settings.job_max_attempts,
        on_queued=lambda: workers.wake(),
    )
    workers = Workers(
        store.jobs,
        library.job_kinds(),
        count=settings.worker_count,
        instance=f"{socket.gethostname()}:{os.getpid()}",
        recover_all_running=settings.database_backend == "sqlite",
    )
    return Services(settings=settings, store=store, secret=secret, library=library, workers=workers)


def periodic_tasks(context: Services) -> list[PeriodicTask]:
    """Housekeeping that the supervisor runs every period for the life of the process."""
    return []
