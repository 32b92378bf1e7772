// The queue kept with the account (PUT /api/v1/me/queue), so another device resumes it: saved
// a second after it changes, at a pause and when the page goes away; restored at sign-in
// (cued, not playing) when this tab has nothing queued.
import { api } from "../api.js";
import { notify, onceUntilFine } from "../dom.js";

const SAVE_AFTER_MS = 1000;
const CLIENT = "Veza web";
// A track of the saved queue that is gone or no longer mine to play: left out, in silence.
const GONE = [403, 404];
// Saving again at each change while the server is out of reach: said once, until a save works.
const saves = onceUntilFine("Your queue is not saved for your other devices");

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
      () => (saves.fine(), player.emit("queuesaved")),
      (error) => keepalive || saves.failed(error), // the next change saves it again; a page going away cannot say it
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
      const track = (id) => api("GET", `api/v1/tracks/${id}`).catch((error) => (GONE.includes(error.status) ? null : Promise.reject(error)));
      const tracks = await Promise.all(saved.track_ids.map(track));
      const current = tracks[saved.current_index];
      const kept = tracks.filter(Boolean);
      if (kept.length && player.index < 0) player.restore(kept, current ? kept.indexOf(current) : 0, current ? saved.position_s : 0);
    }
  } catch (error) {
    if (error.status !== 403) notify(`Your saved queue could not be read: ${error.message}`, "error"); // 403: a role that may not stream has none
  } finally {
    restoring = false;
  }
}
