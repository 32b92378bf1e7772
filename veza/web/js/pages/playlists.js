// Playlists: mine, shared with me and public ones; a new one, or one imported from an M3U,
// M3U8 or XSPF file (what matched and what did not said in words). One playlist's page is
// playlist.js, loaded when one is opened.
import { api } from "../api.js";
import { clock, fill, h, notify } from "../dom.js";

export const VISIBILITIES = [
  ["private", "Private: you and your collaborators"],
  ["unlisted", "Unlisted: anyone with the link"],
  ["public", "Public: everyone on this server"],
];

export const visibilitySelect = (id, value = "private") =>
  h("select", { id }, VISIBILITIES.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));

export const navigate = (path) => {
  history.pushState(null, "", new URL(path, document.baseURI).pathname);
  dispatchEvent(new PopStateEvent("popstate"));
};

export async function render(main, { params, player }) {
  const [id] = params;
  if (!id) return overview(main);
  const { detail } = await import("./playlist.js");
  return detail(main, id, player);
}

function overview(main) {
  const name = h("input", { id: "playlist-name", required: true, maxlength: 200, autocomplete: "off" });
  const visibility = visibilitySelect("playlist-visibility");
  const form = h(
    "form",
    { class: "card new-playlist" },
    h("h2", {}, "New playlist"),
    h("p", { class: "field" }, h("label", { for: "playlist-name" }, "Name"), name),
    h("p", { class: "field" }, h("label", { for: "playlist-visibility" }, "Who may see it"), visibility),
    h("button", { type: "submit", class: "primary" }, "Create"),
  );
  const list = h("ul", { class: "playlists", "aria-label": "Playlists", "aria-busy": "true" });
  main.append(h("h1", {}, "Playlists"), list, form, importer(() => listPlaylists()));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const made = await api("POST", "api/v1/playlists", { json: { name: name.value.trim(), visibility: visibility.value } });
      navigate(`playlists/${made.id}`);
    } catch (error) {
      notify(error.message, "error");
    }
  });
  const controller = new AbortController();
  async function listPlaylists() {
    list.setAttribute("aria-busy", "true");
    try {
      const page = await api("GET", "api/v1/playlists", { query: { limit: 100 }, signal: controller.signal });
      fill(
        list,
        page.items.map((p) =>
          h(
            "li",
            {},
            h("a", { href: `playlists/${p.id}` }, p.name),
            h("span", { class: "muted" }, ` · ${p.track_count} track${p.track_count === 1 ? "" : "s"} · ${clock(p.duration_s)} · ${p.role || p.visibility}`),
          ),
        ),
      );
      if (!page.items.length) list.append(h("li", { class: "muted" }, "No playlist yet: create one below."));
    } catch (error) {
      if (error.name !== "AbortError") fill(list, h("li", { class: "error", role: "alert" }, error.message));
    }
    list.setAttribute("aria-busy", "false");
  }
  listPlaylists();
  return () => controller.abort();
}

/** Import a playlist file: the answer says how many entries matched, and which did not. */
function importer(imported) {
  const file = h("input", { type: "file", id: "import-file", required: true, accept: ".m3u,.m3u8,.xspf,audio/x-mpegurl,application/vnd.apple.mpegurl,application/xspf+xml" });
  const name = h("input", { id: "import-name", maxlength: 200, autocomplete: "off" });
  const visibility = visibilitySelect("import-visibility");
  const result = h("div", { class: "import-result", role: "status" });
  const button = h("button", { type: "submit" }, "Import");
  const form = h(
    "form",
    { class: "card import" },
    h("h2", {}, "Import a playlist"),
    h("p", { class: "muted" }, "An M3U, M3U8 or XSPF file: its entries are matched with the tracks you may play, by title and artist or by file name."),
    h("p", { class: "field" }, h("label", { for: "import-file" }, "Playlist file"), file),
    h("p", { class: "field" }, h("label", { for: "import-name" }, "Call it (empty: as the file says)"), name),
    h("p", { class: "field" }, h("label", { for: "import-visibility" }, "Who may see it"), visibility),
    button,
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!file.files.length) return;
    const data = new FormData();
    data.append("file", file.files[0], file.files[0].name);
    if (name.value.trim()) data.append("name", name.value.trim());
    data.append("visibility", visibility.value);
    button.disabled = true;
    fill(result, "Importing…");
    try {
      const answer = await api("POST", "api/v1/playlists/import", { body: data });
      fill(result, ...importReport(answer));
      form.reset();
      imported();
    } catch (error) {
      fill(result, h("p", { class: "error", role: "alert" }, `The import failed: ${error.message}`));
    }
    button.disabled = false;
  });
  return form;
}

function importReport({ playlist, matched, unmatched }) {
  const total = matched + unmatched.length;
  const summary = `“${playlist.name}” was made with ${matched} of ${total} entr${total === 1 ? "y" : "ies"}: ${
    unmatched.length ? `${unmatched.length} matched no track you may play.` : "every one matched a track."
  }`;
  return [
    h("p", {}, summary, " ", h("a", { href: `playlists/${playlist.id}` }, `Open “${playlist.name}”`)),
    unmatched.length
      ? h(
          "ul",
          { class: "unmatched", "aria-label": "Entries that matched nothing" },
          unmatched.map((u) => h("li", {}, `Entry ${u.index + 1}: ${describe(u)}`)),
        )
      : null,
  ];
}

/** An entry of an imported file, as the file gave it. */
function describe({ title, artist, location }) {
  if (title) return `“${title}”${artist ? ` by ${artist}` : ""}`;
  return location || "an entry with no title or location";
}
