"""Serving benchmark: HLS listeners against Veza and against a static file server, same run.

    ./scripts/bench serve                          # N = 50 and 500, two runs each
    ./scripts/bench serve --listeners 50 --runs 3 --seconds 15

What is served: a few music-like tracks transcoded by Veza itself (`veza serve` + `veza import`,
default ladder), so both servers send the very same files. Veza serves them through its signed
HLS routes (`/hls/{track}/{generation}/...?token=...`, the token checked on every request); the
peer is Starlette's `StaticFiles` on uvicorn (one worker) over the same media directory, with no
token at all. Every server is a child process pinned to one core (`--server-cpu`); the load
generator runs on the other (`--client-cpu`).

The load generator is wrk (C, epoll; `apt-get install wrk`) driven by a Lua script: a Python
client would need more CPU per request than the servers under test and would measure itself.
wrk keeps one request in flight per connection (closed loop, as a player fetching segment after
segment as fast as it can). N listeners: listener i plays track i mod T, variant i mod V (every
variant of the master in turn), starting at a segment of its own; each asks for the master, its
media playlist, then its segments in a loop. wrk's Lua state is per thread, not per connection,
so the script deals listeners' next requests out to connections in turn: the mix and the order
of each listener's requests are those of N players; which socket carries which listener is not
fixed (it does not matter to a server that keeps no per-connection state).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from _children import ROOT, child, clean_env, cpu_ns, free_port, pinned, wait_for_url

sys.path.insert(0, str(ROOT))

from veza.tracks.playback import sign

RATE = 44100


def write_music(path: Path, seconds: float, seed: int) -> None:
    """Chords under an envelope with a little noise: cheap to make, not trivial to encode."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    notes = rng.uniform(110, 660, 6)
    left = sum(0.08 * np.sin(2 * np.pi * f * t) for f in notes[:3])
    right = sum(0.08 * np.sin(2 * np.pi * f * t) for f in notes[3:])
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 0.2 * t)
    audio = np.stack([left * envelope, right * envelope], axis=1)
    audio += rng.normal(0, 0.01, audio.shape)
    sf.write(path, audio.astype(np.float32), RATE, subtype="PCM_16")


def veza_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "veza", *args]


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


@dataclass(frozen=True)
class Library:
    data_dir: Path
    secret: str
    tracks: list[tuple[str, int, list[tuple[str, int, str]]]]  # id, generation, variants

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"


def prepare_library(work: Path, count: int, seconds: float) -> Library:
    """Transcode `count` tracks with Veza itself (its own server's workers), then stop it."""
    data_dir = work / "data"
    log = work / "prepare.log"
    sources = []
    for index in range(count):
        source = work / f"track{index}.wav"
        write_music(source, seconds, seed=index)
        sources.append(source)
    env = clean_env()
    with child(veza_command("serve", "--port", "0", "--data-dir", str(data_dir)), log, env) as p:
        wait_for_url(p, log)
        imported = subprocess.run(
            veza_command("import", "--data-dir", str(data_dir), *map(str, sources)),
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        ids = [line.split()[0] for line in imported.stdout.splitlines() if line.strip()]
        database = data_dir / "veza.db"
        deadline = time.monotonic() + 600
        while True:
            with sqlite3.connect(database) as db:
                rows = db.execute(
                    f"SELECT id, status, generation FROM tracks WHERE id IN "
                    f"({','.join('?' * len(ids))})",
                    ids,
                ).fetchall()
            if all(status != "processing" for _, status, _ in rows) and len(rows) == len(ids):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the tracks were not transcoded in time")
            time.sleep(0.5)
    if any(status != "ready" for _, status, _ in rows):
        raise RuntimeError(f"a transcode failed: {rows}")
    tracks = []
    for track_id, _, generation in rows:
        hls = data_dir / "media" / track_id / "hls" / str(generation)
        master = (hls / "master.m3u8").read_text()
        variants = []
        for uri in [line for line in master.splitlines() if line and not line.startswith("#")]:
            media = (hls / uri).read_text()
            segments = [line for line in media.splitlines() if line and not line.startswith("#")]
            rendition = uri.split("/")[0]
            variants.append((rendition, len(segments), segments[0].rsplit(".", 1)[1]))
        tracks.append((track_id, generation, variants))
    secret = (data_dir / "secret.key").read_text().strip()
    return Library(data_dir, secret, tracks)


@dataclass(frozen=True)
class Listener:
    master: str
    media: str
    segment_prefix: str
    segment_suffix: str
    segments: int
    first: int


def listeners_for(library: Library, count: int, server: str) -> list[Listener]:
    """The N listeners' paths on `server` (veza: signed HLS routes; static: the files)."""
    found = []
    expires = int(time.time()) + 86_400
    for index in range(count):
        track_id, generation, variants = library.tracks[index % len(library.tracks)]
        rendition, segments, extension = variants[(index // len(library.tracks)) % len(variants)]
        if server == "veza":
            token = sign(library.secret, track_id, expires)
            base, query = f"/hls/{track_id}/{generation}", f"?token={token}"
        else:
            base, query = f"/media/{track_id}/hls/{generation}", ""
        found.append(
            Listener(
                master=f"{base}/master.m3u8{query}",
                media=f"{base}/{rendition}/index.m3u8{query}",
                segment_prefix=f"{base}/{rendition}/",
                segment_suffix=f".{extension}{query}",
                segments=segments,
                first=(index * 7) % segments,
            )
        )
    return found


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_script(listeners: list[Listener]) -> str:
    rows = ",\n".join(
        "{"
        + ", ".join(
            [
                _lua_string(item.master),
                _lua_string(item.media),
                _lua_string(item.segment_prefix),
                _lua_string(item.segment_suffix),
                str(item.segments),
                str(item.first),
            ]
        )
        + "}"
        for item in listeners
    )
    return f"""
local listeners = {{
{rows}
}}
local count = #listeners
local turn = 0
local step = {{}}

request = function()
  local i = turn % count + 1
  turn = turn + 1
  local s = step[i] or 0
  step[i] = s + 1
  local l = listeners[i]
  local path
  if s == 0 then
    path = l[1]
  elseif s == 1 then
    path = l[2]
  else
    path = l[3] .. ((l[6] + s - 2) % l[5]) .. l[4]
  end
  return wrk.format("GET", path)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {{"requests": %d, "bytes": %d, "duration_us": %d, "p50_us": %d, '
    .. '"p90_us": %d, "p99_us": %d, "max_us": %d, "errors": %d}}\\n',
    summary.requests, summary.bytes, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclass(frozen=True)
class Result:
    server: str
    listeners: int
    run: int
    requests_s: float
    mb_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    load: float
    cpu_us: float  # the server's CPU time per request (all its threads)
    cpu_share: float  # the part of its core the server had (1.0: all of it)


def run_wrk(
    url: str, listeners: list[Listener], seconds: float, cpu: str | None, work: Path
) -> dict[str, int]:
    script = work / "listeners.lua"
    script.write_text(wrk_script(listeners))
    command = [
        "wrk",
        "-t1",
        f"-c{len(listeners)}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(pinned(cpu, command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON "))
    figures: dict[str, int] = json.loads(line.removeprefix("BENCH_JSON "))
    return figures


@contextmanager
def serve(
    name: str, library: Library, work: Path, cpu: str | None
) -> Iterator[tuple[str, list[int]]]:
    """One server under test, pinned to `cpu`; yields its base URL and process ids."""
    log = work / f"{name}.log"
    if name in ("veza", "veza-nginx", "veza-before"):
        command = veza_command("serve", "--port", "0", "--data-dir", str(library.data_dir))
        env, code = clean_env(), ROOT
        if name == "veza-before":  # another checkout's code (--before), same venv and data
            code = Path(os.environ["VEZA_BENCH_BEFORE"])
            env["PYTHONPATH"] = str(code)
        if name == "veza-nginx":
            env.update(VEZA_OFFLOAD="x-accel", VEZA_TRUSTED_PROXIES="127.0.0.1")
        with child(pinned(cpu, command), log, env, code) as process:
            url = wait_for_url(process, log)
            if name != "veza-nginx":
                yield url, [process.pid]
                return
            with nginx(work, url.removeprefix("http://"), library.media_dir, cpu) as proxy:
                proxy_url, proxy_pid = proxy
                yield proxy_url, [process.pid, proxy_pid]
        return
    port = free_port()
    loop, http = {"starlette": ("asyncio", "h11"), "starlette-uvloop": ("uvloop", "httptools")}[
        name
    ]
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--static-peer",
        str(library.media_dir),
        "--port",
        str(port),
        "--loop",
        loop,
        "--http",
        http,
    ]
    with child(pinned(cpu, command), log, clean_env()) as process:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}", [process.pid]


@contextmanager
def nginx(work: Path, veza: str, media_dir: Path, cpu: str | None) -> Iterator[tuple[str, int]]:
    """nginx with the site of docs/deployment.md (one worker) in front of Veza."""
    prefix = work / "nginx"
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir()
    port = free_port()
    block = re.findall(r"```nginx\n(.*?)```", (ROOT / "docs" / "deployment.md").read_text(), re.S)[
        0
    ]
    for old, new in {
        "    listen 80;\n": f"    listen 127.0.0.1:{port};\n",
        "    listen [::]:80;\n": "",
        "    server 127.0.0.1:8080;\n": f"    server {veza};\n",
        "        alias /var/lib/veza/media/;\n": f"        alias {media_dir}/;\n",
    }.items():
        block = block.replace(old, new)
    (prefix / "veza.conf").write_text(block)
    temp = "".join(
        f"{kind}_temp_path {prefix / kind}; "
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1; pid {prefix / 'nginx.pid'}; error_log {prefix / 'error.log'};\n"
        + "events { worker_connections 4096; }\n"
        + f"http {{ access_log off; {temp} include {prefix / 'veza.conf'}; }}\n"
    )
    command = ["nginx", "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")]
    command += ["-p", str(prefix), "-g", "daemon off;"]
    with child(pinned(cpu, command), work / "nginx.log", clean_env()) as process:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}", process.pid


def static_peer(directory: str, port: int, loop: str, http: str) -> None:
    """Starlette's StaticFiles on uvicorn, one worker, the same files under /media."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    app = Starlette(routes=[Mount("/media", StaticFiles(directory=directory))])
    uvicorn.run(app, host="127.0.0.1", port=port, loop=loop, http=http, log_level="warning")


def measure(
    name: str,
    library: Library,
    count: int,
    run: int,
    args: argparse.Namespace,
    work: Path,
) -> Result:
    server_kind = "veza" if name.startswith("veza") else "static"
    listeners = listeners_for(library, count, server_kind)
    with serve(name, library, work, args.server_cpu) as (url, pids):
        run_wrk(url, listeners, args.warmup, args.client_cpu, work)  # page cache, memory
        load = os.getloadavg()[0]
        before = cpu_ns(pids)
        figures = run_wrk(url, listeners, args.seconds, args.client_cpu, work)
        used_ns = cpu_ns(pids) - before
    seconds = figures["duration_us"] / 1e6
    return Result(
        server=name,
        listeners=count,
        run=run,
        requests_s=figures["requests"] / seconds,
        mb_s=figures["bytes"] / seconds / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=figures["errors"],
        load=load,
        cpu_us=used_ns / 1000 / figures["requests"],
        cpu_share=used_ns / 1e9 / seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", default="50,500", help="comma-separated N (50,500)")
    parser.add_argument("--runs", type=int, default=2, help="measurements of each server per N")
    parser.add_argument("--seconds", type=int, default=10, help="length of a measurement")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured load first")
    parser.add_argument("--tracks", type=int, default=4, help="tracks in the library")
    parser.add_argument("--track-seconds", type=float, default=60.0, help="length of each")
    parser.add_argument(
        "--peers", default="starlette", help="starlette (asyncio, h11), starlette-uvloop"
    )
    parser.add_argument(
        "--offload",
        action="store_true",
        help="also Veza behind nginx with offload = x-accel (docs/deployment.md); CPU of both",
    )
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="also measure the veza package found in DIR (e.g. an older commit exported with "
        "git archive COMMIT veza | tar -x -C DIR), as veza-before",
    )
    parser.add_argument("--server-cpu", default="0", help="taskset CPU list for the servers")
    parser.add_argument("--client-cpu", default="1", help="taskset CPU list for wrk")
    parser.add_argument("--static-peer", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--loop", help=argparse.SUPPRESS)
    parser.add_argument("--http", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.static_peer:
        static_peer(args.static_peer, args.port, args.loop, args.http)
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        args.server_cpu = args.client_cpu = None
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    mine = ["veza", "veza-nginx"] if args.offload else ["veza"]
    if args.before:
        os.environ["VEZA_BENCH_BEFORE"] = str(Path(args.before).resolve())
        mine.insert(0, "veza-before")
    if args.offload and shutil.which("nginx") is None:
        sys.exit("nginx is not installed (apt-get install nginx)")
    counts = [int(n) for n in args.listeners.split(",")]
    with tempfile.TemporaryDirectory(prefix="veza-bench-serve-") as tmp:
        work = Path(tmp)
        library = prepare_library(work, args.tracks, args.track_seconds)
        sizes = [
            p.stat().st_size for p in library.media_dir.rglob("*") if p.suffix in (".aac", ".mp3")
        ]
        print(
            f"library: {len(library.tracks)} tracks of {args.track_seconds:.0f} s, "
            f"{len(sizes)} segments, {min(sizes) // 1000}-{max(sizes) // 1000} KB "
            f"(mean {sum(sizes) // len(sizes) // 1000} KB); servers on CPU {args.server_cpu}, "
            f"wrk on CPU {args.client_cpu}; {args.seconds:.0f} s per measurement"
        )
        results: list[Result] = []
        print(
            f"{'server':<18} {'N':>4} {'run':>3} {'req/s':>7} {'MB/s':>6} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'errors':>6} {'CPU us/req':>10} {'core':>5} {'load':>5}"
        )
        for count in counts:
            for run in range(1, args.runs + 1):
                for name in [*peers, *mine]:
                    r = measure(name, library, count, run, args, work)
                    results.append(r)
                    print(
                        f"{r.server:<18} {r.listeners:>4} {r.run:>3} {r.requests_s:>7.0f} "
                        f"{r.mb_s:>6.1f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f} {r.errors:>6} "
                        f"{r.cpu_us:>10.0f} {r.cpu_share:>5.2f} {r.load:>5.1f}",
                        flush=True,
                    )
        print()
        print("ratios, veza / peer (run by run): requests/s; and CPU efficiency = the peer's CPU")
        print("time per request over Veza's (the req/s ratio if each had a whole core)")
        for count in counts:
            for server in mine:
                for peer in peers:
                    for run in range(1, args.runs + 1):
                        ours = find(results, server, count, run)
                        theirs = find(results, peer, count, run)
                        print(
                            f"N={count:<4} run {run}  {server} vs {peer}: "
                            f"req/s {ours.requests_s / theirs.requests_s:.2f}x, "
                            f"CPU efficiency {theirs.cpu_us / ours.cpu_us:.2f}x"
                        )


def find(results: list[Result], server: str, listeners: int, run: int) -> Result:
    return next(r for r in results if (r.server, r.listeners, r.run) == (server, listeners, run))


if __name__ == "__main__":
    main()
