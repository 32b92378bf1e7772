// One row of a track in a list: play, link to its page, what it is and its state.
import { clock, h, icon } from "./dom.js";

export function status(track) {
  if (track.status === "ready") return null;
  if (track.status === "failed") return h("span", { class: "badge failed", title: track.error || "" }, "failed");
  return h("span", { class: "badge" }, `transcoding ${Math.round(track.progress * 100)}%`);
}

export function trackRow(track, onPlay) {
  const byline = [track.artist, track.album].filter(Boolean).join(" · ") || track.original_name;
  return h(
    "li",
    { class: "track", dataset: { id: track.id } },
    h(
      "button",
      {
        class: "icon play",
        "aria-label": `Play ${track.title}`,
        disabled: track.status === "failed",
        onclick: onPlay,
      },
      icon("play"),
    ),
    h(
      "span",
      { class: "what" },
      h("a", { href: `tracks/${track.id}`, class: "title" }, track.title || track.original_name),
      h("span", { class: "by" }, byline),
    ),
    status(track),
    h("span", { class: "time" }, clock(track.duration_s)),
  );
}
