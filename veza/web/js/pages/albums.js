// Albums and artists (from the tags): the albums as covers, sorted; one album with its tracks
// in order; the artists; one artist with their albums and top tracks.
import { api } from "../api.js";
import { clock, fill, h, notify } from "../dom.js";
import { cover } from "../covers.js";
import { trackRow } from "../tracklist.js";

const SORTS = [
  ["name", "Title"],
  ["artist", "Artist"],
  ["year", "Year"],
  ["newest", "Newest"],
  ["most_played", "Most played"],
];

const albumCard = (a) =>
  h(
    "li",
    { class: "album-card" },
    h("a", { href: `albums/${a.id}` }, cover(a.cover_url, 256, ""), h("span", { class: "title" }, a.title || "Untitled album")),
    h("span", { class: "by" }, h("a", { href: `artists/${a.artist_id}` }, a.artist || "Unknown artist"), a.year ? ` · ${a.year}` : ""),
  );

/** Cursor pages appended to `list` while `sentinel` comes into view. */
function scrolling(list, sentinel, fetchPage, item) {
  let cursor = null;
  let done = false;
  let busy = false;
  const controller = new AbortController();
  const more = async () => {
    if (busy || done) return;
    busy = true;
    list.setAttribute("aria-busy", "true");
    try {
      const page = await fetchPage(cursor, controller.signal);
      list.append(...page.items.map(item));
      cursor = page.next_cursor;
      done = cursor === null;
      if (done && !list.children.length) list.append(h("li", { class: "muted" }, "Nothing here yet."));
    } catch (error) {
      if (error.name !== "AbortError") notify(error.message, "error");
      done = true;
    }
    list.setAttribute("aria-busy", "false");
    busy = false;
    if (!done && sentinel.getBoundingClientRect().top < innerHeight) more();
  };
  const observer = new IntersectionObserver((seen) => seen.some((e) => e.isIntersecting) && more());
  observer.observe(sentinel);
  more();
  return () => {
    observer.disconnect();
    controller.abort();
  };
}

export async function render(main, { path, params, query, player }) {
  const [id] = params;
  if (path.startsWith("artists")) return id ? artist(main, id, player) : artists(main);
  return id ? album(main, id, player) : albums(main, query);
}

function albums(main, query) {
  const sort = h("select", { id: "album-sort" }, SORTS.map(([value, label]) => h("option", { value, selected: value === (query.get("sort") || "name") }, label)));
  const list = h("ul", { class: "albums", "aria-label": "Albums" });
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  main.append(
    h("div", { class: "bar" }, h("h1", {}, "Albums"), h("p", { class: "field" }, h("label", { for: "album-sort" }, "Sort by"), sort)),
    h("p", { class: "crumbs" }, h("a", { href: "" }, "Library"), " · ", h("a", { href: "artists" }, "Artists")),
    list,
    sentinel,
  );
  let stop = () => {};
  const start = () => {
    stop();
    fill(list);
    stop = scrolling(list, sentinel, (cursor, signal) => api("GET", "api/v1/albums", { query: { sort: sort.value, cursor, limit: 40 }, signal }), albumCard);
  };
  sort.addEventListener("change", () => {
    history.replaceState(null, "", `?sort=${sort.value}`);
    start();
  });
  start();
  return () => stop();
}

function artists(main) {
  const list = h("ul", { class: "artists", "aria-label": "Artists" });
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  main.append(h("h1", {}, "Artists"), h("p", { class: "crumbs" }, h("a", { href: "" }, "Library"), " · ", h("a", { href: "albums" }, "Albums")), list, sentinel);
  return scrolling(
    list,
    sentinel,
    (cursor, signal) => api("GET", "api/v1/artists", { query: { cursor, limit: 60 }, signal }),
    (a) => h("li", {}, h("a", { href: `artists/${a.id}` }, a.name), h("span", { class: "muted" }, ` · ${a.album_count} album${a.album_count === 1 ? "" : "s"}, ${a.track_count} track${a.track_count === 1 ? "" : "s"}`)),
  );
}

async function album(main, id, player) {
  let a;
  try {
    a = await api("GET", `api/v1/albums/${id}`);
  } catch (error) {
    main.append(h("h1", {}, "Album"), h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  document.title = `${a.title} · Veza`;
  const tracks = h("ol", { class: "tracks", "aria-label": `Tracks of ${a.title}` }, a.tracks.map((t, i) => trackRow(t, () => player.playList(a.tracks, i))));
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "albums" }, "Albums")),
    h(
      "div",
      { class: "album-head" },
      cover(a.cover_url, 256, `Cover of ${a.title}`),
      h(
        "div",
        {},
        h("h1", {}, a.title || "Untitled album"),
        h("p", {}, h("a", { href: `artists/${a.artist_id}` }, a.artist || "Unknown artist"), a.year ? ` · ${a.year}` : "", a.genre ? ` · ${a.genre}` : ""),
        h("p", { class: "muted" }, `${a.track_count} track${a.track_count === 1 ? "" : "s"} · ${clock(a.duration_s)}`),
        h("button", { class: "primary", onclick: () => player.playList(a.tracks, 0), disabled: !a.tracks.length }, "Play the album"),
      ),
    ),
    tracks,
  );
}

async function artist(main, id, player) {
  let a;
  try {
    a = await api("GET", `api/v1/artists/${id}`);
  } catch (error) {
    main.append(h("h1", {}, "Artist"), h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  document.title = `${a.name} · Veza`;
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "artists" }, "Artists")),
    h("h1", {}, a.name),
    h("h2", {}, "Top tracks"),
    h("ol", { class: "tracks", "aria-label": "Top tracks" }, a.top_tracks.map((t, i) => trackRow(t, () => player.playList(a.top_tracks, i)))),
    h("h2", {}, "Albums"),
    a.albums.length ? h("ul", { class: "albums", "aria-label": `Albums of ${a.name}` }, a.albums.map(albumCard)) : h("p", { class: "muted" }, "No album of theirs."),
  );
}
