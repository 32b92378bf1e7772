// A track: its tags and state, its waveform with the play position, and what can be done with it.
import { api, currentUser } from "../api.js";
import { bytes, clock, fill, h, notify, onceUntilFine } from "../dom.js";
import { watchTrack } from "../live.js";
import { cover } from "../covers.js";
import { Waveform } from "../waveform.js";

export async function render(main, { params, player }) {
  const [id] = params;
  let track;
  try {
    track = await api("GET", `api/v1/tracks/${id}`);
  } catch (error) {
    fill(main, h("h1", {}, "Track"), h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  const state = h("p", { class: "state", role: "status" });
  const canvas = h("canvas", { class: "waveform", height: 96 });
  const wave = new Waveform(canvas, {
    duration: track.duration_s,
    onSeek: (seconds) => {
      if (player.current() && player.current().id === id) player.seek(seconds);
      else player.playList([track], 0, seconds);
    },
  });
  const tags = h("dl", { class: "tags" });
  const counts = h("p", { class: "counts muted", id: "counts" });
  const like = h("button", { "aria-pressed": "false", "aria-label": "Like", id: "like", onclick: () => toggleLike() }, "♡ Like");
  let stats = null;
  const showStats = () => {
    if (!stats) return;
    const n = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;
    counts.textContent = `${n(stats.plays, "play")} · ${n(stats.listeners, "listener")} · ${n(stats.likes, "like")}`;
    like.setAttribute("aria-pressed", String(stats.liked));
    like.textContent = stats.liked ? "♥ Liked" : "♡ Like";
  };
  const loadStats = async () => {
    try {
      stats = await api("GET", `api/v1/tracks/${id}/stats`);
      showStats();
    } catch (error) {
      counts.textContent = error.message;
    }
  };
  async function toggleLike() {
    if (!stats) return;
    const liked = !stats.liked;
    try {
      await api(liked ? "PUT" : "DELETE", `api/v1/tracks/${id}/like`);
      stats = { ...stats, liked, likes: stats.likes + (liked ? 1 : -1) };
      showStats();
    } catch (error) {
      notify(error.message, "error");
    }
  }
  const onListen = ({ detail }) => detail.track_id === id && detail.counted && loadStats();
  player.addEventListener("listen", onListen);
  const actions = h("div", { class: "actions" });
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "" }, "Library"), track.album_id ? [" · ", h("a", { href: `albums/${track.album_id}` }, track.album || "Album")] : null),
    track.cover_url ? h("div", { class: "track-cover" }, cover(track.cover_url, 192, `Cover of ${track.title}`)) : null,
    h("h1", { id: "track-title" }, track.title || track.original_name),
    state,
    counts,
    canvas,
    actions,
    tags,
  );

  const showTags = () => {
    const rows = [
      ["Artist", track.artist],
      ["Album", track.album],
      ["Duration", clock(track.duration_s)],
      ["File", `${track.original_name} (${bytes(track.original_bytes)})`],
      ["Loudness", track.loudness.integrated_lufs === null ? null : `${track.loudness.integrated_lufs.toFixed(1)} LUFS`],
      ["Renditions", track.renditions.map((r) => `${r.codec.toUpperCase()} ${r.bitrate_kbps} kbit/s`).join(", ")],
      ["Added", new Date(track.created_at).toLocaleString()],
    ].filter(([, value]) => value);
    fill(tags, rows.map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
  };
  const showState = () => {
    if (track.status === "ready") state.textContent = "Ready to play";
    else if (track.status === "failed") state.textContent = `This track could not be transcoded: ${track.error}`;
    else state.textContent = `Transcoding: ${Math.round(track.progress * 100)}% (it plays already)`;
    state.className = `state ${track.status}`;
  };
  const loadWaveform = async () => {
    try {
      wave.setPeaks((await api("GET", `api/v1/tracks/${id}/waveform`)).peaks);
    } catch (error) {
      if (error.status !== 409) notify(error.message, "error");
    }
  };
  const owner = currentUser() && (currentUser().id === track.owner_id || ["admin", "moderator"].includes(currentUser().role));
  fill(
    actions,
    h("button", { class: "primary", onclick: () => player.playList([track], 0), disabled: track.status === "failed" }, "Play"),
    h("button", { onclick: () => player.enqueue(track), disabled: track.status === "failed" }, "Add to queue"),
    h("button", { onclick: () => copyStreamLink(id) }, "Copy stream link"),
    like,
    owner && visibilityChoice(),
    owner &&
      h(
        "button",
        {
          class: "danger",
          onclick: async () => {
            if (!confirm(`Delete “${track.title}” and its files?`)) return;
            try {
              await api("DELETE", `api/v1/tracks/${id}`);
              history.back();
            } catch (error) {
              notify(error.message, "error");
            }
          },
        },
        "Delete",
      ),
  );
  function visibilityChoice() {
    const select = h(
      "select",
      { id: "visibility" },
      [
        ["private", "Only me"],
        ["unlisted", "Anyone with the link"],
        ["public", "Everyone here"],
      ].map(([value, label]) => h("option", { value, selected: value === track.visibility }, label)),
    );
    select.addEventListener("change", async () => {
      try {
        track = await api("PATCH", `api/v1/tracks/${id}`, { json: { visibility: select.value } });
        notify(`Visible to: ${select.selectedOptions[0].textContent.toLowerCase()}.`);
      } catch (error) {
        notify(error.message, "error");
        select.value = track.visibility;
      }
    });
    return h("span", { class: "field inline" }, h("label", { for: "visibility" }, "Who may see it"), select);
  }
  showTags();
  showState();
  loadStats();
  if (track.status === "ready") loadWaveform();
  // While the socket is down it is read every second: a failure is said once, until one works.
  const watching = onceUntilFine("The transcode's progress is not being followed");
  const stopWatching =
    track.status === "processing"
      ? watchTrack(
          id,
          (fresh) => {
            watching.fine();
            track = fresh;
            showState();
            showTags();
            if (fresh.status === "ready") loadWaveform();
          },
          watching.failed,
        )
      : () => {};
  const onTime = () => {
    const current = player.current();
    wave.setPosition(current && current.id === id ? player.position() : 0);
  };
  player.addEventListener("time", onTime);
  onTime();
  return () => {
    player.removeEventListener("time", onTime);
    player.removeEventListener("listen", onListen);
    stopWatching();
    wave.destroy();
  };
}

/** The signed HLS URL, for VLC or another player; shown to copy by hand where the clipboard
 * is out of reach (a page not served over HTTPS or from localhost). */
export async function copyStreamLink(id) {
  let stream;
  try {
    stream = await api("GET", `api/v1/tracks/${id}/stream`);
  } catch (error) {
    notify(error.message, "error");
    return;
  }
  const until = new Date(stream.expires_at).toLocaleString();
  try {
    await navigator.clipboard.writeText(stream.hls_url);
    notify(`Stream link copied; it works until ${until}.`);
  } catch {
    notify(`Copy this stream link (it works until ${until}): ${stream.hls_url}`, "error");
  }
}
