// A small HLS loader for Veza's playlists: master and media playlists, packed-audio segments
// (ADTS or MP3 behind an ID3 PRIV timestamp), the variant chosen by the measured throughput.
// It reads what Veza writes (RFC 8216 packed audio) and no more: no TS, no fMP4, no encryption.

const TIMESTAMP_OWNER = "com.apple.streaming.transportStreamTimestamp";

/** Attributes of a tag line: BANDWIDTH=128000,CODECS="mp4a.40.2" -> {BANDWIDTH: "128000", ...} */
function attributes(text) {
  const found = {};
  const pattern = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
  let match;
  while ((match = pattern.exec(text))) found[match[1]] = match[2].replace(/^"|"$/g, "");
  return found;
}

/** A master playlist (`variants`) or a media playlist (`segments`), URIs made absolute. */
export function parsePlaylist(text, base) {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  if (lines[0] !== "#EXTM3U") throw new Error("not an HLS playlist");
  const variants = [];
  const segments = [];
  const playlist = { variants, segments, ended: false, targetDuration: 6, type: null };
  let pending = null;
  let start = 0;
  for (const line of lines.slice(1)) {
    if (!line) continue;
    if (line.startsWith("#EXT-X-STREAM-INF:")) {
      const a = attributes(line.slice(18));
      pending = { kind: "variant", bandwidth: Number(a.BANDWIDTH) || 0, average: Number(a["AVERAGE-BANDWIDTH"]) || 0, codecs: a.CODECS || "" };
    } else if (line.startsWith("#EXTINF:")) {
      pending = { kind: "segment", duration: parseFloat(line.slice(8)) };
    } else if (line.startsWith("#EXT-X-TARGETDURATION:")) {
      playlist.targetDuration = Number(line.slice(22)) || 6;
    } else if (line.startsWith("#EXT-X-PLAYLIST-TYPE:")) {
      playlist.type = line.slice(21);
    } else if (line === "#EXT-X-ENDLIST") {
      playlist.ended = true;
    } else if (!line.startsWith("#") && pending) {
      const uri = new URL(line, base).href;
      if (pending.kind === "variant") variants.push({ ...pending, uri });
      else {
        segments.push({ duration: pending.duration, start, uri, index: segments.length });
        start += pending.duration;
      }
      pending = null;
    }
  }
  variants.sort((a, b) => a.bandwidth - b.bandwidth);
  return playlist;
}

/** The MSE type for a variant's CODECS, or null when it is not one Veza writes. */
export function mimeOf(codecs) {
  if (/mp4a\.40\.34|mp3/i.test(codecs)) return "audio/mpeg";
  if (/mp4a\.40\.\d+/i.test(codecs)) return "audio/aac";
  return null;
}

function syncsafe(bytes, at) {
  return (bytes[at] << 21) | (bytes[at + 1] << 14) | (bytes[at + 2] << 7) | bytes[at + 3];
}

/**
 * The ID3v2 tag at the start of a packed-audio segment: its length and its PRIV timestamp in
 * seconds (90 kHz clock), both null when the segment has none.
 */
export function readId3(bytes) {
  if (bytes.length < 10 || bytes[0] !== 0x49 || bytes[1] !== 0x44 || bytes[2] !== 0x33) {
    return { length: 0, timestamp: null };
  }
  const length = 10 + syncsafe(bytes, 6) + (bytes[5] & 0x10 ? 10 : 0);
  let timestamp = null;
  let at = 10;
  const version = bytes[3];
  while (at + 10 <= Math.min(length, bytes.length)) {
    const id = String.fromCharCode(...bytes.subarray(at, at + 4));
    const size = version === 4 ? syncsafe(bytes, at + 4) : new DataView(bytes.buffer, bytes.byteOffset + at + 4, 4).getUint32(0);
    if (!/^[A-Z0-9]{4}$/.test(id) || size <= 0) break;
    const body = bytes.subarray(at + 10, at + 10 + size);
    if (id === "PRIV") {
      const nul = body.indexOf(0);
      const owner = String.fromCharCode(...body.subarray(0, nul));
      if (owner === TIMESTAMP_OWNER && body.length >= nul + 9) {
        const view = new DataView(body.buffer, body.byteOffset + nul + 1, 8);
        // 33 bits: the high word holds one bit of it.
        const ticks = (view.getUint32(0) & 1) * 2 ** 32 + view.getUint32(4);
        timestamp = ticks / 90000;
      }
    }
    at += 10 + size;
  }
  return { length, timestamp };
}

/** The sample rate of the first ADTS frame after `offset`, or null. */
export function adtsSampleRate(bytes, offset = 0) {
  const rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
  for (let i = offset; i + 2 < bytes.length; i += 1) {
    if (bytes[i] === 0xff && (bytes[i + 1] & 0xf6) === 0xf0) return rates[(bytes[i + 2] >> 2) & 0x0f] || null;
  }
  return null;
}

/** Throughput of recent transfers (bit/s), a moving average that forgets old links slowly. */
export class Throughput {
  constructor() {
    this.estimate = 0;
  }

  add(byteCount, seconds) {
    if (byteCount < 16384 || seconds <= 0) return; // too small to say anything about the link
    const sample = (byteCount * 8) / seconds;
    this.estimate = this.estimate ? 0.7 * this.estimate + 0.3 * sample : sample;
  }

  /** The best variant the link carries with room to spare; the middle one before any measure. */
  choose(variants) {
    if (!this.estimate) return variants[Math.floor((variants.length - 1) / 2)];
    let chosen = variants[0];
    for (const variant of variants) if (variant.bandwidth <= this.estimate * 0.7) chosen = variant;
    return chosen;
  }
}

const FETCH_LIMIT_MS = 30000;

/** `fetch` with a time limit; an HTTP error becomes an Error whose message speaks of it. */
export async function load(uri, signal, kind = "text") {
  const limit = AbortSignal.timeout(FETCH_LIMIT_MS);
  const both = signal ? AbortSignal.any([signal, limit]) : limit;
  let response;
  try {
    response = await fetch(uri, { signal: both });
  } catch (error) {
    if (signal && signal.aborted) throw error;
    throw new Error("the stream could not be reached: check the connection");
  }
  if (!response.ok) {
    let message = `the stream answered ${response.status}`;
    try {
      message = (await response.json()).error.message;
    } catch {
      // not the JSON error shape
    }
    throw new Error(message);
  }
  return kind === "bytes" ? new Uint8Array(await response.arrayBuffer()) : response.text();
}
