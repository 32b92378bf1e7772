"""Schemathesis against the real server on its loopback port: every operation of the served
document, with data that fits the schema and data that does not, anonymous, as a user and as an
admin. What the server answers must be no 5xx, with a documented status, a documented content
type and a body of the documented schema.

The cases are the same on every run (derandomised); VEZA_FUZZ_SEED=<n> explores others, and
VEZA_FUZZ_EXAMPLES=<n> sets how many cases each operation gets per identity and mode.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import trio
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core.failures import Failure, FailureGroup

from tests.support import require_tool
from tests.support.accounts import PASSWORD, bearer, fast_settings, make_admin, register
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track, write_music
from veza.config import Settings
from veza.tracks import Track

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("VEZA_FUZZ_EXAMPLES", "10"))
SEED = int(os.environ.get("VEZA_FUZZ_SEED", "0"))
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]
# Operations that end the session they are called with: each case gets a session of its own.
SESSION_ENDERS = {"POST /api/v1/auth/logout", "DELETE /api/v1/me/sessions/{session_id}"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, max_upload_bytes=4 * 1024 * 1024)


@dataclass
class Identity:
    name: str
    login: str | None = None
    token: str | None = None
    # Ids of real things, so that some cases reach past "not found".
    known: dict[str, str] = field(default_factory=dict)

    def headers(self, base_url: str, label: str) -> dict[str, str]:
        if self.login is None or self.token is None:
            return {}
        if label in SESSION_ENDERS:
            response = requests.post(
                f"{base_url}/api/v1/auth/login",
                json={"login": self.login, "password": PASSWORD},
                timeout=10,
            )
            response.raise_for_status()
            return bearer(response.json()["access_token"])
        return bearer(self.token)


class Fuzz:
    """Every operation, for each identity, in both modes, collecting what the checks find."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.failures: list[str] = []
        self.sent = 0
        # (identity, operation) -> statuses answered
        self.answers: defaultdict[tuple[str, str], Counter[int]] = defaultdict(Counter)
        self.operations: list[str] = []

    def run(self, identities: list[Identity]) -> None:
        schema = schemathesis.openapi.from_url(f"{self.base_url}/api/openapi.json", timeout=10)
        # Deletions last: the admin's removes the track that the other operations read.
        operations = sorted(
            (result.ok() for result in schema.get_all_operations()),
            key=lambda operation: (operation.method.upper() == "DELETE", operation.label),
        )
        self.operations = [operation.label for operation in operations]
        for identity in identities:
            for operation in operations:
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    strategy = operation.as_strategy(generation_mode=mode)
                    known = {
                        name: value
                        for name, value in identity.known.items()
                        if f"{{{name}}}" in operation.path
                    }
                    if known and mode.is_positive:
                        with_known = operation.as_strategy(
                            generation_mode=mode, path_parameters=known
                        )
                        strategy = st.one_of(strategy, with_known)
                    try:
                        run_cases(strategy, self.caller(identity, mode))
                    except Unsatisfiable:
                        # Nothing to make invalid (no parameters, no body): no negative cases.
                        assert mode.is_negative, operation.label

    def caller(self, identity: Identity, mode: GenerationMode) -> Callable[[Case], None]:
        def call(case: Case) -> None:
            headers = identity.headers(self.base_url, case.operation.label)
            self.sent += 1
            try:
                response = case.call(session=self.session, headers=headers)
                self.answers[identity.name, case.operation.label][response.status_code] += 1
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (Failure, FailureGroup, requests.RequestException) as error:
                curl = case.as_curl_command(headers=headers)
                self.failures.append(f"[{identity.name}, {mode}] {error!r}\n{curl}")

        return call


def run_cases(strategy: st.SearchStrategy[Case], call: Callable[[Case], None]) -> None:
    test: Any = given(case=strategy)(call)
    test = hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=SEED == 0,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(test)
    if SEED:
        test = seed(SEED)(test)
    test()


async def ready_track(server: RunningServer, token: str, tmp_path: Path) -> Track:
    """A public track on an album, so the user may read and play it and its album and artist
    routes reach past "not found"."""
    path = write_music(tmp_path / "fuzz.wav", 2)
    with path.open("rb") as file:
        response = await server.client.post(
            "/api/v1/tracks",
            files={"file": (path.name, file, "audio/wav")},
            data={"visibility": "public", "artist": "Fuzz", "album": "Cases"},
            headers=bearer(token),
        )
    assert response.status_code == 202, response.text
    track = await wait_for_track(server, response.json()["id"])
    assert track.status == "ready", track.error
    return track


async def test_schemathesis_finds_no_failure_in_any_operation(
    server: RunningServer, tmp_path: Path
) -> None:
    require_tool("ffmpeg")
    admin = await make_admin(server, "root")
    user = await register(server.client, "listener")
    track = await ready_track(server, admin["access_token"], tmp_path)
    # The admin's own track: the user may read and play it, not delete it. The admin goes last,
    # as it may disable the user, and its deletion of the track comes last of all. A group of
    # the two with one message, so chat cases reach past "not found"; the user's public
    # playlist holding the track twice, so playlist cases do.
    conversation = await server.client.post(
        "/api/v1/conversations",
        json={"kind": "group", "member_ids": [user["user"]["id"]], "title": "fuzz"},
        headers=bearer(admin["access_token"]),
    )
    assert conversation.status_code == 201, conversation.text
    conversation_id = conversation.json()["id"]
    message = await server.client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"body": "hello"},
        headers=bearer(admin["access_token"]),
    )
    assert message.status_code == 201, message.text
    playlist = await server.client.post(
        "/api/v1/playlists",
        json={"name": "fuzzed", "visibility": "public"},
        headers=bearer(user["access_token"]),
    )
    entries = await server.client.post(
        f"/api/v1/playlists/{playlist.json()['id']}/entries/batch",
        json={"track_ids": [track.id, track.id]},
        headers=bearer(user["access_token"]),
    )
    known = {
        "track_id": track.id,
        "user_id": user["user"]["id"],
        "conversation_id": conversation_id,
        "seq": "1",
        "album_id": track.album_id,
        "artist_id": track.artist_id,
        "playlist_id": playlist.json()["id"],
        "entry_id": entries.json()["entries"][0]["id"],
    }
    identities = [
        Identity("anonymous", known=known),
        Identity("user", "listener", user["access_token"], known),
        Identity("admin", "root", admin["access_token"], known),
    ]
    fuzz = Fuzz(server.url)
    await trio.to_thread.run_sync(fuzz.run, identities)
    assert not fuzz.failures, (
        f"{len(fuzz.failures)} failures in {fuzz.sent} requests:\n\n" + "\n\n".join(fuzz.failures)
    )
    spec = (await server.client.get("/api/openapi.json")).json()
    documented = {f"{m.upper()} {path}" for path, item in spec["paths"].items() for m in item}
    assert set(fuzz.operations) == documented
    for identity in identities:
        for label in documented:
            answered = fuzz.answers[identity.name, label]
            assert answered, (identity.name, label)
            if identity.token is not None:
                # Past the guard at least once: the token worked.
                assert set(answered) - {401}, (identity.name, label, answered)
