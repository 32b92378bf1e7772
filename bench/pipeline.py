"""Pipeline benchmark: Veza's transcode of a music-like FLAC against FFmpeg doing the same work.

    python bench/pipeline.py              # 5-minute track, Veza vs the FFmpeg peers, 3 runs each
    python bench/pipeline.py --repeat 1   # each side once
    python bench/pipeline.py --long       # also Veza's peak memory on a 60-minute track

Veza: one decode, for the analysis (loudness, true peak, waveform), kept in a temporary file
that one encoder child per rendition of the ladder then reads, segmented into packed audio.
Peers: one `ffmpeg` command encoding the same ladder (built from the ladder the transcode is
given) into HLS (MPEG-TS segments), and the pass an FFmpeg user runs for the same loudness
figures (`ebur128=peak=true`). Each runs in a child process measured with wait4 (CPU of the whole
tree: a process's usage includes the children it reaped). Veza's child also reports the CPU
its event loop's thread spends per scheduler pass (the time every other task of a server
would wait), the longest pass and the sum, and what it had spent on start-up and imports when
the transcode began: its CPU less that is what a running server pays per track.
"""

from __future__ import annotations

# First, as in every Veza process: importing veza sets how numpy's BLAS threads run.
import veza  # noqa: F401

# isort: split
import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from veza.audio.ladder import DEFAULT_LADDER, Rendition

ROOT = Path(__file__).resolve().parents[1]
RATE = 44100
_FFMPEG_ENCODERS = {"mp3": "libmp3lame", "aac": "aac"}


def make_track(path: Path, minutes: float, seed: int = 7) -> None:
    """Music-like stereo FLAC (chords, envelope, noise), written in blocks: flat memory."""
    rng = np.random.default_rng(seed)
    total = round(minutes * 60 * RATE)
    notes = [110.0, 164.8, 220.0, 277.2, 329.6, 440.0, 554.4, 659.3]
    with sf.SoundFile(path, "w", RATE, 2, subtype="PCM_16", format="FLAC") as out:
        for start in range(0, total, RATE * 10):
            n = min(RATE * 10, total - start)
            t = (start + np.arange(n)) / RATE
            block = np.zeros((n, 2))
            for k, freq in enumerate(notes):
                envelope = 0.5 + 0.5 * np.sin(2 * np.pi * (0.05 + 0.031 * k) * t) ** 2
                for ch in range(2):
                    detuned = freq * (1 + 0.002 * ch)
                    block[:, ch] += 0.05 * envelope * np.sin(2 * np.pi * detuned * t + k)
            beat = (np.sin(2 * np.pi * 2.0 * t) > 0.95).astype(float)
            block += 0.02 * rng.standard_normal((n, 2)) * (0.3 + beat[:, None])
            out.write(block.astype(np.float32))


def _status_kib(pid: int, field: str, name: str = "status") -> int:
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(raw[raw.rfind(")") + 2 :].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


class TreeMemory:
    """Samples the summed PSS of a process tree: shared library pages are split between the
    processes that map them, so four FFmpeg-linked processes are not counted four times.
    (ru_maxrss would also count the forking parent: Linux carries the pre-exec high-water
    mark over to the exec'd program.)"""

    def __init__(self, root: int) -> None:
        self.root, self.peak_kib, self._done = root, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.05):
            total = sum(_status_kib(pid, "Pss", "smaps_rollup") for pid in _tree(self.root))
            self.peak_kib = max(self.peak_kib, total)

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak_kib / 1024


def measured(argv: list[str], *, stderr: bool = False) -> dict[str, float | str]:
    """Run argv: wall time, CPU time (its own and its reaped children's), peak tree PSS, the
    JSON its last stdout line may carry, and its stderr when asked for."""
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE if stderr else None, cwd=ROOT
    )
    memory = TreeMemory(proc.pid)
    # Drained in threads, so neither pipe can fill up and stall the child.
    streams: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda n=name, f=pipe: streams.__setitem__(n, f.read()))
        for name, pipe in (("out", proc.stdout), ("err", proc.stderr))
        if pipe is not None
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)  # its usage includes the children it reaped
    wall = time.monotonic() - started
    peak = memory.stop()
    for reader in readers:
        reader.join()
    output = streams.get("out", b"").decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed with {proc.returncode}")
    report = json.loads(output.strip().splitlines()[-1]) if output.strip() else {}
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": peak,
        "stderr": streams.get("err", b"").decode("utf-8", "replace"),
        **report,
    }


def parse_ladder(spec: str) -> tuple[Rendition, ...]:
    """`aac:256,aac:128,mp3:320` -> renditions named like the pipeline's (`aac_256`)."""
    ladder = []
    for rung in spec.split(","):
        codec, _, kbps = rung.strip().partition(":")
        if codec not in _FFMPEG_ENCODERS or not kbps.isdigit():
            raise SystemExit(f"--ladder: {rung!r} is not CODEC:KBPS (codec mp3 or aac)")
        ladder.append(Rendition(f"{codec}_{kbps}", codec, int(kbps)))  # type: ignore[arg-type]
    return tuple(ladder)


def ladder_spec(ladder: tuple[Rendition, ...]) -> str:
    return ",".join(f"{r.codec}:{r.bitrate_kbps}" for r in ladder)


def veza_child(source: str, out_dir: str, ladder: tuple[Rendition, ...]) -> None:
    """Runs inside the measured child: one transcode, then its own numbers as JSON."""
    import trio

    from veza.transcode import TranscodeOptions, TranscodeResult, transcode

    class LoopPasses(trio.abc.Instrument):
        """CPU time of the event loop's thread in each scheduler pass (from one wait for I/O
        to the next): the work every other task of the process would wait behind."""

        def __init__(self) -> None:
            self.longest_s, self.total_s = 0.0, 0.0
            self._started: float | None = None

        def after_io_wait(self, timeout: float) -> None:
            self._started = time.thread_time()

        def before_io_wait(self, timeout: float) -> None:
            if self._started is None:  # the first pass also ran the start-up: not counted
                return
            spent = time.thread_time() - self._started
            self.longest_s, self.total_s = max(self.longest_s, spent), self.total_s + spent

    passes = LoopPasses()
    # What the process spent on the interpreter's start-up and the imports: a server pays it
    # once, not per track.
    started = resource.getrusage(resource.RUSAGE_SELF)

    async def main() -> TranscodeResult:
        return await transcode(
            Path(source),
            Path(out_dir),
            ladder=ladder,
            options=TranscodeOptions(),
            limiter=trio.CapacityLimiter(os.cpu_count() or 2),
        )

    result = trio.run(main, instruments=[passes])
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "python_peak_rss_mib": _status_kib(os.getpid(), "VmHWM") / 1024,
                "python_cpu_s": own.ru_utime + own.ru_stime,
                "python_startup_cpu_s": started.ru_utime + started.ru_stime,
                "loop_longest_pass_ms": passes.longest_s * 1000,
                "loop_cpu_s": passes.total_s,
                "integrated_lufs": result.loudness.integrated_lufs,
                "true_peak_dbtp": result.loudness.true_peak_dbtp,
            }
        )
    )


def ffmpeg_ladder_argv(
    ffmpeg: str, source: Path, out_dir: Path, ladder: tuple[Rendition, ...]
) -> list[str]:
    """FFmpeg encoding `ladder` into HLS in one command: one decode, one output per rung."""
    argv = [ffmpeg, "-y", "-v", "error", "-nostdin", "-i", str(source)]
    for _ in ladder:
        argv += ["-map", "0:a"]
    for i, rendition in enumerate(ladder):
        argv += [f"-c:a:{i}", _FFMPEG_ENCODERS[rendition.codec]]
        argv += [f"-b:a:{i}", f"{rendition.bitrate_kbps}k"]
    return [
        *argv,
        "-f",
        "hls",
        "-hls_time",
        "6",
        "-hls_playlist_type",
        "vod",
        "-hls_segment_filename",
        str(out_dir / "%v" / "%d.ts"),
        "-master_pl_name",
        "master.m3u8",
        "-var_stream_map",
        " ".join(f"a:{i}" for i in range(len(ladder))),
        str(out_dir / "%v" / "index.m3u8"),
    ]


def ffmpeg_loudness_argv(ffmpeg: str, source: Path) -> list[str]:
    """The pass an FFmpeg user runs for integrated loudness and true peak. `framelog=verbose`
    keeps its ten lines a second out of the log; the summary still prints at the info level."""
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-i",
        str(source),
        "-af",
        "ebur128=peak=true:framelog=verbose",
        "-f",
        "null",
        "-",
    ]


def ebur128_summary(log: str) -> tuple[float | None, float | None]:
    """(integrated LUFS, true peak dBFS) from the summary `ebur128` prints at the end."""
    summary = log[log.rfind("Summary:") :]
    lufs = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)

    def number(found: re.Match[str] | None) -> float | None:
        return None if found is None or found.group(1) == "-inf" else float(found.group(1))

    return number(lufs), number(peak)


def veza_argv(source: Path, out_dir: Path, ladder: tuple[Rendition, ...]) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--ladder",
        ladder_spec(ladder),
        "--child",
        str(source),
        str(out_dir),
    ]


def _describe(ladder: tuple[Rendition, ...]) -> str:
    return ", ".join(f"{r.codec.upper()} {r.bitrate_kbps}k" for r in ladder)


def _line(name: str, m: dict[str, float | str], duration: float) -> str:
    wall, cpu = float(m["wall_s"]), float(m["cpu_s"])
    return (
        f"  {name:<15} wall {wall:6.2f} s  ({duration / wall:5.1f}x real time)"
        f"  cpu {cpu:6.2f} s  peak PSS {float(m['peak_rss_mib']):6.1f} MiB"
    )


def _figure(value: float | str | None, unit: str) -> str:
    return "silent" if value is None else f"{float(value):.2f} {unit}"


def compare(
    ffmpeg: str, source: Path, work: Path, ladder: tuple[Rendition, ...], run: int
) -> tuple[float, float, float]:
    """One run of each side, back to back: Veza, FFmpeg's ladder, FFmpeg's ebur128 pass, all
    on `source` and, for the first two, the same ladder. Returns the three CPU times."""
    duration = float(sf.info(str(source)).duration)
    load = os.getloadavg()[0]
    ours = measured(veza_argv(source, work / "veza", ladder))
    theirs = measured(ffmpeg_ladder_argv(ffmpeg, source, work / "ffmpeg", ladder))
    loudness = measured(ffmpeg_loudness_argv(ffmpeg, source), stderr=True)
    for out in ("veza", "ffmpeg"):
        shutil.rmtree(work / out, ignore_errors=True)
    lufs, peak = ebur128_summary(str(loudness["stderr"]))
    print(f"run {run} (1-minute load average before it: {load:.1f})")
    print(_line("veza", ours, duration))
    print(_line("ffmpeg ladder", theirs, duration))
    print(_line("ffmpeg ebur128", loudness, duration))
    print(
        f"  veza python process alone: peak RSS {float(ours['python_peak_rss_mib']):.1f} MiB, "
        f"cpu {float(ours['python_cpu_s']):.2f} s (the rest is its FFmpeg encoders)"
    )
    startup = float(ours["python_startup_cpu_s"])
    print(
        f"  veza per track in a running server (less the start-up and imports, "
        f"{startup:.2f} s): python {float(ours['python_cpu_s']) - startup:.2f} s, "
        f"tree {float(ours['cpu_s']) - startup:.2f} s"
    )
    print(
        f"  veza event loop: longest scheduler pass {float(ours['loop_longest_pass_ms']):.1f} ms "
        f"CPU, {float(ours['loop_cpu_s']):.2f} s CPU on the loop's thread in all"
    )
    print(
        f"  loudness: veza {_figure(ours['integrated_lufs'], 'LUFS')}, "
        f"true peak {_figure(ours['true_peak_dbtp'], 'dBTP')}; "
        f"ffmpeg ebur128 {_figure(lufs, 'LUFS')}, true peak {_figure(peak, 'dBTP')}"
    )
    ladder_wall, ladder_cpu = float(theirs["wall_s"]), float(theirs["cpu_s"])
    both_wall = ladder_wall + float(loudness["wall_s"])
    both_cpu = ladder_cpu + float(loudness["cpu_s"])
    wall, cpu = float(ours["wall_s"]), float(ours["cpu_s"])
    print(
        f"  ratio veza/ffmpeg wall: {wall / ladder_wall:.2f} against the ladder alone "
        f"(goal <= 0.55 on 2 cores), {wall / both_wall:.2f} against ladder + ebur128"
    )
    print(
        f"  ratio veza/ffmpeg CPU:  {cpu / ladder_cpu:.2f} against the ladder alone "
        f"(goal <= 1.0), {cpu / both_cpu:.2f} against ladder + ebur128 (bar <= 1.0)"
    )
    return cpu, ladder_cpu, float(loudness["cpu_s"])


def summary(runs: list[tuple[float, float, float]]) -> str:
    """The CPU ratios over every run: of the summed CPU times, and the range of single runs.

    One run's ratio moves by several percent: the same encoder's CPU time varies that much
    from one run to the next on these machines, and each side runs it three times."""
    ours, ladder, loudness = (sum(column) for column in zip(*runs, strict=True))
    singles = sorted(cpu / (lad + loud) for cpu, lad, loud in runs)
    return (
        f"over {len(runs)} runs: CPU {ours:.2f} s against the ladder's {ladder:.2f} s and "
        f"ebur128's {loudness:.2f} s: ratio {ours / ladder:.2f} against the ladder alone, "
        f"{ours / (ladder + loudness):.2f} against ladder + ebur128 (single runs "
        f"{singles[0]:.2f}-{singles[-1]:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side, alternating")
    parser.add_argument("--long", action="store_true", help="also a 60-minute memory run")
    parser.add_argument(
        "--ladder",
        type=parse_ladder,
        default=DEFAULT_LADDER,
        help="renditions as CODEC:KBPS,... (default: the pipeline's default ladder)",
    )
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        source_name, out_name = args.child
        veza_child(source_name, out_name, args.ladder)
        return
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("ffmpeg is required for this benchmark")
    with tempfile.TemporaryDirectory(prefix="veza-bench-") as tmp:
        work = Path(tmp)
        source = work / "track.flac"
        make_track(source, args.minutes)
        print(
            f"track: {args.minutes:g} min, 44.1 kHz stereo FLAC; ladder {_describe(args.ladder)}; "
            f"{os.cpu_count()} cores"
        )
        runs = [
            compare(ffmpeg, source, work, args.ladder, run) for run in range(1, args.repeat + 1)
        ]
        if len(runs) > 1:
            print(summary(runs))
        if args.long:
            long_source = work / "long.flac"
            make_track(long_source, 60.0)
            source.unlink()
            long = measured(veza_argv(long_source, work / "veza-long", args.ladder))
            print(
                f"60 min: veza wall {float(long['wall_s']):.1f} s "
                f"({3600 / float(long['wall_s']):.1f}x real time), "
                f"cpu {float(long['cpu_s']):.1f} s, peak PSS {float(long['peak_rss_mib']):.1f} "
                f"MiB (python alone RSS {float(long['python_peak_rss_mib']):.1f} MiB)"
            )


if __name__ == "__main__":
    main()
