// The player bar: controls, the queue, keyboard shortcuts and the system's media keys.
import { stats } from "../api.js";
import { clock, fill, h, icon, notify } from "../dom.js";
import { reportListens } from "./listens.js";
import { Player } from "./player.js";
import { keepQueue } from "./saved-queue.js";

const SHORTCUTS = [
  ["Space", "play or pause"],
  ["← / →", "back or forward 5 seconds"],
  ["Shift + ← / →", "previous or next track"],
  ["↑ / ↓", "volume up or down"],
  ["M", "mute or unmute"],
  ["Q", "show or hide the queue"],
  ["?", "this help"],
];

export function mount(section) {
  const audio = h("audio", { id: "audio", preload: "auto" });
  const player = new Player(audio);
  window.vezaDebug = { player, engine: player.engine.stats, auth: stats };
  reportListens(player);
  keepQueue(player);

  const button = (label, text, onclick, extra = {}) =>
    h("button", { class: "icon", "aria-label": label, title: label, onclick, ...extra }, text);
  const play = button("Play", icon("play"), () => player.toggle(), { id: "play" });
  const title = h("a", { class: "title", href: "" });
  const byline = h("span", { class: "by" });
  const elapsed = h("span", { class: "time", id: "elapsed" }, "0:00");
  const total = h("span", { class: "time" }, "0:00");
  const seek = h("input", { type: "range", id: "seek", min: 0, max: 0, step: "any", value: 0, "aria-label": "Seek" });
  const volume = h("input", { type: "range", id: "volume", min: 0, max: 1, step: 0.05, value: player.volume, "aria-label": "Volume" });
  const queueList = h("ol", { class: "queue-list", "aria-label": "Queue" });
  const queuePanel = h("div", { class: "queue", id: "queue", hidden: true }, h("h2", {}, "Queue"), queueList);
  const queueButton = button("Queue", icon("queue"), () => toggleQueue(), { "aria-expanded": "false", "aria-controls": "queue" });
  const help = h(
    "dialog",
    { class: "help", "aria-labelledby": "help-title" },
    h("h2", { id: "help-title" }, "Keyboard shortcuts"),
    h("dl", {}, SHORTCUTS.map(([key, what]) => [h("dt", {}, h("kbd", {}, key)), h("dd", {}, what)])),
    h("form", { method: "dialog" }, h("button", { class: "primary" }, "Close")),
  );
  let seeking = false;

  fill(
    section,
    audio,
    h(
      "div",
      { class: "now" },
      h("span", { class: "what" }, title, byline),
    ),
    h(
      "div",
      { class: "controls" },
      button("Previous track", icon("previous"), () => player.previous()),
      play,
      button("Next track", icon("next"), () => player.next()),
    ),
    h("div", { class: "scrub" }, elapsed, seek, total),
    h(
      "div",
      { class: "extra" },
      h("label", { class: "volume" }, h("span", { class: "visually-hidden" }, "Volume"), volume),
      queueButton,
      button("Copy stream link", icon("link"), async () => {
        const track = player.current();
        if (!track) return;
        const { copyStreamLink } = await import("../pages/track.js");
        copyStreamLink(track.id);
      }),
      button("Keyboard shortcuts", "?", () => help.showModal()),
    ),
    queuePanel,
    help,
  );

  function toggleQueue(show = queuePanel.hidden) {
    queuePanel.hidden = !show;
    queueButton.setAttribute("aria-expanded", String(show));
  }

  function showQueue() {
    fill(
      queueList,
      player.queue.map((track, i) =>
        h(
          "li",
          { class: i === player.index ? "current" : null, "aria-current": i === player.index ? "true" : null },
          h("button", { class: "link", onclick: () => player.jump(i) }, track.title || track.original_name),
          h("span", { class: "by" }, ` ${track.artist || ""}`),
          i === player.index ? null : button(`Remove ${track.title} from the queue`, "×", () => player.removeAt(i)),
        ),
      ),
    );
  }

  function showTrack() {
    const track = player.current();
    section.classList.toggle("idle", !track);
    title.textContent = track ? track.title || track.original_name : "Nothing playing";
    if (track) title.href = `tracks/${track.id}`;
    else title.removeAttribute("href");
    byline.textContent = track ? [track.artist, track.album].filter(Boolean).join(" · ") : "";
    seek.max = track ? String(track.duration_s || 0) : "0";
    total.textContent = clock(track ? track.duration_s : 0);
    if ("mediaSession" in navigator) {
      navigator.mediaSession.metadata = track
        ? new MediaMetadata({ title: track.title, artist: track.artist, album: track.album })
        : null;
    }
    showQueue();
  }

  function showTime() {
    const position = player.position();
    const duration = player.duration();
    elapsed.textContent = clock(position);
    if (seek.max !== String(duration)) {
      seek.max = String(duration);
      total.textContent = clock(duration);
    }
    if (!seeking) seek.value = String(position);
    const track = player.current();
    if ("mediaSession" in navigator && track && duration) {
      try {
        navigator.mediaSession.setPositionState({
          duration,
          position: Math.min(position, duration),
          playbackRate: audio.playbackRate,
        });
      } catch {
        // a position past the duration while the next track starts: the next update fixes it
      }
    }
  }

  function showState() {
    const playing = !audio.paused;
    play.replaceChildren(icon(playing ? "pause" : "play"));
    play.setAttribute("aria-label", playing ? "Pause" : "Play");
    play.title = playing ? "Pause" : "Play";
    volume.value = String(player.volume);
    if ("mediaSession" in navigator) navigator.mediaSession.playbackState = playing ? "playing" : "paused";
  }

  player.addEventListener("track", showTrack);
  player.addEventListener("queue", showQueue);
  player.addEventListener("time", showTime);
  player.addEventListener("state", showState);
  player.addEventListener("error", (event) => notify(`Playback stopped: ${event.detail}`, "error"));
  seek.addEventListener("input", () => {
    seeking = true;
    elapsed.textContent = clock(Number(seek.value));
  });
  seek.addEventListener("change", () => {
    seeking = false;
    player.seek(Number(seek.value));
  });
  volume.addEventListener("input", () => player.setVolume(Number(volume.value)));

  if ("mediaSession" in navigator) {
    const actions = {
      play: () => audio.play(),
      pause: () => audio.pause(),
      previoustrack: () => player.previous(),
      nexttrack: () => player.next(),
      seekbackward: (d) => player.skip(-(d.seekOffset || 10)),
      seekforward: (d) => player.skip(d.seekOffset || 10),
      seekto: (d) => player.seek(d.seekTime),
    };
    for (const [action, handler] of Object.entries(actions)) {
      try {
        navigator.mediaSession.setActionHandler(action, handler);
      } catch {
        // an action this browser does not know
      }
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing = target.closest("input, textarea, select, [contenteditable]") && target.type !== "range";
    if (typing || help.open) return;
    const onControl = target.closest("button, a, input[type=range], [role=slider]");
    let handled = true;
    switch (event.key) {
      case " ":
        if (onControl) return; // Space presses the focused button
        player.toggle();
        break;
      case "ArrowLeft":
      case "ArrowRight":
        if (target.type === "range") return;
        if (event.shiftKey) (event.key === "ArrowLeft" ? player.previous() : player.next());
        else player.skip(event.key === "ArrowLeft" ? -5 : 5);
        break;
      case "ArrowUp":
      case "ArrowDown":
        if (target.type === "range") return;
        player.setVolume(player.volume + (event.key === "ArrowUp" ? 0.1 : -0.1));
        break;
      case "m":
      case "M":
        audio.muted = !audio.muted;
        break;
      case "q":
      case "Q":
        toggleQueue();
        break;
      case "?":
        help.showModal();
        break;
      default:
        handled = false;
    }
    if (handled) event.preventDefault();
  });

  showTrack();
  showState();
  return player;
}
