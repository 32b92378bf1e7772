"""Chat benchmark: N sockets in one conversation, against two bare WebSocket broadcasters.

    ./scripts/bench chat                               # N = 1000 and 200, every server
    ./scripts/bench chat --sockets 200 --servers quart,trio-websocket
    ./scripts/bench chat --servers veza,veza-pg --postgres postgresql://postgres@127.0.0.1/postgres

Servers, each a child process pinned to one core (`--server-cpu`, `taskset`):
- `quart`: a bare Quart-Trio WebSocket broadcaster on Hypercorn's trio worker (the floor of
  Veza's stack; bench/peers/quart_broadcast.py);
- `trio-websocket`: a bare trio-websocket broadcaster (the reference ceiling;
  bench/peers/trio_websocket_broadcast.py);
- `veza`: `veza serve` on SQLite, N users (registered over HTTP, cheap argon2 settings) each
  with one socket authenticated by its access token, all members of one group conversation;
- `veza-pg`: two `veza serve` processes on one PostgreSQL schema (both pinned to the server
  core; PostgreSQL itself is not pinned), the sockets split between them, so every message
  crosses processes through the LISTEN/NOTIFY relay for half of its deliveries.
Both peers keep one bounded queue (256 frames) and one writer per socket, like Veza's hub, and
encode each message once.

The load client (`--client`, started by this script) is asyncio with the `websockets` library
on uvloop, pinned to the other core (`--client-cpu`). Each socket reads every frame; a delivery
is a `message` frame reaching a socket other than its sender's. The body (`--body-bytes`, 200)
starts with `BENCH|id|sender|send time|`, so latency is measured on one clock: send to delivery,
both seen by the client. Phases, on the same sockets:
1. memory: the server's RSS before the sockets connect and once they are all open and idle;
   `(after - before) / N` is the memory per idle socket;
2. throughput: `--senders` sockets send as fast as a window allows (at most `--window`
   messages not yet delivered to every other socket); delivered messages/s over `--seconds`;
3. latency: an open-loop send rate of `--rate` deliveries/s (`rate / (N - 1)` messages/s, round
   robin over the senders); p50/p99 of send-to-delivery over `--seconds`.
The server's CPU time (schedstat, all threads) and the client's are printed for each phase: a
client near 100% of its core would be measuring itself; the peers show it is not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _children import ROOT, child, clean_env, cpu_ns, free_port, pinned, wait_for_url
from websockets.exceptions import ConnectionClosed

_TYPE = re.compile(r'"type":\s*"(\w+)"')
PASSWORD = "bench password, long enough"

# Veza for a benchmark: cheap password hashing (N registrations), no login or send limits.
VEZA_ENV = {
    "VEZA_ARGON2_TIME_COST": "1",
    "VEZA_ARGON2_MEMORY_KIB": "1024",
    "VEZA_ARGON2_PARALLELISM": "1",
    "VEZA_AUTH_RATE_ADDRESS_BURST": "1000000",
    "VEZA_AUTH_RATE_ACCOUNT_BURST": "1000000",
    "VEZA_AUTH_RATE_ACCOUNT_TOTAL_BURST": "1000000",
    "VEZA_CHAT_SEND_BURST": "1000000",
    "VEZA_CHAT_SEND_PER_MINUTE": "100000000",
    "VEZA_CHAT_GROUP_MAX_MEMBERS": "100000",
    "VEZA_HTTP_LISTEN_BACKLOG": "4096",
}


@dataclass
class Target:
    """What the client needs: where each socket connects, with which token, in which room."""

    sockets: list[tuple[str, str | None]]  # (ws url, access token or None)
    conversation_id: str
    pids: list[int]
    veza: bool


# ---------------------------------------------------------------------------------------------
# Servers


@contextmanager
def peer(name: str, count: int, work: Path, cpu: str | None) -> Iterator[Target]:
    script = {"quart": "quart_broadcast.py", "trio-websocket": "trio_websocket_broadcast.py"}
    port = free_port()
    command = [sys.executable, str(ROOT / "bench" / "peers" / script[name]), str(port)]
    log = work / f"{name}.log"
    with child(pinned(cpu, command), log, clean_env()) as process:
        url = wait_for_url(process, log)
        ws = url.replace("http://", "ws://") + "/ws"
        yield Target([(ws, None)] * count, "room", [process.pid], veza=False)


@contextmanager
def veza(
    count: int, work: Path, cpu: str | None, postgres: str | None, processes: int
) -> Iterator[Target]:
    data = work / f"veza-{secrets.token_hex(3)}"
    env = clean_env(**VEZA_ENV)
    with ExitStack() as stack:
        if postgres:
            env["VEZA_DATABASE_URL"] = stack.enter_context(postgres_schema(postgres))
        urls, pids = [], []
        for n in range(processes):
            log = work / f"veza-{n}.log"
            command = [sys.executable, "-m", "veza", "serve", "--port", "0", "--data-dir"]
            process = stack.enter_context(child(pinned(cpu, [*command, str(data)]), log, env))
            urls.append(wait_for_url(process, log))
            pids.append(process.pid)
        tokens, conversation = asyncio.run(populate(urls[0], count))
        sockets = [
            (urls[i % len(urls)].replace("http://", "ws://") + "/ws", token)
            for i, token in enumerate(tokens)
        ]
        yield Target(sockets, conversation, pids, veza=True)


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema for the run, dropped afterwards; yields the database URL that uses it."""
    import asyncpg

    schema = f"bench_chat_{secrets.token_hex(4)}"

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{url}{'&' if '?' in url else '?'}search_path={schema}"
    finally:
        asyncio.run(execute(f"DROP SCHEMA {schema} CASCADE"))


async def populate(url: str, count: int) -> tuple[list[str], str]:
    """`count` users (their access tokens) in one group conversation made by the first."""
    import httpx

    tag = secrets.token_hex(3)
    limit = asyncio.Semaphore(8)

    async def register(client: httpx.AsyncClient, n: int) -> tuple[str, str]:
        async with limit:
            response = await client.post(
                "/api/v1/auth/register",
                json={
                    "email": f"b{tag}{n}@example.org",
                    "username": f"b{tag}{n}",
                    "password": PASSWORD,
                },
            )
        response.raise_for_status()
        body = response.json()
        return body["access_token"], body["user"]["id"]

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        users = await asyncio.gather(*(register(client, n) for n in range(count)))
        response = await client.post(
            "/api/v1/conversations",
            json={"kind": "group", "title": "bench", "member_ids": [u[1] for u in users[1:]]},
            headers={"Authorization": f"Bearer {users[0][0]}"},
        )
        if response.status_code >= 400:
            raise RuntimeError(f"cannot create the conversation: {response.text}")
    return [u[0] for u in users], response.json()["id"]


# ---------------------------------------------------------------------------------------------
# The load client (its own process, on its own core)


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    sent: int = 0
    deliveries: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)

        def percentile(p: float) -> float | None:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else None

        return {
            "phase": self.name,
            "sent_s": self.sent / self.seconds,
            "deliveries_s": self.deliveries / self.seconds,
            "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99),
            "server_cpu": self.server_cpu_s / self.seconds,
            "client_cpu": self.client_cpu_s / self.seconds,
            "server_us_per_delivery": 1e6 * self.server_cpu_s / max(1, self.deliveries),
        }


class Load:
    def __init__(self, target: Target, args: argparse.Namespace) -> None:
        self.target = target
        self.args = args
        self.count = len(target.sockets)
        self.connections: list[Any] = []
        self.pending: dict[int, int] = {}  # message id -> deliveries still expected
        self.done: dict[int, asyncio.Event] = {}
        self.phase: Phase | None = None
        self.next_id = 0
        self.closed = 0
        self.errors: dict[str, int] = {}
        self.frames: dict[str | None, int] = {}  # every frame received, by type
        self.readers: list[asyncio.Task[None]] = []

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        limit = asyncio.Semaphore(64)

        async def one(url: str, token: str | None) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else None
            async with limit:
                ws = await connect(
                    url,
                    additional_headers=headers,
                    compression=None,
                    ping_interval=None,
                    max_size=2**20,
                    open_timeout=120,
                )
                if self.target.veza:
                    while _frame_type(await ws.recv()) != "ready":
                        pass
            return ws

        async def reading(index: int, url: str, token: str | None) -> None:
            self.connections[index] = await one(url, token)
            # Read (and answer pings) from now on: connecting the others may take longer than
            # the server's idle timeout.
            self.readers.append(asyncio.get_running_loop().create_task(self.read(index)))

        self.connections = [None] * self.count
        await asyncio.gather(*(reading(i, u, t) for i, (u, t) in enumerate(self.target.sockets)))

    async def read(self, index: int) -> None:
        ws = self.connections[index]
        own = str(index)
        frames = self.frames
        try:
            async for text in ws:
                start = text.find("BENCH|")
                kind = _frame_type(text)
                frames[kind] = frames.get(kind, 0) + 1
                if kind != "message" or start < 0:
                    if kind == "ping":
                        await ws.send('{"type":"pong"}')
                    elif kind == "error":
                        code = re.search(r'"code":\s*"(\w+)"', text)
                        key = code.group(1) if code else "?"
                        self.errors[key] = self.errors.get(key, 0) + 1
                    continue
                number, sender, sent_ns, _ = text[start + 6 :].split("|", 3)
                if sender == own:
                    continue
                now = time.perf_counter_ns()
                message = int(number)
                phase = self.phase
                if phase is not None:
                    phase.deliveries += 1
                    phase.latencies_ms.append((now - int(sent_ns)) / 1e6)
                left = self.pending.get(message)
                if left is not None:
                    if left <= 1:
                        del self.pending[message]
                        self.done.pop(message).set()
                    else:
                        self.pending[message] = left - 1
        except ConnectionClosed:
            pass
        self.closed += 1

    async def send(self, sender: int) -> asyncio.Event:
        self.next_id += 1
        number = self.next_id
        head = f"BENCH|{number}|{sender}|{time.perf_counter_ns()}|"
        body = head + "x" * max(0, self.args.body_bytes - len(head))
        done = asyncio.Event()
        self.pending[number] = self.count - 1
        self.done[number] = done
        frame = {
            "type": "send",
            "conversation_id": self.target.conversation_id,
            "body": body,
            "client_id": f"c{number}",
        }
        if self.phase is not None:
            self.phase.sent += 1
        with suppress(ConnectionClosed):  # closed by the server: counted in `closed`
            await self.connections[sender].send(json.dumps(frame))
        return done

    async def measured(self, phase: Phase, work: Any) -> Phase:
        self.phase = phase
        cpu0, own0, t0 = cpu_ns(self.target.pids), time.process_time(), time.perf_counter()
        await work
        phase.seconds = time.perf_counter() - t0
        phase.server_cpu_s = (cpu_ns(self.target.pids) - cpu0) / 1e9
        phase.client_cpu_s = time.process_time() - own0
        self.phase = None
        return phase

    async def saturate(self, seconds: float) -> None:
        window = asyncio.Semaphore(self.args.window)
        senders = min(self.args.senders, self.count)
        deadline = time.perf_counter() + seconds

        async def sender(index: int) -> None:
            while time.perf_counter() < deadline:
                try:
                    await asyncio.wait_for(window.acquire(), deadline - time.perf_counter())
                except TimeoutError:
                    return
                done = await self.send(index)
                asyncio.get_running_loop().create_task(_release_when(done, window))

        await asyncio.gather(*(sender(i) for i in range(senders)))

    async def steady(self, seconds: float, deliveries_s: float) -> None:
        senders = min(self.args.senders, self.count)
        interval = (self.count - 1) / deliveries_s  # seconds between messages
        start = time.perf_counter()
        n = 0
        while (due := start + n * interval) < start + seconds:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.send(n % senders)
            n += 1

    async def drain(self, limit_s: float = 30) -> None:
        events = list(self.done.values())
        with suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), limit_s)
        self.pending.clear()
        self.done.clear()


async def _release_when(done: asyncio.Event, window: asyncio.Semaphore) -> None:
    await done.wait()
    window.release()


def _frame_type(text: str) -> str | None:
    found = _TYPE.search(text)
    return found.group(1) if found else None


async def run_client(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    load = Load(target, args)
    before = rss_bytes(target.pids)
    connect_started = time.perf_counter()
    await load.connect()
    connect_s = time.perf_counter() - connect_started
    await asyncio.sleep(3)  # idle: let the server settle (handshakes done, queues empty)
    after = rss_bytes(target.pids)
    await load.measured(Phase("warm-up"), load.saturate(2))
    await load.drain()
    throughput = await load.measured(Phase("throughput"), load.saturate(args.seconds))
    await load.drain()
    latency = await load.measured(Phase("latency"), load.steady(args.seconds, args.rate))
    await load.drain()
    closed = load.closed  # by the server, during the run
    for ws in load.connections:
        await ws.close()
    for reader in load.readers:
        reader.cancel()
    return {
        "sockets": load.count,
        "connect_s": connect_s,
        "idle_socket_kib": (after - before) / load.count / 1024,
        "rss_mib": after / 2**20,
        "throughput": throughput.summary(),
        "latency": latency.summary(),
        "closed": closed,
        "errors": load.errors,
        "frames": {str(kind): n for kind, n in sorted(load.frames.items(), key=str)},
    }


def client_main(path: Path, args: argparse.Namespace) -> None:
    target = Target(**json.loads(path.read_text()))
    try:
        import uvloop

        result = uvloop.run(run_client(target, args))
    except ImportError:
        result = asyncio.run(run_client(target, args))
    print("BENCH_JSON " + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------
# The driver


def measure(name: str, count: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    if name in ("quart", "trio-websocket"):
        server = peer(name, count, work, args.server_cpu)
    elif name == "veza":
        server = veza(count, work, args.server_cpu, None, 1)
    else:
        server = veza(count, work, args.server_cpu, args.postgres, 2)
    with server as target:
        config = work / "target.json"
        config.write_text(json.dumps(asdict(target)))
        command = [sys.executable, __file__, "--client", str(config)]
        command += ["--senders", str(args.senders), "--window", str(args.window)]
        command += ["--seconds", str(args.seconds), "--rate", str(args.rate)]
        command += ["--body-bytes", str(args.body_bytes)]
        load = os.getloadavg()[0]
        done = subprocess.run(
            pinned(args.client_cpu, command), capture_output=True, text=True, check=False
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH_JSON ")]
        if not lines:
            raise RuntimeError(f"the client failed for {name}:\n{done.stdout}\n{done.stderr}")
        result: dict[str, Any] = json.loads(lines[-1].removeprefix("BENCH_JSON "))
    result.update(server=name, load=load)
    return result


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(results: list[dict[str, Any]]) -> None:
    print()
    print(
        "| server | sockets | delivered msg/s | ratio | server CPU us/delivery | ratio per CPU s"
        " | server CPU | client CPU | p50/p99 ms at rate | KiB/idle socket | closed | errors"
        " | load |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        floor = next(
            (x for x in results if x["server"] == "quart" and x["sockets"] == r["sockets"]), None
        )
        t, lat = r["throughput"], r["latency"]
        ratio = t["deliveries_s"] / floor["throughput"]["deliveries_s"] if floor else None
        # Deliveries per second of server CPU: what the ratio would be on an idle core.
        per_cpu = (
            floor["throughput"]["server_us_per_delivery"] / t["server_us_per_delivery"]
            if floor and t["server_us_per_delivery"]
            else None
        )
        print(
            f"| {r['server']} | {r['sockets']} | {t['deliveries_s']:,.0f}"
            f" | {'-' if ratio is None else f'{ratio:.2f}x'}"
            f" | {t['server_us_per_delivery']:.0f}"
            f" | {'-' if per_cpu is None else f'{per_cpu:.2f}x'}"
            f" | {t['server_cpu']:.0%} | {t['client_cpu']:.0%}"
            f" | {_ms(lat['p50_ms'])}/{_ms(lat['p99_ms'])} ({lat['deliveries_s']:,.0f}/s)"
            f" | {r['idle_socket_kib']:.1f} | {r['closed']} | {r['errors'] or '-'}"
            f" | {r['load']:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", default="1000,200", help="comma-separated N (1000,200)")
    parser.add_argument(
        "--servers",
        default="quart,trio-websocket,veza,veza-pg",
        help="comma-separated: quart, trio-websocket, veza, veza-pg (two processes, PostgreSQL)",
    )
    parser.add_argument("--senders", type=int, default=8, help="sockets that send")
    parser.add_argument(
        "--window", type=int, default=8, help="messages in flight in the throughput phase"
    )
    parser.add_argument("--seconds", type=float, default=10, help="length of each phase")
    parser.add_argument(
        "--rate", type=float, default=5000, help="deliveries/s offered in the latency phase"
    )
    parser.add_argument("--body-bytes", type=int, default=200, help="length of a message body")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "VEZA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="PostgreSQL server for veza-pg (a schema is made and dropped)",
    )
    parser.add_argument("--server-cpu", default="0", help="taskset CPU list for the servers")
    parser.add_argument("--client-cpu", default="1", help="taskset CPU list for the client")
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    parser.add_argument("--client", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args.client, args)
        return
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        args.server_cpu = args.client_cpu = None
        print("no taskset or a single core: servers and client are not pinned", file=sys.stderr)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="veza-bench-chat-") as tmp:
        for count in [int(n) for n in args.sockets.split(",")]:
            for name in args.servers.split(","):
                print(f"{name}, {count} sockets ...", file=sys.stderr, flush=True)
                try:
                    results.append(measure(name, count, args, Path(tmp)))
                except Exception as error:  # one server failing does not lose the others
                    print(f"{name}, {count} sockets: failed: {error}", file=sys.stderr)
                print(json.dumps(results[-1]) if results else "", file=sys.stderr)
    print(f"uptime: {os.getloadavg()}")
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
