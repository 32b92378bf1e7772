"""The HTTP edge over real sockets: health, status, metrics, request ids, the error shape."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator

import pytest
import trio
from quart import request

import veza
from tests.support import eventually
from tests.support.server import RunningServer, assert_error


async def test_health_answers_ok(server: RunningServer) -> None:
    response = await server.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_status_reports_database_version_and_uptime(server: RunningServer) -> None:
    response = await server.client.get("/status")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "jobs": "ok"}
    assert body["jobs"] == {"queued": 0, "running": 0, "done": 0, "failed": 0}
    assert body["version"] == veza.__version__
    assert isinstance(body["uptime_s"], float) and body["uptime_s"] >= 0


async def test_status_is_503_naming_the_database_when_it_is_unusable(
    server: RunningServer,
) -> None:
    database = server.store.database
    await database.aclose()  # type: ignore[attr-defined]
    response = await server.client.get("/status")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["database"].startswith("database:")


async def test_request_id_is_generated_or_kept_when_sane(server: RunningServer) -> None:
    generated = await server.client.get("/health")
    kept = await server.client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    insane = await server.client.get("/health", headers={"X-Request-ID": "x" * 500})
    fresh = [response.headers["x-request-id"] for response in (generated, insane)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in fresh), fresh
    assert fresh[0] != fresh[1]


async def test_unknown_route_and_wrong_method_use_the_error_shape(server: RunningServer) -> None:
    assert_error(await server.client.get("/api/no/such/thing"), 404, "not_found")
    assert_error(await server.client.delete("/health"), 405, "method_not_allowed")


async def test_malformed_json_is_400_and_oversized_json_is_413(server: RunningServer) -> None:
    app = server.app

    async def echo() -> dict[str, object]:
        return {"got": await request.get_json()}

    app.add_url_rule("/test/echo", "echo", echo, methods=["POST"])
    headers = {"Content-Type": "application/json"}
    ok = await server.client.post("/test/echo", content=b'{"a": 1}', headers=headers)
    assert ok.json() == {"got": {"a": 1}}
    bad = await server.client.post("/test/echo", content=b'{"a": ', headers=headers)
    assert_error(bad, 400, "malformed_json")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit still holds
        yield b'{"a": "'
        for _ in range(server.settings.max_json_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    streamed = await server.client.post("/test/echo", content=chunks(), headers=headers)
    assert_error(streamed, 413, "payload_too_large")
    big = json.dumps({"a": "x" * (server.settings.max_json_bytes + 10)}).encode()
    assert_error(
        await server.client.post("/test/echo", content=big, headers=headers),
        413,
        "payload_too_large",
    )


async def test_unexpected_exception_is_500_without_internals(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode() -> str:
        raise RuntimeError("secret internal detail")

    server.app.add_url_rule("/test/explode", "explode", explode)
    response = await server.client.get("/test/explode")
    assert_error(response, 500, "internal_error")
    assert "secret" not in response.text
    # The internals go to the log instead, under the request's id.
    (logged,) = [r for r in caplog.records if r.getMessage() == "unhandled RuntimeError"]
    assert logged.levelno == logging.ERROR and logged.exc_info is not None
    assert str(logged.exc_info[1]) == "secret internal detail"
    assert getattr(logged, "request_id", None) == response.headers["x-request-id"]


async def test_metrics_count_requests_by_route_template_and_status(server: RunningServer) -> None:
    await server.client.get("/health")
    await server.client.get("/api/missing")
    text = (await server.client.get("/metrics")).text
    assert 'veza_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "veza_http_request_duration_seconds_bucket" in text
    job = await server.store.jobs.enqueue("no-such-kind", "x")  # fails when claimed
    server.services.workers.wake()  # as whatever queues a job in this process does

    async def failed() -> bool:
        found = await server.store.jobs.get(job.id)
        return found is not None and found.status == "failed"

    await eventually(failed)
    text = (await server.client.get("/metrics")).text
    assert 'veza_jobs{status="failed"} 1.0' in text
    assert 'veza_jobs{status="queued"} 0.0' in text


async def test_health_answers_while_a_slow_request_is_in_flight(server: RunningServer) -> None:
    arrived = trio.Event()
    release = trio.Event()

    async def slow() -> str:
        arrived.set()
        await release.wait()
        return "done"

    server.app.add_url_rule("/test/slow", "slow", slow)
    async with trio.open_nursery() as nursery:
        results: list[int] = []

        async def call_slow() -> None:
            results.append((await server.client.get("/test/slow")).status_code)

        nursery.start_soon(call_slow)
        with trio.fail_after(5):
            await arrived.wait()  # the slow request is in its handler
            assert (await server.client.get("/health")).status_code == 200
        assert results == []  # the slow one is still waiting
        release.set()
    assert results == [200]


async def test_openapi_document_is_served(server: RunningServer) -> None:
    response = await server.client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Veza"


async def test_undecodable_or_too_deeply_nested_json_is_400_not_500(server: RunningServer) -> None:
    headers = {"Content-Type": "application/json"}
    not_utf8 = b'{"login":"\xff\xfe","password":"x"}'
    too_deep = b"[" * 100_000
    for body in (not_utf8, too_deep):
        response = await server.client.post("/api/v1/auth/login", content=body, headers=headers)
        assert_error(response, 400, "malformed_json")
