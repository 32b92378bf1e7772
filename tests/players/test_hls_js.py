"""hls.js (pinned in tests/players/package.json) in Debian's Chromium, on a page of another
origin, plays Veza's HLS: every level of a ready track, a seek, the end; and a track still
being transcoded from its beginning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from tests.players.browser import Page, chromium_page
from tests.players.tracks import import_music, listener, stream_url
from tests.support import eventually
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track

SECONDS_PER_LEVEL = 2.5


def assert_clean(
    report: dict[str, Any], log: list[str], *, tolerated: frozenset[str] = frozenset()
) -> None:
    """No hls.js error event (but non-fatal ones named in `tolerated`), no element error, no
    stall, ever."""
    context = f"{report}\n" + "\n".join(log[-20:])
    errors = [
        error
        for error in report["errors"]
        if error.get("fatal") is not False or error.get("details") not in tolerated
    ]
    assert errors == [], context
    assert report["stalls"] == [], context


async def start(page: Page, url: str) -> dict[str, Any]:
    await page.evaluate("url => startHls(url)", url)
    await page.wait_for(
        "() => (audio.currentTime > 0.5 && hls.levels.length > 0) || __errors.some(e => e.fatal)"
    )
    report: dict[str, Any] = await page.evaluate("report")
    assert report["currentTime"] > 0.5, f"{report}\n" + "\n".join(page.log[-20:])
    return report


@pytest.mark.slow
@pytest.mark.usefixtures("ffmpeg", "chromium", "hls_js")
async def test_hls_js_plays_every_level_then_seeks_to_the_middle_and_ends(
    server: RunningServer, site: str, tmp_path: Path
) -> None:
    who = await listener(server)
    track_id = await import_music(server, tmp_path, who, 40)
    async with chromium_page(site + "/") as page:  # starts while the track is transcoded
        assert (await wait_for_track(server, track_id)).status == "ready"
        url = await stream_url(server, who, track_id)
        report = await start(page, url)
        assert [level["codecs"] for level in report["levels"]] == ["mp4a.40.2"] * 3, report
        for level in range(len(report["levels"])):
            seen = await page.evaluate("() => __events.length")
            await page.evaluate("level => { hls.currentLevel = level }", level)
            # The switch is done once a fragment of the new level is in the buffer.
            await page.wait_for(
                """([level, seen]) => hls.currentLevel === level && __events.slice(seen).some(
                    e => e.type === "frag-buffered" && e.level === level)""",
                [level, seen],
            )
            before = await page.evaluate("() => audio.currentTime")
            await trio.sleep(SECONDS_PER_LEVEL)
            after = await page.evaluate("report")
            assert after["level"] == level, after
            assert after["currentTime"] - before > SECONDS_PER_LEVEL * 0.6, (before, after)
            assert_clean(after, page.log)
        # Seek to the middle, then play the rest four times as fast (the player still fetches,
        # appends and plays every remaining segment).
        await page.evaluate("() => { audio.currentTime = audio.duration / 2 }")
        await page.wait_for("() => !audio.seeking && audio.currentTime > audio.duration / 2")
        await page.evaluate("() => { audio.playbackRate = 4 }")
        await page.wait_for("() => audio.ended", limit_s=20)
        report = await page.evaluate("report")
        assert report["duration"] == pytest.approx(40, abs=0.2), report
        assert report["currentTime"] == pytest.approx(report["duration"], abs=0.1), report
        assert_clean(report, page.log)


@pytest.mark.slow
@pytest.mark.usefixtures("ffmpeg", "chromium", "hls_js")
async def test_hls_js_starts_a_track_being_transcoded_at_its_beginning_then_plays_its_end(
    server: RunningServer, site: str, tmp_path: Path
) -> None:
    """An EVENT playlist without EXT-X-START:TIME-OFFSET=0 makes hls.js start near the live
    edge; Veza's playlists carry it, so a listener hears the track from its first second."""
    who = await listener(server)
    minutes = 10
    track_id = await import_music(server, tmp_path, who, minutes * 60)

    async def a_third_encoded() -> bool:
        job = await server.store.jobs.latest_for(track_id)
        return job is not None and job.progress >= 0.33

    await eventually(a_third_encoded, limit_s=120)
    url = await stream_url(server, who, track_id)
    async with chromium_page(site + "/") as page:
        report = await start(page, url)
        assert report["live"] is True, f"the transcode should still be running: {report}"
        await trio.sleep(2)
        report = await page.evaluate("report")
        # A third of ten minutes is encoded: the live edge is minutes in.
        assert 1 < report["currentTime"] < 10, f"did not start at 0: {report}"

        assert (await wait_for_track(server, track_id, limit_s=240)).status == "ready"
        # hls.js reloads the playlist every target duration: it sees ENDLIST within seconds.
        await page.wait_for("() => report().live === false", limit_s=30)
        await page.evaluate("() => { audio.currentTime = audio.duration - 20 }")
        await page.wait_for("() => !audio.seeking && audio.currentTime >= audio.duration - 20")
        await page.evaluate("() => { audio.playbackRate = 2 }")
        await page.wait_for("() => audio.ended", limit_s=30)
        report = await page.evaluate("report")
        assert report["duration"] == pytest.approx(minutes * 60, abs=0.2), report
        # hls.js's default forward buffer for a 256 kbit/s level is up to 600 s (its 60 MB
        # maxBufferSize over the bit rate, capped by maxMaxBufferLength), more than Chromium's
        # 12 MB audio SourceBuffer holds: it then gets a non-fatal bufferFullError, and
        # recovers by itself (a web client would set maxMaxBufferLength lower).
        assert_clean(report, page.log, tolerated=frozenset({"bufferFullError"}))
