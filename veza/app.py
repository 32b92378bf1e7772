"""Composition root: builds the Quart-Trio app from settings and the services it serves."""

from __future__ import annotations

import os
import socket

import trio
from quart_schema import HttpSecurityScheme, Info, QuartSchema
from quart_trio import QuartTrio

import veza
from veza.accounts import Accounts
from veza.accounts.passwords import PasswordHasher
from veza.accounts.policy import common_passwords
from veza.accounts.resets import PasswordResets
from veza.config import Settings
from veza.library import Library
from veza.mail import mail_sender
from veza.nursery.jobs import Workers
from veza.nursery.periodic import PeriodicTask
from veza.store import Store
from veza.transcode import TranscodeOptions
from veza.transport import auth, hls, system, tracks
from veza.transport.context import Services
from veza.transport.guard import install_guard
from veza.transport.http import install_http_edge
from veza.transport.ratelimit import AuthLimits


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
        security_schemes={"bearer": HttpSecurityScheme(scheme="bearer", bearer_format="JWT")},
    )
    install_http_edge(app, context.settings)
    install_guard(app)
    app.register_blueprint(system.blueprint)
    app.register_blueprint(hls.blueprint)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(tracks.blueprint)
    return app


def build_services(settings: Settings, store: Store, secret: str) -> Services:
    """Every long-lived service, built once per process from settings and the store."""
    common_passwords()  # loaded now rather than by the first registration's request
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        concurrency=settings.password_hash_concurrency,
    )
    accounts = Accounts(settings, store.accounts, hasher, secret)
    resets = PasswordResets(
        store.accounts, mail_sender(settings), settings.password_reset_ttl_seconds
    )
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
        upload_dir=settings.upload_dir,
        on_queued=lambda: workers.wake(),
        on_deleted=lambda track_id: workers.cancel(track_id),
    )
    workers = Workers(
        store.jobs,
        library.job_kinds(),
        count=settings.worker_count,
        instance=f"{socket.gethostname()}:{os.getpid()}",
        recover_all_running=settings.database_backend == "sqlite",
    )
    return Services(
        settings=settings,
        store=store,
        secret=secret,
        accounts=accounts,
        password_resets=resets,
        auth_limits=AuthLimits(settings),
        library=library,
        workers=workers,
    )


def periodic_tasks(context: Services) -> list[PeriodicTask]:
    """Housekeeping that the supervisor runs every period for the life of the process."""
    return [
        PeriodicTask(
            "purge expired sessions and reset tokens",
            context.settings.account_cleanup_interval_seconds,
            context.accounts.purge_expired,
        ),
        PeriodicTask(
            "remove orphaned media and abandoned uploads",
            context.settings.orphan_cleanup_interval_seconds,
            context.library.remove_orphans,
        ),
    ]
