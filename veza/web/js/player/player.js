// The queue and what plays: next, previous, seek, volume; events for whoever shows them.
// Events: "track" (another track plays), "time", "state" (playing, paused), "queue", "error".
import { Engine } from "./engine.js";

const VOLUME_KEY = "veza.volume";
// "off": no ReplayGain-style levelling (docs/web.md, Playback: Loudness).
const LEVELLING_KEY = "veza.loudness";

/** The linear gain a track asks the player for: its `suggested_gain_db` when the server did
 * not normalise its renditions, else none. */
export function trackGain(track) {
  const loudness = track && track.loudness;
  if (!loudness || loudness.normalised || !Number.isFinite(loudness.suggested_gain_db)) return 1;
  return 10 ** (loudness.suggested_gain_db / 20);
}

export class Player extends EventTarget {
  constructor(audio) {
    super();
    this.audio = audio;
    this.queue = [];
    this.index = -1;
    this.cued = null; // restored, not started yet: where the first play begins
    this.engine = new Engine(audio);
    // The volume the person chose; the element's own volume is that times the track's gain
    // (the element cannot go above 1: a positive gain lifts a lowered volume, up to full).
    const saved = Number(localStorage.getItem(VOLUME_KEY));
    this.volume = Number.isFinite(saved) && localStorage.getItem(VOLUME_KEY) !== null ? Math.min(1, Math.max(0, saved)) : 1;
    this.levelling = localStorage.getItem(LEVELLING_KEY) !== "off";
    this.addEventListener("track", () => this.applyVolume());
    this.applyVolume();
    this.engine.addEventListener("trackchange", () => {
      this.index += 1; // the engine moved on by itself, gaplessly
      this.engine.setNext(this.following());
      this.emit("track");
    });
    this.engine.addEventListener("time", () => this.emit("time"));
    this.engine.addEventListener("ended", () => {
      if (this.engine.stats.mode === "native" && this.index + 1 < this.queue.length) this.next();
      else this.emit("state");
    });
    this.engine.addEventListener("error", (event) => this.emit("error", event.detail));
    for (const name of ["play", "pause", "volumechange", "waiting", "playing"]) {
      audio.addEventListener(name, () => this.emit("state"));
    }
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  current() {
    return this.queue[this.index] || null;
  }

  position() {
    if (this.cued !== null) return this.cued;
    return this.engine.position();
  }

  /** The current track's length in seconds (what is known of it while it is transcoded). */
  duration() {
    const track = this.current();
    return (track && track.duration_s) || this.engine.length();
  }

  /** The next playable track of the queue after the current one. */
  following() {
    for (let i = this.index + 1; i < this.queue.length; i += 1) {
      if (this.queue[i].status !== "failed") return this.queue[i];
    }
    return null;
  }

  /** Play `tracks` from the one at `index` (the rest is the queue), from `offset` seconds. */
  playList(tracks, index, offset = 0) {
    this.queue = tracks.filter((track) => track.status !== "failed" || track === tracks[index]);
    this.index = this.queue.indexOf(tracks[index]);
    this.cued = null;
    this.engine.nextTrack = this.following();
    this.engine.start(this.current(), offset);
    this.emit("queue");
    this.emit("track");
  }

  /** Show `tracks` as the queue with the one at `index` cued at `offset` seconds, without
   * playing (a queue saved on another device): the first play starts there. */
  restore(tracks, index, offset = 0) {
    this.queue = tracks;
    this.index = index;
    this.cued = offset;
    this.emit("queue");
    this.emit("track");
  }

  enqueue(track) {
    if (this.index < 0) return this.playList([track], 0);
    this.queue.push(track);
    this.engine.setNext(this.following());
    this.emit("queue");
  }

  removeAt(i) {
    if (i === this.index) return;
    this.queue.splice(i, 1);
    if (i < this.index) this.index -= 1;
    this.engine.setNext(this.following());
    this.emit("queue");
  }

  jump(i) {
    if (i < 0 || i >= this.queue.length) return;
    this.index = i;
    this.cued = null;
    this.engine.nextTrack = this.following();
    this.engine.start(this.current(), 0);
    this.emit("track");
    this.emit("queue");
  }

  next() {
    if (this.index + 1 < this.queue.length) this.jump(this.index + 1);
  }

  previous() {
    if (this.position() > 3 || this.index === 0) this.seek(0);
    else this.jump(this.index - 1);
  }

  toggle() {
    if (!this.current()) return;
    if (this.cued !== null) {
      const offset = this.cued;
      this.cued = null;
      this.engine.nextTrack = this.following();
      this.engine.start(this.current(), offset);
      return;
    }
    if (this.audio.paused) this.audio.play().catch((error) => this.emit("error", error.message));
    else this.audio.pause();
  }

  seek(seconds) {
    if (this.cued !== null) this.cued = Math.max(0, seconds);
    else if (this.current()) this.engine.seek(seconds);
  }

  skip(seconds) {
    this.seek(Math.max(0, this.position() + seconds));
  }

  setVolume(volume) {
    this.volume = Math.min(1, Math.max(0, volume));
    localStorage.setItem(VOLUME_KEY, String(this.volume));
    this.applyVolume();
  }

  /** Whether tracks the server did not normalise are levelled here (saved in this browser). */
  setLevelling(on) {
    this.levelling = Boolean(on);
    localStorage.setItem(LEVELLING_KEY, on ? "on" : "off");
    this.applyVolume();
  }

  /** The gain applied to the current track now (1: none). */
  gain() {
    return this.levelling ? trackGain(this.current()) : 1;
  }

  applyVolume() {
    const wanted = Math.min(1, this.volume * this.gain());
    if (this.audio.volume !== wanted) this.audio.volume = wanted;
    else this.emit("state"); // the person's volume moved while the element's stayed at 1
  }

  stop() {
    this.cued = null;
    this.engine.stop();
    this.queue = [];
    this.index = -1;
    this.emit("track");
    this.emit("queue");
  }
}
