// The library: search as you type, pages loaded as the list scrolls (cursors).
import { api } from "../api.js";
import { h, notify } from "../dom.js";
import { trackRow } from "../tracklist.js";

const PAGE = 30;
const TYPING_MS = 250;

export function render(main, { query, player }) {
  const search = h("input", {
    type: "search",
    id: "search",
    name: "q",
    placeholder: "Title, artist or album",
    autocomplete: "off",
    value: query.get("q") || "",
  });
  const list = h("ul", { class: "tracks", "aria-label": "Tracks", "aria-busy": "true" });
  const empty = h("p", { class: "muted", hidden: true });
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  main.append(
    h("div", { class: "bar" }, h("h1", {}, "Library"), h("a", { class: "button", href: "upload" }, "Upload")),
    h("p", { class: "crumbs" }, h("a", { href: "albums" }, "Albums"), " · ", h("a", { href: "artists" }, "Artists")),
    h("p", { class: "field search" }, h("label", { for: "search" }, "Search tracks"), search),
    list,
    empty,
    sentinel,
  );

  let items = [];
  let cursor = null;
  let done = false;
  let controller = null;
  let loading = false;

  async function load(reset) {
    if (reset) {
      if (controller) controller.abort();
      items = [];
      cursor = null;
      done = false;
      list.replaceChildren();
    }
    if (done || (loading && !reset)) return;
    controller = new AbortController();
    const mine = controller;
    loading = true;
    list.setAttribute("aria-busy", "true");
    try {
      const q = search.value.trim();
      const page = await api("GET", "api/v1/tracks", { query: { q, limit: PAGE, cursor }, signal: mine.signal });
      if (mine !== controller) return;
      const start = items.length;
      items.push(...page.items);
      page.items.forEach((track, i) => list.append(trackRow(track, () => player.playList(items, start + i))));
      cursor = page.next_cursor;
      done = cursor === null;
      empty.hidden = items.length > 0;
      empty.textContent = q ? `No track matches “${q}”.` : "No tracks yet: upload some.";
    } catch (error) {
      if (error.name !== "AbortError") notify(error.message, "error");
      done = true;
    } finally {
      if (mine === controller) {
        loading = false;
        list.setAttribute("aria-busy", "false");
        // The sentinel may still be in view (a short page): keep filling.
        if (!done && sentinel.getBoundingClientRect().top < innerHeight + 400) load(false);
      }
    }
  }

  let typing = 0;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      const q = search.value.trim();
      history.replaceState(null, "", q ? `?q=${encodeURIComponent(q)}` : location.pathname);
      load(true);
    }, TYPING_MS);
  });
  const observer = new IntersectionObserver((entries) => entries[0].isIntersecting && load(false), {
    rootMargin: "400px",
  });
  observer.observe(sentinel);
  load(true);
  return () => {
    observer.disconnect();
    clearTimeout(typing);
    if (controller) controller.abort();
  };
}
