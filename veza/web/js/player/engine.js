// Plays tracks through Media Source Extensions, one after another in one SourceBuffer, gapless:
// each track's encoder delay and padding fall outside the append window, and the next track is
// buffered ahead. Where there is no MSE (iOS Safari), the browser's own HLS plays each track.
//
// Timeline: a track occupies [t0, t0 + duration) of the element's time; the next one starts at
// the previous one's end. The SourceBuffer is in `sequence` mode (the only one ADTS and MP3 byte
// streams allow): segments follow each other, and `timestampOffset` is set only where a run of
// segments starts (a track's first, after a seek, after a change of variant), from the
// segment's ID3 PRIV timestamp.
//
// Chromium keeps about 12 MB of audio per SourceBuffer (MediaSource's audio memory limit): a
// long track at 256 kbit/s would exceed it, so what is far behind the play position is removed
// and fetching pauses while enough is buffered ahead.
import { api } from "../api.js";
import { Throughput, adtsSampleRate, load, mimeOf, parsePlaylist, readId3 } from "./hls.js";

const AHEAD_S = 60; // fetch while less than this is buffered ahead of the play position
const BEHIND_S = 30; // keep this much behind it for short seeks back
const RETRIES = 4;
// Encoder delays when a track still transcoding has not recorded its own (tracks API).
const DEFAULT_DELAY = { "audio/aac": 1024, "audio/mpeg": 1105 };

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });

export const hasMse = () => typeof window.MediaSource === "function" && MediaSource.isTypeSupported("audio/aac");

export class Engine extends EventTarget {
  constructor(audio) {
    super();
    this.audio = audio;
    this.throughput = new Throughput();
    this.slots = [];
    this.nextTrack = null;
    this.controller = null;
    this.mediaSource = null;
    this.buffer = null;
    this.objectUrl = null;
    this.waker = null;
    // For the browser tests and the curious: how playback went.
    this.stats = { mode: hasMse() ? "mse" : "native", appended: 0, variant: null, switches: 0, live: false };
    audio.addEventListener("timeupdate", () => this.onTime());
    audio.addEventListener("seeking", () => this.wake());
    audio.addEventListener("ended", () => this.dispatchEvent(new Event("ended")));
  }

  /** The track at the play position, and the position in it (seconds). */
  current() {
    return this.slots.length ? this.slots[0].track : null;
  }

  position() {
    const slot = this.slots[0];
    return slot ? Math.max(0, this.audio.currentTime - slot.t0) : 0;
  }

  /** Play `track` from `offset` seconds, dropping whatever played or was buffered. */
  async start(track, offset = 0) {
    if (this.controller) this.controller.abort();
    const controller = (this.controller = new AbortController());
    const signal = controller.signal;
    const slot = this.slot(track, 0);
    this.slots = [slot];
    if (this.stats.mode === "native") return this.startNative(slot, offset, signal);

    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    const mediaSource = (this.mediaSource = new MediaSource());
    this.buffer = null;
    this.objectUrl = URL.createObjectURL(mediaSource);
    this.audio.src = this.objectUrl;
    await new Promise((resolve) => mediaSource.addEventListener("sourceopen", resolve, { once: true }));
    if (signal.aborted) return;
    await this.prepare(slot, signal);
    if (signal.aborted) return;
    this.buffer = mediaSource.addSourceBuffer(slot.mime);
    this.buffer.mode = "sequence";
    if (offset > 0) this.skipTo(slot, offset);
    if (this.nextTrack) this.slots.push(this.slot(this.nextTrack, slot.t0 + slot.length));
    this.feed(signal).catch((error) => this.fail(error, signal));
    this.audio.play().catch(() => {}); // refused autoplay: the play button is there
    if (offset > 0) this.audio.currentTime = offset;
  }

  /** What to buffer after the current track (null: nothing), for a gapless change. */
  setNext(track) {
    this.nextTrack = track;
    if (this.stats.mode === "native" || !this.slots.length) return;
    const [current, queued] = this.slots;
    if (queued && track && queued.track.id === track.id) return;
    if (queued && queued.appended) {
      // Already in the buffer: restart from the play position to drop it.
      this.start(current.track, this.position());
      return;
    }
    this.slots = [current];
    if (track) this.slots.push(this.slot(track, current.t0 + current.length));
    if (this.mediaSource && this.mediaSource.readyState === "ended" && track) {
      this.start(current.track, this.position());
      return;
    }
    this.wake();
  }

  /** Seek within the current track. */
  seek(seconds) {
    const slot = this.slots[0];
    if (!slot) return;
    const target = slot.t0 + Math.max(0, Math.min(seconds, slot.length - 0.05));
    const ranges = this.audio.buffered;
    for (let i = 0; i < ranges.length; i += 1) {
      if (ranges.start(i) <= target && target < ranges.end(i) - 0.1) {
        this.audio.currentTime = target;
        return;
      }
    }
    if (this.stats.mode === "native") this.audio.currentTime = seconds;
    else this.start(slot.track, seconds);
  }

  stop() {
    if (this.controller) this.controller.abort();
    this.slots = [];
    this.audio.pause();
    this.audio.removeAttribute("src");
    this.audio.load();
  }

  slot(track, t0) {
    return {
      track,
      t0,
      // Unknown while the first transcode runs: found from the buffer once the playlist ends.
      length: track.duration_s || Infinity,
      variants: null,
      media: new Map(), // variant uri -> {playlist, loadedAt}
      variant: null,
      next: 0, // index of the next segment to append
      restart: true, // the next append starts a run: set timestampOffset
      appended: false, // anything of it is in the buffer
      done: false, // all of it is
      mime: null,
      delay: 0,
      sampleRate: 44100,
    };
  }

  /** The track's stream URL and master playlist; a track with nothing transcoded yet is
   * asked for again for a while (409 from /stream). */
  async prepare(slot, signal) {
    if (slot.variants) return;
    let stream = null;
    for (let attempt = 0; !stream; attempt += 1) {
      try {
        stream = await api("GET", `api/v1/tracks/${slot.track.id}/stream`, { signal });
      } catch (error) {
        if (error.status !== 409 || attempt > 60 || signal.aborted) throw error;
        await sleep(1000, signal);
        if (signal.aborted) return;
      }
    }
    const master = parsePlaylist(await load(stream.hls_url, signal), stream.hls_url);
    slot.variants = master.variants.length
      ? master.variants
      : [{ uri: stream.hls_url, bandwidth: 0, codecs: "mp4a.40.2", playlist: master }];
    slot.mime = mimeOf(slot.variants[0].codecs) || "audio/aac";
    const rendition = (slot.track.renditions || [])[0];
    const delay = rendition && rendition.delay_samples;
    slot.delay = Number.isInteger(delay) ? delay : DEFAULT_DELAY[slot.mime];
  }

  /** Start appending at the segment that holds `offset`. */
  skipTo(slot, offset) {
    slot.skipTo = offset;
    slot.restart = true;
  }

  async playlistOf(slot, variant, signal, wanted) {
    let entry = slot.media.get(variant.uri);
    const stale =
      !entry || (!entry.playlist.ended && wanted >= entry.playlist.segments.length && Date.now() - entry.loadedAt > 1000);
    if (stale) {
      const playlist = variant.playlist || parsePlaylist(await load(variant.uri, signal), variant.uri);
      entry = { playlist, loadedAt: Date.now() };
      if (!playlist.ended) this.stats.live = true; // still being written: a transcode runs
      slot.media.set(variant.uri, entry);
    }
    return entry.playlist;
  }

  /** The slot that needs data next, if the buffer wants more now. */
  slotToFill() {
    const ahead = this.bufferedAhead();
    if (ahead > AHEAD_S) return null;
    return this.slots.find((slot) => !slot.done) || null;
  }

  bufferedAhead() {
    const now = this.audio.currentTime;
    const ranges = this.audio.buffered;
    for (let i = 0; i < ranges.length; i += 1) {
      if (ranges.start(i) <= now + 0.1 && now < ranges.end(i)) return ranges.end(i) - now;
    }
    return 0;
  }

  wake() {
    if (this.waker) this.waker();
  }

  waitForWake(ms, signal) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waker = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }

  async feed(signal) {
    while (!signal.aborted) {
      const slot = this.slotToFill();
      if (!slot) {
        if (this.slots.every((s) => s.done) && this.mediaSource.readyState === "open" && !this.buffer.updating) {
          this.mediaSource.endOfStream(); // the last track of the queue: let the element end
        }
        await this.waitForWake(1000, signal);
        continue;
      }
      await this.prepare(slot, signal);
      if (signal.aborted) return;
      if (slot.mime !== this.buffer_mime()) {
        this.buffer.changeType(slot.mime);
        this.currentMime = slot.mime;
        slot.restart = true;
      }
      const variant = this.throughput.choose(slot.variants);
      if (slot.variant && variant.uri !== slot.variant.uri) {
        this.stats.switches += 1;
        slot.restart = true;
      }
      slot.variant = variant;
      this.stats.variant = variant.bandwidth;
      const playlist = await this.playlistOf(slot, variant, signal, slot.next);
      if (slot.skipTo !== undefined) {
        const holding = playlist.segments.filter((s) => s.start <= slot.skipTo);
        slot.next = holding.length ? holding[holding.length - 1].index : 0;
        delete slot.skipTo;
      }
      if (slot.next >= playlist.segments.length) {
        if (playlist.ended) this.finished(slot);
        else await this.waitForWake(Math.max(1000, (playlist.targetDuration * 1000) / 2), signal);
        continue;
      }
      const segment = playlist.segments[slot.next];
      const began = performance.now();
      const bytes = await this.retrying(() => load(segment.uri, signal, "bytes"), signal);
      if (signal.aborted) return;
      this.throughput.add(bytes.length, (performance.now() - began) / 1000);
      const tag = readId3(bytes);
      const payload = bytes.subarray(tag.length);
      if (slot.restart) {
        if (slot.mime === "audio/aac") slot.sampleRate = adtsSampleRate(payload) || 44100;
        const start = tag.timestamp === null ? segment.start : tag.timestamp;
        await this.settled(signal);
        // Both ends of the append window: the track's own samples, nothing of its neighbours.
        this.buffer.appendWindowEnd = Infinity;
        this.buffer.appendWindowStart = slot.t0;
        this.buffer.appendWindowEnd = slot.t0 + slot.length; // Infinity while unknown
        this.buffer.timestampOffset = slot.t0 - slot.delay / slot.sampleRate + start;
        slot.restart = false;
      }
      await this.append(payload, signal);
      if (signal.aborted) return;
      slot.appended = true;
      slot.next += 1;
      this.stats.appended += 1;
      if (playlist.ended && slot.next >= playlist.segments.length) this.finished(slot);
    }
  }

  /** All of a track is in the buffer. If its length was unknown (it was still transcoded),
   * it ends where the buffer does, and so the next track begins there. */
  finished(slot) {
    slot.done = true;
    if (Number.isFinite(slot.length)) return;
    slot.length = Math.max(0, this.bufferedEnd() - slot.t0);
    const following = this.slots[this.slots.indexOf(slot) + 1];
    if (following) following.t0 = slot.t0 + slot.length;
  }

  bufferedEnd() {
    const ranges = this.audio.buffered;
    return ranges.length ? ranges.end(ranges.length - 1) : 0;
  }

  /** The current track's length: known from the track, or once all of it is buffered, or
   * (while it is still transcoded) as far as it is buffered. */
  length() {
    const slot = this.slots[0];
    if (!slot) return 0;
    return Number.isFinite(slot.length) ? slot.length : Math.max(0, this.bufferedEnd() - slot.t0);
  }

  buffer_mime() {
    return this.currentMime || this.slots[0].mime;
  }

  async retrying(fn, signal) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await fn();
      } catch (error) {
        if (signal.aborted || attempt >= RETRIES) throw error;
        await sleep(500 * 2 ** attempt, signal);
      }
    }
  }

  /** Wait until the SourceBuffer is idle. */
  async settled(signal) {
    while (this.buffer.updating && !signal.aborted) {
      await new Promise((resolve) => this.buffer.addEventListener("updateend", resolve, { once: true }));
    }
  }

  async run(operation, signal) {
    await this.settled(signal);
    if (signal.aborted) return;
    const done = new Promise((resolve, reject) => {
      this.buffer.addEventListener("updateend", resolve, { once: true });
      this.buffer.addEventListener("error", () => reject(new Error("the browser could not decode the stream")), { once: true });
    });
    operation();
    await done;
  }

  async append(payload, signal) {
    await this.evict(signal);
    for (;;) {
      try {
        await this.run(() => this.buffer.appendBuffer(payload), signal);
        return;
      } catch (error) {
        if (error.name !== "QuotaExceededError") throw error;
        // Full: wait for the play position to move on, then make room behind it.
        await this.waitForWake(1000, signal);
        if (signal.aborted) return;
        await this.evict(signal, 5);
      }
    }
  }

  async evict(signal, keep = BEHIND_S) {
    const ranges = this.audio.buffered;
    const until = this.audio.currentTime - keep;
    if (ranges.length && ranges.start(0) < until - 1) {
      await this.run(() => this.buffer.remove(0, until), signal);
    }
  }

  onTime() {
    this.wake();
    const now = this.audio.currentTime;
    while (this.slots.length > 1 && now >= this.slots[1].t0) {
      this.slots.shift(); // the next track has begun, with no gap
      this.dispatchEvent(new CustomEvent("trackchange", { detail: this.slots[0].track }));
    }
    this.dispatchEvent(new Event("time"));
  }

  async startNative(slot, offset, signal) {
    const stream = await api("GET", `api/v1/tracks/${slot.track.id}/stream`, { signal });
    if (signal.aborted) return;
    this.audio.src = stream.hls_url;
    if (offset > 0) this.audio.currentTime = offset;
    this.audio.play().catch(() => {});
  }

  fail(error, signal) {
    if (signal.aborted || error.name === "AbortError") return;
    this.dispatchEvent(new CustomEvent("error", { detail: error.message }));
  }
}
