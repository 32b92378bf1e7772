// The live connection: one WebSocket per signed-in tab (docs/websocket.md). It authenticates
// with the in-memory access token, answers pings, reconnects with a backoff after any close,
// and on every `ready` subscribes again to the topics pages asked for and resumes each open
// conversation after the last seq seen. Pages listen to frames by type; `watchTrack` follows a
// transcode on the socket, and polls only while the socket is down.
import { api, onAuthChange, refresh, token, url } from "./api.js";

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];
const POLL_MS = 1000;

class Live extends EventTarget {
  constructor() {
    super();
    this.socket = null;
    this.up = false; // authenticated: `ready` arrived on the current socket
    this.wanted = false; // signed in
    this.failures = 0;
    this.timer = 0;
    this.topics = new Map(); // topic -> number of pages following it
    this.conversations = new Map(); // open conversation id -> last seq seen
    this.presence = new Map(); // user id -> online / away / offline: `ready` tells, changes follow
    this.stats = { readies: 0, closes: 0, events: 0, frames: 0 };
  }

  start() {
    this.wanted = true;
    if (!this.socket) this.connect();
  }

  stop() {
    this.wanted = false;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
    this.setUp(false);
  }

  setUp(up) {
    if (this.up === up) return;
    this.up = up;
    this.dispatchEvent(new CustomEvent(up ? "up" : "down"));
  }

  async connect() {
    clearTimeout(this.timer);
    let access;
    try {
      access = await token();
    } catch {
      return this.retry(); // offline or signed out: onAuthChange stops us in the latter case
    }
    if (!this.wanted || this.socket) return;
    const address = new URL(url("ws"));
    address.protocol = address.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(address);
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: access }));
    socket.onmessage = (message) => {
      if (socket !== this.socket) return;
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      this.stats.frames += 1;
      this.received(frame);
    };
    socket.onclose = (close) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.stats.closes += 1;
      this.setUp(false);
      if (!this.wanted) return;
      // 1008: the token or the session ended. A refresh tells which: a new token tries again,
      // a refused one signs the tab out (and onAuthChange stops this).
      // A refresh that failed for want of a network tries again with the backoff.
      if (close.code === 1008) refresh().then(() => this.retry(), () => this.retry());
      else this.retry();
    };
  }

  retry() {
    if (!this.wanted) return;
    const base = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    this.failures += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), base / 2 + Math.random() * base);
  }

  received(frame) {
    switch (frame.type) {
      case "ready":
        this.presence = new Map((frame.present || []).map(({ user_id, status }) => [user_id, status]));
        this.failures = 0;
        this.stats.readies += 1;
        for (const topic of this.topics.keys()) this.send({ type: "subscribe", topic });
        for (const [id, seq] of this.conversations) this.send({ type: "resume", conversation_id: id, after_seq: seq });
        this.setUp(true);
        break;
      case "presence":
        this.presence.set(frame.user_id, frame.status);
        break;
      case "presences":
        for (const { user_id, status } of frame.users) this.presence.set(user_id, status);
        break;
      case "ping":
        this.send({ type: "pong" });
        return;
      case "message": {
        const { conversation_id: id, seq } = frame.message;
        if (this.conversations.has(id) && seq > this.conversations.get(id)) this.conversations.set(id, seq);
        break;
      }
      case "event":
        this.stats.events += 1;
        break;
    }
    this.dispatchEvent(new CustomEvent(frame.type, { detail: frame }));
  }

  /** Send a frame now; false when the socket is not up (the caller falls back on REST). */
  send(frame) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    if (!this.up && frame.type !== "auth" && frame.type !== "subscribe" && frame.type !== "resume") return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Call `fn(frame)` for each server frame of `type`; returns the function that stops it. */
  on(type, fn) {
    const listener = (event) => fn(event.detail);
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }

  /** Follow a topic (`track:{id}`) for as long as some page wants it. */
  subscribe(topic) {
    const count = this.topics.get(topic) || 0;
    this.topics.set(topic, count + 1);
    if (!count && this.up) this.send({ type: "subscribe", topic });
    return () => {
      const left = this.topics.get(topic) - 1;
      if (left > 0) return this.topics.set(topic, left);
      this.topics.delete(topic);
      if (this.up) this.send({ type: "unsubscribe", topic });
    };
  }

  /** A conversation is shown, its messages seen up to `seq`: reconnects resume after it. */
  follow(conversationId, seq) {
    this.conversations.set(conversationId, Math.max(seq, this.conversations.get(conversationId) || 0));
    return () => this.conversations.delete(conversationId);
  }
}

export const live = new Live();
window.vezaLive = live; // read by the browser tests

onAuthChange((user) => (user ? live.start() : live.stop()));

/**
 * Call `onUpdate(track)` with the track's JSON whenever it changed, until it is ready or failed,
 * or until the returned function is called. `onError(error)` on a failed request. The changes
 * come from the socket's `track.progress`, `track.ready` and `track.failed` events; the track is
 * read again over REST at the start, on each reconnection, at its end, and every second while
 * the socket is down.
 */
export function watchTrack(id, onUpdate, onError = () => {}) {
  let stopped = false;
  let last = null;
  let timer = 0;
  const controller = new AbortController();
  const finished = () => stopped || (last && last.status !== "processing");
  const read = async () => {
    clearTimeout(timer);
    try {
      last = await api("GET", `api/v1/tracks/${id}`, { signal: controller.signal });
      if (stopped) return;
      onUpdate(last);
      if (finished()) return stop();
    } catch (error) {
      if (stopped || error.name === "AbortError") return;
      onError(error);
      if (error.status === 404 || error.status === 403) return stop();
    }
    if (!live.up) timer = setTimeout(read, POLL_MS);
  };
  const unsubscribe = live.subscribe(`track:${id}`);
  const offEvent = live.on("event", ({ name, data }) => {
    if (!data || data.track_id !== id || finished()) return;
    if (name === "track.progress" && last) {
      last = { ...last, progress: data.fraction };
      onUpdate(last);
    } else if (name === "track.ready" || name === "track.failed") {
      read();
    }
  });
  // Subscribed: what happened before the subscription took effect is read once.
  const offSubscribed = live.on("subscribed", ({ topic }) => topic === `track:${id}` && read());
  const offDown = live.on("down", () => finished() || (timer = setTimeout(read, POLL_MS)));
  function stop() {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    controller.abort();
    unsubscribe();
    offEvent();
    offSubscribed();
    offDown();
  }
  read();
  return stop;
}
