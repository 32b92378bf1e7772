// Live changes of a track (transcode progress, readiness). Today by polling the track; the
// WebSocket's `event` messages (track.progress, track.ready on the topic `track:{id}`) replace
// the poll by implementing the same `watchTrack` on the socket, with no change to its callers.
import { api } from "./api.js";

const POLL_MS = 1000;

/**
 * Call `onUpdate(track)` with the track's JSON whenever it may have changed, until it is ready
 * or failed, or until the returned function is called. `onError(error)` on a failed request.
 */
export function watchTrack(id, onUpdate, onError = () => {}) {
  let stopped = false;
  let timer = 0;
  const controller = new AbortController();
  const poll = async () => {
    try {
      const track = await api("GET", `api/v1/tracks/${id}`, { signal: controller.signal });
      if (stopped) return;
      onUpdate(track);
      if (track.status !== "processing") return;
    } catch (error) {
      if (stopped || error.name === "AbortError") return;
      onError(error);
      if (error.status === 404 || error.status === 403) return;
    }
    timer = setTimeout(poll, POLL_MS);
  };
  poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller.abort();
  };
}
