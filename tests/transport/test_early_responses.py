"""Responses made before the request body has been read must not wedge a keep-alive connection.

Hypercorn 0.18 left the next request on such a connection unanswered about one time in ten
when the body was sent in a write of its own after the head (as requests/urllib3 does) and the
app had answered without reading it (a 401 from the guard, a 404, a 405). Such an answer now
closes the connection."""

from __future__ import annotations

import requests
import trio

from tests.support.server import RunningServer

# Each answered without reading the body: 401 (the guard), 404 (no route), 405 (method).
EARLY = [
    ("PATCH", "/api/v1/admin/users/0123", b"{}"),
    ("POST", "/no/such/route", b"x" * 100),
    ("DELETE", "/health", b"{}"),
]


def send_on_one_session(url: str, calls: list[tuple[str, str, bytes]]) -> list[requests.Response]:
    """Each call in turn on one keep-alive session; a wedged connection raises ReadTimeout."""
    with requests.Session() as session:
        return [
            session.request(
                method,
                f"{url}{path}",
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=3,
            )
            for method, path, body in calls
        ]


async def test_a_keep_alive_connection_survives_answers_made_before_the_body(
    server: RunningServer,
) -> None:
    responses = await trio.to_thread.run_sync(send_on_one_session, server.url, EARLY * 25)
    for response in responses:
        assert response.status_code in (401, 404, 405)
        assert response.headers["Connection"] == "close"


async def test_a_request_whose_body_was_read_keeps_its_connection(server: RunningServer) -> None:
    calls = [("POST", "/api/v1/auth/login", b"{}")] * 3
    responses = await trio.to_thread.run_sync(send_on_one_session, server.url, calls)
    for response in responses:
        assert response.status_code == 422
        assert "Connection" not in response.headers
