// One playlist: its entries in order, reordered by dragging or from the keyboard, tracks added
// from the library, and the changes other editors make shown as they happen (`playlist.changed`
// on the socket). Every edit names the version it is based on (If-Match): one that lost a race
// is refused with 412, and the playlist is read again. The owner's settings (details, cover,
// collaborators, handing over, deleting) are playlist-owner.js.
import { api, currentUser } from "../api.js";
import { cover } from "../covers.js";
import { clock, fill, h, notify } from "../dom.js";
import { confirmAction } from "../confirm.js";
import { live } from "../live.js";
import { ownerPanel } from "./playlist-owner.js";
import { navigate } from "./playlists.js";

export async function detail(main, id, player) {
  let playlist;
  const heading = h("h1", { id: "playlist-title" });
  const description = h("p", { class: "description", id: "playlist-description" });
  const about = h("p", { class: "muted", id: "playlist-about" });
  const art = h("div", { class: "playlist-cover" });
  const entries = h("ol", { class: "entries", "aria-labelledby": "playlist-title" });
  const actions = h("div", { class: "actions" });
  const adder = h("section", { class: "card", "aria-labelledby": "add-title", hidden: true });
  const status = h("p", { class: "visually-hidden", role: "status" });
  const lost = h("p", { class: "error", role: "alert" });
  const owner = ownerPanel({
    id,
    current: () => playlist,
    edit: (...args) => edit(...args),
  });
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "playlists" }, "Playlists")),
    h("div", { class: "playlist-head" }, art, h("div", {}, heading, description, about)),
    lost,
    actions,
    entries,
    status,
    adder,
    owner.element,
  );

  const mayEdit = () => playlist && (playlist.role === "owner" || playlist.role === "editor");
  const versioned = () => ({ "If-Match": `"v${playlist.version}"` });

  async function load() {
    try {
      playlist = await api("GET", `api/v1/playlists/${id}`);
    } catch (error) {
      // Removed from it (or it became private, or was deleted) while it was open: said so.
      lost.textContent = error.status === 404 && playlist ? "This playlist is no longer available to you: it was unshared or deleted." : error.message;
      for (const part of [actions, entries, adder, owner.element]) part.hidden = true;
      return false;
    }
    lost.textContent = "";
    actions.hidden = entries.hidden = false;
    show();
    return true;
  }

  /** An edit based on the version shown; refused as stale, the playlist is read again. */
  async function edit(method, path, json, { body, type } = {}) {
    try {
      const answer = await api(method, `api/v1/playlists/${id}${path}`, { json, body, type, headers: versioned() });
      await load();
      return answer ?? true; // null only for a failure
    } catch (error) {
      if (error.status === 412) {
        notify("Someone changed this playlist meanwhile: here it is as it is now; try again.");
      } else notify(error.message, "error");
      await load();
      return null;
    }
  }

  function show() {
    document.title = `${playlist.name} · Veza`;
    heading.textContent = playlist.name;
    description.textContent = playlist.description;
    if (art.dataset.url !== String(playlist.cover_url)) {
      art.dataset.url = String(playlist.cover_url);
      fill(art, playlist.cover_url ? cover(playlist.cover_url, 160, `Cover of ${playlist.name}`) : null);
    }
    entries.dataset.version = String(playlist.version);
    const count = playlist.entries.length;
    about.textContent = `${count} track${count === 1 ? "" : "s"} · ${clock(playlist.duration_s)} · ${playlist.visibility}${playlist.role ? ` · you are its ${playlist.role}` : ""}`;
    fill(
      actions,
      h("button", { class: "primary", onclick: () => playAll(0), disabled: !count }, "Play all"),
      h("a", { class: "button", href: `api/v1/playlists/${id}/export.m3u8`, download: `${playlist.name}.m3u8`, onclick: exportFile }, "Export M3U"),
      playlist.role === "editor" || playlist.role === "viewer" ? h("button", { onclick: leave }, "Leave this playlist") : null,
    );
    fill(entries, playlist.entries.map(row));
    adder.hidden = !mayEdit();
    owner.show(playlist);
  }

  function row(entry, index) {
    const t = entry.track;
    const title = t ? t.title || "Untitled" : "A track you may not play";
    const editable = mayEdit();
    const li = h(
      "li",
      { class: `entry${entry.available ? "" : " unavailable"}`, dataset: { id: entry.id }, draggable: editable ? "true" : null },
      h("span", { class: "what" }, entry.available ? h("a", { href: `tracks/${entry.track_id}`, class: "title" }, title) : title, t && t.artist ? h("span", { class: "by" }, ` · ${t.artist}`) : null),
      h("span", { class: "time" }, t ? clock(t.duration_s) : ""),
      editable
        ? h(
            "span",
            { class: "controls" },
            h("button", { class: "icon move", "aria-label": `Move ${title}: arrow keys, or drag`, title: "Drag, or use the arrow keys", onkeydown: (event) => keyMove(event, entry, index) }, "↕"),
            h("button", { class: "icon", "aria-label": `Remove ${title}`, onclick: () => edit("DELETE", `/entries/${entry.id}`) }, "×"),
          )
        : null,
    );
    if (entry.available) li.addEventListener("dblclick", () => playAll(index));
    if (editable) {
      li.addEventListener("dragstart", (event) => {
        event.dataTransfer.setData("text/x-veza-entry", entry.id);
        event.dataTransfer.effectAllowed = "move";
        li.classList.add("dragging");
      });
      li.addEventListener("dragend", () => li.classList.remove("dragging"));
      li.addEventListener("dragover", (event) => {
        if (!event.dataTransfer.types.includes("text/x-veza-entry")) return;
        event.preventDefault();
        li.classList.add("over");
      });
      li.addEventListener("dragleave", () => li.classList.remove("over"));
      li.addEventListener("drop", (event) => {
        event.preventDefault();
        li.classList.remove("over");
        const moved = event.dataTransfer.getData("text/x-veza-entry");
        if (moved && moved !== entry.id) move(moved, index);
      });
    }
    return li;
  }

  async function move(entryId, position) {
    const title = playlist.entries.find((e) => e.id === entryId)?.track?.title || "The track";
    if ((await edit("POST", `/entries/${entryId}/move`, { position })) === null) return;
    status.textContent = `${title} is now number ${position + 1} of ${playlist.entries.length}.`;
    entries.querySelector(`li[data-id="${entryId}"] .move`)?.focus();
  }

  function keyMove(event, entry, index) {
    const last = playlist.entries.length - 1;
    const to = { ArrowUp: index - 1, ArrowDown: index + 1, Home: 0, End: last }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    event.stopPropagation(); // not the player's shortcuts
    if (to >= 0 && to <= last && to !== index) move(entry.id, to);
  }

  async function playAll(from) {
    const wanted = playlist.entries.filter((e) => e.available);
    const start = wanted.indexOf(playlist.entries[from]);
    try {
      const tracks = await Promise.all(wanted.map((e) => api("GET", `api/v1/tracks/${e.track_id}`)));
      player.playList(tracks, Math.max(0, start));
    } catch (error) {
      notify(error.message, "error");
    }
  }

  async function exportFile(event) {
    // The export needs the bearer token: fetched here and handed over as a file.
    event.preventDefault();
    try {
      const { token } = await import("../api.js");
      const response = await fetch(event.currentTarget.href, { headers: { Authorization: `Bearer ${await token()}` } });
      if (!response.ok) throw new Error(`the export failed (${response.status})`);
      const link = h("a", { href: URL.createObjectURL(await response.blob()), download: `${playlist.name}.m3u8` });
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (error) {
      notify(error.message, "error");
    }
  }

  async function leave() {
    if (!(await confirmAction(`Leave “${playlist.name}”?`, "Leave"))) return;
    try {
      await api("DELETE", `api/v1/playlists/${id}/collaborators/${currentUser().id}`, { headers: versioned() });
      navigate("playlists");
    } catch (error) {
      notify(error.message, "error");
    }
  }

  // Adding from the library: search as you type, Add puts the track at the end.
  const search = h("input", { type: "search", id: "add-search", autocomplete: "off", placeholder: "Title, artist or album" });
  const found = h("ul", { class: "found", "aria-label": "Tracks found" });
  fill(adder, h("h2", { id: "add-title" }, "Add from the library"), h("p", { class: "field" }, h("label", { for: "add-search" }, "Search tracks to add"), search), found);
  let searching = null;
  let typing = 0;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(async () => {
      if (searching) searching.abort();
      searching = new AbortController();
      try {
        const page = await api("GET", "api/v1/tracks", { query: { q: search.value.trim(), limit: 10 }, signal: searching.signal });
        fill(
          found,
          page.items.map((t) =>
            h("li", {}, h("span", { class: "what" }, t.title || t.original_name, h("span", { class: "by" }, ` ${t.artist || ""}`)), h("button", { "aria-label": `Add ${t.title}`, onclick: () => edit("POST", "/entries", { track_id: t.id }) }, "Add")),
          ),
        );
      } catch (error) {
        if (error.name !== "AbortError") notify(error.message, "error");
      }
    }, 250);
  });

  if (!(await load())) return;
  // Changes by others: a newer version is read again (events carry ids only).
  const unsubscribe = live.subscribe(`playlist:${id}`);
  const offEvent = live.on("event", async ({ name, data }) => {
    if (name !== "playlist.changed" || data.playlist_id !== id || data.version <= playlist.version) return;
    if (data.change === "deleted") {
      notify(`“${playlist.name}” was deleted.`);
      return navigate("playlists");
    }
    await load();
    if (data.by !== currentUser().id) status.textContent = "The playlist changed.";
  });
  // Back from a disconnection: what was missed is read once.
  const offReady = live.on("subscribed", ({ topic }) => topic === `playlist:${id}` && load());
  return () => {
    unsubscribe();
    offEvent();
    offReady();
    clearTimeout(typing);
    if (searching) searching.abort();
  };
}
