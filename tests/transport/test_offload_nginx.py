"""Offload to nginx: the configuration of docs/deployment.md, run by a real nginx in front of
Veza with `offload = "x-accel"`, plays a track; Veza checks every request, nginx sends the
segments, and the internal location cannot be asked for directly."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import m3u8
import pytest
import trio

from tests.support import require_tool
from tests.support.accounts import fast_settings
from tests.support.server import serving
from tests.support.tracks import wait_for_track, write_music
from veza.config import Settings
from veza.tracks.playback import sign

DEPLOYMENT = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
ORIGIN = "https://app.example"


def documented_site(veza: str, media_dir: Path, port: int) -> str:
    """The nginx block of docs/deployment.md, with its three installation lines (and the port it
    listens on) pointed at this test's servers."""
    (block,) = re.findall(r"```nginx\n(.*?)```", DEPLOYMENT.read_text(), re.S)
    replacements = {
        "    listen 80;\n": f"    listen 127.0.0.1:{port};\n",
        "    listen [::]:80;\n": "",
        "    server 127.0.0.1:8080;\n": f"    server {veza};\n",
        "        alias /var/lib/veza/media/;\n": f"        alias {media_dir}/;\n",
    }
    for old, new in replacements.items():
        assert block.count(old) == 1, f"docs/deployment.md no longer has {old!r}"
        block = block.replace(old, new)
    return block


def main_config(prefix: Path, site: Path) -> str:
    """A whole nginx.conf for a child process: every path it writes in `prefix`."""
    # As root, the workers would switch to `nobody`, which cannot read the test's data dir.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 128; }}
http {{
    access_log {prefix / "access.log"};
    default_type application/octet-stream;
{temp}
    include {site};
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def nginx(prefix: Path, veza: str, media_dir: Path) -> Iterator[str]:
    """nginx as a child process with the documented site; yields its base URL."""
    binary = require_tool("nginx")
    prefix.mkdir()
    for attempt in range(5):  # the free port may be taken between the check and the bind
        port = free_port()
        site = prefix / "veza.conf"
        site.write_text(documented_site(veza, media_dir, port))
        config = prefix / "nginx.conf"
        config.write_text(main_config(prefix, site))
        command = [binary, "-e", str(prefix / "error.log"), "-c", str(config), "-p", str(prefix)]
        checked = subprocess.run(
            [*command, "-t"], capture_output=True, text=True, timeout=30, check=False
        )
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while process.poll() is None and time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.5).close()
                    break
                except OSError:
                    time.sleep(0.05)
            if process.poll() is not None:
                if attempt < 4 and b"Address already in use" in (process.stderr or b"").read():
                    continue
                pytest.fail(f"nginx did not start: {(prefix / 'error.log').read_text()}")
            yield f"http://127.0.0.1:{port}"
            return
        finally:
            if process.poll() is None:
                process.terminate()  # SIGTERM: nginx's fast shutdown
                process.wait(10)
            if process.stderr is not None:
                process.stderr.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(
        tmp_path,
        offload="x-accel",
        trusted_proxies="127.0.0.1",
        cors_origins=ORIGIN,
    )


@pytest.mark.slow
async def test_a_track_plays_through_nginx_with_segments_offloaded(
    settings: Settings, tmp_path: Path
) -> None:
    require_tool("ffmpeg")
    require_tool("nginx")
    async with serving(settings) as server:
        track = await server.services.tracks.import_file(write_music(tmp_path / "a.wav", 9))
        ready = await wait_for_track(server, track.id)
        assert ready.status == "ready"
        media_dir = server.services.tracks.media.media_dir
        hls = server.services.tracks.media.hls_dir(track.id, ready.generation)
        token = sign(server.secret, track.id, int(time.time()) + 600)
        veza = server.url.removeprefix("http://")
        with nginx(tmp_path / "nginx", veza, media_dir) as proxy:
            master_url = f"{proxy}/hls/{track.id}/{ready.generation}/master.m3u8?token={token}"
            master = m3u8.load(str(hls / "master.m3u8"))
            variant = master.playlists[0]
            rendition = variant.uri.split("/")[0]
            media = m3u8.load(str(hls / variant.uri))

            # A player decodes the master over nginx to the playlist's length.
            result = await trio.run_process(
                ["ffmpeg", "-v", "error", "-i", master_url, "-map", "0:a:0", "-f", "s16le", "-"],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
            assert result.returncode == 0, result.stderr.decode()
            expected = round(sum(segment.duration for segment in media.segments) * 44100)
            assert len(result.stdout) // 4 == expected

            async with httpx.AsyncClient(base_url=proxy, timeout=10) as client:
                # Every segment through nginx is the file, with Veza's type and caching.
                for segment in media.segments:
                    url = f"/hls/{track.id}/{ready.generation}/{rendition}/{segment.uri}"
                    response = await client.get(
                        url, params={"token": token}, headers={"Origin": ORIGIN}
                    )
                    assert response.status_code == 200
                    assert response.content == (hls / rendition / segment.uri).read_bytes()
                    assert response.headers["server"].startswith("nginx")
                    assert response.headers["content-type"] in ("audio/aac", "audio/mpeg")
                    assert "immutable" in response.headers["cache-control"]
                    assert response.headers["access-control-allow-origin"] == ORIGIN
                    assert response.headers["x-request-id"]

                # Ranges come with nginx's file serving.
                first = f"/hls/{track.id}/{ready.generation}/{rendition}/{media.segments[0].uri}"
                part = await client.get(
                    first, params={"token": token}, headers={"Range": "bytes=0-9"}
                )
                assert (
                    part.status_code == 206
                    and part.content == (hls / rendition / media.segments[0].uri).read_bytes()[:10]
                )

                # Veza still checks every request: a bad token is its JSON refusal.
                refused = await client.get(first, params={"token": "1.forged"})
                assert refused.status_code == 403
                assert refused.json()["error"]["code"] == "forbidden"
                other = sign(server.secret, "f" * 24, int(time.time()) + 600)
                assert (await client.get(first, params={"token": other})).status_code == 403

                # The media directory itself is not reachable from outside.
                relative = (hls / rendition / media.segments[0].uri).relative_to(media_dir)
                direct = await client.get(f"/internal-media/{relative.as_posix()}")
                assert direct.status_code == 404
                secret = await client.get("/internal-media/../secret.key")
                assert secret.status_code in (400, 404)
                assert server.secret not in secret.text
