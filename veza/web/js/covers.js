// Covers: the API serves them to a signed-in caller only (a private track's cover stays with
// its viewer), and an <img> cannot send the bearer token, so each is fetched with it and shown
// from a blob URL (the CSP allows img-src blob:). Kept per URL and size for the tab's life,
// at most MAX of them. One that cannot be fetched gives way to a placeholder that says so
// (asked for again the next time it is shown); a grid of them is no cascade of messages.
import { token, url } from "./api.js";
import { h } from "./dom.js";

const MAX = 300;
const cache = new Map(); // "url|size" -> Promise of a blob URL, or null when it could not be fetched

function load(address, size) {
  const key = `${address}|${size}`;
  if (!cache.has(key)) {
    const target = new URL(url(address.replace(/^\//, "")));
    target.searchParams.set("size", String(size));
    cache.set(
      key,
      token()
        .then((access) => fetch(target, { headers: { Authorization: `Bearer ${access}` } }))
        .then((response) => (response.ok ? response.blob() : null))
        .then((blob) => (blob ? URL.createObjectURL(blob) : null))
        .catch(() => null)
        .then((blobUrl) => (blobUrl || cache.delete(key), blobUrl)),
    );
    while (cache.size > MAX) {
      const [oldest, promise] = cache.entries().next().value;
      cache.delete(oldest);
      promise.then((blobUrl) => blobUrl && URL.revokeObjectURL(blobUrl));
    }
  }
  return cache.get(key);
}

/** What stands in for a cover that could not be fetched: no broken image, and words. */
const missing = (alt) =>
  h("span", { class: "cover missing", role: "img", "aria-label": alt ? `${alt}: it could not be loaded` : "The cover could not be loaded" }, "Cover unavailable");

/** A cover of `size` px (64 to 1024) from `coverUrl` (null: a plain square); `alt` names it. */
export function cover(coverUrl, size, alt = "") {
  const img = h("img", { class: "cover", width: size, height: size, alt, loading: "lazy", decoding: "async" });
  const wanted = Math.min(1024, size * (devicePixelRatio > 1 ? 2 : 1)); // sharp on a dense screen
  if (coverUrl) load(coverUrl, wanted).then((src) => (src ? (img.src = src) : img.replaceWith(missing(alt))));
  return img;
}
