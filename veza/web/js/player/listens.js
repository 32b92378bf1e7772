// Plays: each playback start of a track is one listen, with its own listen_id, reported as it
// goes on (every 10 s of progress, at a pause, at the next track, when the page goes away); the
// server counts it as a play once it reached 30 s or half the track (docs/library.md).
import { api } from "../api.js";
import { onceUntilFine } from "../dom.js";

const STEP_S = 10;
// Reports fail together when the server is out of reach: said once, until one gets through.
const reports = onceUntilFine("Plays are not being counted");

/** Report the listens of `player`; emits "listen" on it with each answer. */
export function reportListens(player) {
  let listen = null;
  const report = () => {
    if (!listen || listen.furthest <= listen.reported) return;
    const { trackId, id } = listen;
    listen.reported = listen.furthest;
    const json = { listen_id: id, seconds: Math.round(listen.furthest * 1000) / 1000 };
    api("POST", `api/v1/tracks/${trackId}/plays`, { json, keepalive: true }).then(
      (answer) => (reports.fine(), player.emit("listen", answer)),
      reports.failed,
    );
  };
  player.addEventListener("track", () => {
    report();
    const track = player.current();
    listen = track ? { trackId: track.id, id: crypto.randomUUID(), reported: 0, furthest: 0 } : null;
  });
  player.addEventListener("time", () => {
    if (!listen || player.audio.paused) return;
    listen.furthest = Math.max(listen.furthest, player.position());
    if (listen.furthest - listen.reported >= STEP_S) report();
  });
  player.addEventListener("state", () => player.audio.paused && report());
  addEventListener("pagehide", report);
}
