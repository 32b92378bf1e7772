// The queue kept with the account (PUT /api/v1/me/queue), so another device resumes it: saved
// a second after it changes, at a pause and when the page goes away; restored at sign-in
// (cued, not playing) when this tab has nothing queued.
import { api } from "../api.js";

const SAVE_AFTER_MS = 1000;
const CLIENT = "Veza web";

export async function keepQueue(player) {
  let timer = 0;
  let restoring = true;
  const body = () => ({
    track_ids: player.queue.map((track) => track.id),
    current_index: Math.max(0, player.index),
    position_s: Math.round(player.position() * 1000) / 1000,
    client: CLIENT,
  });
  const save = ({ keepalive = false } = {}) => {
    clearTimeout(timer);
    if (restoring) return;
    api("PUT", "api/v1/me/queue", { json: body(), keepalive }).then(
      () => player.emit("queuesaved"),
      () => {}, // the next change saves it again
    );
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(save, SAVE_AFTER_MS);
  };
  player.addEventListener("queue", later);
  player.addEventListener("track", later);
  player.addEventListener("state", () => player.audio.paused && player.current() && save());
  addEventListener("pagehide", () => save({ keepalive: true }));
  try {
    const saved = await api("GET", "api/v1/me/queue");
    if (player.index < 0 && saved.track_ids.length) {
      // Tracks gone or unplayable since are left out; the current one is followed.
      const tracks = await Promise.all(saved.track_ids.map((id) => api("GET", `api/v1/tracks/${id}`).catch(() => null)));
      const current = tracks[saved.current_index];
      const kept = tracks.filter(Boolean);
      if (kept.length && player.index < 0) player.restore(kept, current ? kept.indexOf(current) : 0, current ? saved.position_s : 0);
    }
  } catch {
    // nothing saved, or the server cannot say: this tab starts empty
  } finally {
    restoring = false;
  }
}
