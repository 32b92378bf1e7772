"""Pipeline benchmark: Veza's transcode of a music-like FLAC against FFmpeg's own HLS ladder.

    python bench/pipeline.py            # 5-minute track, Veza vs FFmpeg, same run
    python bench/pipeline.py --long     # also Veza's peak memory on a 60-minute track

Veza: one decode (plus a loudness pass) feeding three encoder children (MP3 320k, MP3 128k,
AAC 128k), segmented into packed audio. Peer: one `ffmpeg` command encoding the same three
renditions into HLS (MPEG-TS segments). Each side runs in a child process measured with wait4.
Veza's child also reports the CPU its event loop's thread spends per scheduler pass (the time
every other task of a server would wait), the longest pass and the sum.
"""

from __future__ import annotations

import argparse
import json
import os
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

ROOT = Path(__file__).resolve().parents[1]
RATE = 44100


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


def measured(argv: list[str]) -> dict[str, float]:
    """Run argv: wall time, CPU time (its own and its reaped children's) and peak tree PSS."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=ROOT)
    memory = TreeMemory(proc.pid)
    _, status, usage = os.wait4(proc.pid, 0)  # its usage includes the children it reaped
    wall = time.monotonic() - started
    peak = memory.stop()
    output = proc.stdout.read().decode() if proc.stdout else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed with {proc.returncode}")
    report = json.loads(output.strip().splitlines()[-1]) if output.strip() else {}
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": peak,
        **report,
    }


def veza_child(source: str, out_dir: str) -> None:
    """Runs inside the measured child: one transcode, then its own numbers as JSON."""
    import trio

    from veza.transcode import TranscodeOptions, transcode

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

    async def main() -> None:
        await transcode(
            Path(source),
            Path(out_dir),
            options=TranscodeOptions(),
            limiter=trio.CapacityLimiter(os.cpu_count() or 2),
        )

    trio.run(main, instruments=[passes])
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "python_peak_rss_mib": _status_kib(os.getpid(), "VmHWM") / 1024,
                "python_cpu_s": own.ru_utime + own.ru_stime,
                "loop_longest_pass_ms": passes.longest_s * 1000,
                "loop_cpu_s": passes.total_s,
            }
        )
    )


def ffmpeg_ladder_argv(ffmpeg: str, source: Path, out_dir: Path) -> list[str]:
    return [
        ffmpeg,
        "-y",
        "-v",
        "error",
        "-nostdin",
        "-i",
        str(source),
        "-map",
        "0:a",
        "-map",
        "0:a",
        "-map",
        "0:a",
        "-c:a:0",
        "libmp3lame",
        "-b:a:0",
        "320k",
        "-c:a:1",
        "libmp3lame",
        "-b:a:1",
        "128k",
        "-c:a:2",
        "aac",
        "-b:a:2",
        "128k",
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
        "a:0 a:1 a:2",
        str(out_dir / "%v" / "index.m3u8"),
    ]


def veza_argv(source: Path, out_dir: Path) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", str(source), str(out_dir)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--long", action="store_true", help="also a 60-minute memory run")
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        veza_child(*args.child)
        return
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("ffmpeg is required for this benchmark")
    with tempfile.TemporaryDirectory(prefix="veza-bench-") as tmp:
        work = Path(tmp)
        source = work / "track.flac"
        make_track(source, args.minutes)
        duration = args.minutes * 60
        ours = measured(veza_argv(source, work / "veza"))
        theirs = measured(ffmpeg_ladder_argv(ffmpeg, source, work / "ffmpeg"))
        print(
            f"track: {args.minutes:g} min, 44.1 kHz stereo FLAC; ladder MP3 320k, MP3 128k, "
            f"AAC 128k; {os.cpu_count()} cores"
        )
        for name, m in (("veza", ours), ("ffmpeg", theirs)):
            speed = duration / m["wall_s"]
            print(
                f"  {name:<7} wall {m['wall_s']:6.2f} s  ({speed:5.1f}x real time)"
                f"  cpu {m['cpu_s']:6.2f} s  peak PSS {m['peak_rss_mib']:6.1f} MiB"
            )
        print(
            f"  veza python process alone: peak RSS {ours['python_peak_rss_mib']:.1f} MiB, "
            f"cpu {ours['python_cpu_s']:.2f} s (the rest is its FFmpeg encoders)"
        )
        print(
            f"  veza event loop: longest scheduler pass {ours['loop_longest_pass_ms']:.1f} ms "
            f"CPU, {ours['loop_cpu_s']:.2f} s CPU on the loop's thread in all"
        )
        print(
            f"  ratio veza/ffmpeg wall time: {ours['wall_s'] / theirs['wall_s']:.2f} "
            f"(bar <= 1.0, goal <= 0.6)"
        )
        if args.long:
            long_source = work / "long.flac"
            make_track(long_source, 60.0)
            source.unlink()
            shutil.rmtree(work / "veza")
            shutil.rmtree(work / "ffmpeg")
            long = measured(veza_argv(long_source, work / "veza-long"))
            print(
                f"  60 min: veza wall {long['wall_s']:.1f} s ({3600 / long['wall_s']:.1f}x), "
                f"peak PSS {long['peak_rss_mib']:.1f} MiB (python alone RSS "
                f"{long['python_peak_rss_mib']:.1f} MiB) vs {ours['peak_rss_mib']:.1f} MiB "
                f"({ours['python_peak_rss_mib']:.1f} MiB) for {args.minutes:g} min"
            )


if __name__ == "__main__":
    main()
