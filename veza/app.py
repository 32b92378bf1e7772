"""Composition root: builds the domain services from settings and the store, and the Quart-Trio
app that serves them."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

import trio
from quart_schema import HttpSecurityScheme, Info, QuartSchema
from quart_trio import QuartTrio

import veza
from veza.accounts import Accounts
from veza.accounts.mail import mail_sender
from veza.accounts.passwords import PasswordHasher
from veza.accounts.policy import common_passwords
from veza.accounts.resets import PasswordResets
from veza.chat import Chat, ChatBounds
from veza.config import Settings
from veza.events import EventBus
from veza.events.postgres_relay import PostgresRelay, new_process_id
from veza.nursery.jobs import Workers
from veza.nursery.periodic import PeriodicTask
from veza.playlists import Playlists
from veza.services import Health, Services
from veza.store import Store
from veza.tracks import HlsCache, MediaLayout, Tracks, TranscodeJobs
from veza.tracks.albums import Albums
from veza.tracks.covers import CoverLayout
from veza.tracks.integrity import MediaCheck
from veza.tracks.quota import Quotas
from veza.tracks.scan import Scans
from veza.tracks.stats import Stats
from veza.transcode import TranscodeOptions, find_ffmpeg
from veza.transport import docs, hls
from veza.transport.api import (
    accounts,
    admin,
    albums,
    conversations,
    playlists,
    stats,
    system,
    tracks,
)
from veza.transport.context import Edge, install_edge
from veza.transport.cors import install_cors
from veza.transport.guard import install_guard
from veza.transport.http import install_http_edge
from veza.transport.openapi import TAGS, VezaOpenAPI
from veza.transport.proxy import install_forwarded_headers
from veza.transport.web import install_web
from veza.transport.ws import install_websocket


def create_app(services: Services) -> QuartTrio:
    app = QuartTrio("veza")
    edge = Edge.for_services(services)
    install_edge(app, edge)
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = True
    QuartSchema(
        app,
        openapi_path="/api/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,  # ours, served offline: veza/transport/docs.py
        info=Info(
            title="Veza",
            version=veza.__version__,
            description="Self-hosted audio platform. Errors are always an `ErrorBody`.",
        ),
        tags=list(TAGS),
        security_schemes={"bearer": HttpSecurityScheme(scheme="bearer", bearer_format="JWT")},
        openapi_provider_class=VezaOpenAPI,
    )
    hls.install_fast_path(app, edge)  # inside the forwarded headers: it sees their outcome
    install_websocket(app, edge)  # likewise
    install_forwarded_headers(app, services.settings)
    install_http_edge(app, services.settings)
    install_cors(app, services.settings)  # before the guard: a preflight carries no token
    install_guard(app)
    app.register_blueprint(docs.blueprint)
    app.register_blueprint(system.blueprint)
    app.register_blueprint(hls.blueprint)
    app.register_blueprint(accounts.blueprint)
    app.register_blueprint(tracks.blueprint)
    app.register_blueprint(albums.blueprint)
    app.register_blueprint(playlists.blueprint)
    app.register_blueprint(conversations.blueprint)
    app.register_blueprint(stats.blueprint)
    app.register_blueprint(admin.blueprint)
    install_web(app)  # last: it answers only what no route above matched
    return app


def build_services(
    settings: Settings, store: Store, secret: str, clock: Callable[[], float] = time.time
) -> Services:
    """Every long-lived service, built once per process from settings and the store, all
    reading the time from `clock` (tests pass one they move by hand)."""
    common_passwords()  # loaded now rather than by the first registration's request
    relay = event_relay(settings, store)
    events = EventBus(relay=relay)
    accounts = Accounts(
        settings, store, PasswordHasher.configured(settings), secret, clock, events=events
    )
    resets = PasswordResets(
        store.accounts, mail_sender(settings), settings.password_reset_ttl_seconds, clock
    )
    media = MediaLayout(settings.media_dir)
    # Shared by every job: CPU-bound work (decode, resample, analysis) never exceeds the cores.
    cpu_limiter = trio.CapacityLimiter(os.cpu_count() or 1)
    options = TranscodeOptions(
        target_lufs=settings.loudness_target_lufs,
        apply_gain=settings.loudness_apply_gain,
        ffmpeg=find_ffmpeg(settings.ffmpeg_path),
    )
    hls_cache = HlsCache(settings.hls_cache_bytes, settings.hls_check_ttl_seconds)
    jobs = TranscodeJobs(
        store, media, options, cpu_limiter, events, settings.ladder, on_settled=hls_cache.stale
    )
    workers = Workers(
        store,
        [jobs.kind()],
        count=settings.worker_count,
        instance=f"{socket.gethostname()}:{os.getpid()}",
        recover_all_running=settings.database_backend == "sqlite",
    )
    tracks = Tracks(
        store,
        media,
        workers,
        secret=secret,
        stream_token_ttl_s=settings.stream_token_ttl_seconds,
        upload_dir=settings.upload_dir,
        max_attempts=settings.job_max_attempts,
        transcode_options=options,
        cpu_limiter=cpu_limiter,
        ladder=settings.ladder,
        clock=clock,
        hls_cache=hls_cache,
        cover_layout=(covers := CoverLayout(settings.media_dir, settings.covers_dir)),
        default_visibility=settings.default_visibility,
        events=events,
        # `playlist_service` is made below, with these tracks; called once both exist.
        removed_from_playlists=lambda removals, by: playlist_service.track_removed(removals, by),
    )
    playlist_service = Playlists(
        store,
        tracks,
        events,
        max_entries=settings.playlist_max_entries,
        export_token_ttl_s=settings.export_token_ttl_seconds,
        covers_dir=settings.playlist_covers_dir,
        cpu_limiter=cpu_limiter,
        clock=clock,
    )
    chat = Chat(
        store,
        events,
        ChatBounds(
            edit_window_s=settings.chat_edit_window_seconds,
            resume_max=settings.chat_resume_max_messages,
            group_max_members=settings.chat_group_max_members,
        ),
        clock,
    )
    scans = Scans(
        store,
        tracks,
        workers,
        events,
        settings.music_folders,
        max_attempts=settings.job_max_attempts,
        visibility=settings.music_folder_visibility,
        store_cover=tracks.store_cover,
        clock=clock,
    )
    workers.register(scans.kind())
    return Services(
        settings=settings,
        accounts=accounts,
        password_resets=resets,
        tracks=tracks,
        playlists=playlist_service,
        workers=workers,
        events=events,
        relay=relay,
        chat=chat,
        scans=scans,
        quotas=Quotas(
            store, settings.data_dir, settings.storage_quota_bytes, settings.min_free_disk_bytes
        ),
        stats=Stats(store, tracks, clock),
        media_check=MediaCheck(
            store, media, workers, max_attempts=settings.job_max_attempts, clock=clock
        ),
        health=Health(store),
        clock=clock,
        albums=Albums(store, covers, cpu_limiter),
    )


def event_relay(settings: Settings, store: Store) -> PostgresRelay | None:
    """With PostgreSQL, the relay that makes the processes sharing the database one hub;
    with SQLite (one process) none."""
    if settings.database_backend != "postgresql":
        return None
    from veza.store.notify import PostgresNotifications

    process_id = new_process_id()
    name = f"veza events {socket.gethostname()}:{os.getpid()} {process_id}"
    notifications = PostgresNotifications(
        store.database, settings.database_url, application_name=name
    )
    return PostgresRelay(notifications, process_id=process_id)


def periodic_tasks(services: Services) -> list[PeriodicTask]:
    """Housekeeping that runs every period for the life of the process."""
    return [
        PeriodicTask(
            "purge expired sessions and reset tokens",
            services.settings.account_cleanup_interval_seconds,
            services.accounts.purge_expired,
        ),
        PeriodicTask(
            "remove orphaned media and abandoned uploads",
            services.settings.orphan_cleanup_interval_seconds,
            services.tracks.remove_orphans,
        ),
        PeriodicTask(
            "scan the music folders",
            services.settings.scan_interval_seconds,
            services.scans.request,
        ),
        PeriodicTask(
            "check the media against the store",
            services.settings.media_check_interval_seconds,
            services.media_check.run,
        ),
    ]
