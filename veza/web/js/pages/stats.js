// My stats: listening time and plays over a period, my most played tracks, artists and albums,
// and what is most played on this Veza.
import { api } from "../api.js";
import { clock, fill, h } from "../dom.js";

const PERIODS = [
  ["week", "This week"],
  ["month", "This month"],
  ["year", "This year"],
  ["all", "All time"],
];

const hours = (seconds) => (seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h` : clock(seconds));
const plays = (n) => `${n} play${n === 1 ? "" : "s"}`;

export function render(main, { query }) {
  const select = h(
    "select",
    { id: "period" },
    PERIODS.map(([value, label]) => h("option", { value, selected: value === (query.get("period") || "week") }, label)),
  );
  const body = h("div", { "aria-live": "polite", "aria-busy": "true" });
  main.append(
    h("div", { class: "bar" }, h("h1", {}, "My stats"), h("p", { class: "field" }, h("label", { for: "period" }, "Period"), select)),
    body,
  );
  const ranking = (title, items, line) =>
    h("section", { class: "card" }, h("h2", {}, title), items.length ? h("ol", { class: "ranking" }, items.map((item) => h("li", {}, line(item)))) : h("p", { class: "muted" }, "Nothing yet."));
  const trackLine = (t) => [h("a", { href: `tracks/${t.id}` }, t.title || "Untitled"), h("span", { class: "muted" }, ` ${t.artist ? `· ${t.artist} ` : ""}· ${plays(t.plays)}`)];

  let controller = null;
  async function load() {
    if (controller) controller.abort();
    controller = new AbortController();
    const period = select.value;
    body.setAttribute("aria-busy", "true");
    try {
      const [mine, top] = await Promise.all([
        api("GET", "api/v1/me/stats", { query: { period }, signal: controller.signal }),
        api("GET", "api/v1/stats/top", { query: { period }, signal: controller.signal }),
      ]);
      fill(
        body,
        h("p", { class: "summary", id: "summary" }, `${plays(mine.plays)}, ${hours(mine.seconds)} of listening`),
        h(
          "div",
          { class: "grid" },
          ranking("My tracks", mine.top_tracks, trackLine),
          ranking("My artists", mine.top_artists, (a) => [a.artist || "Unknown artist", h("span", { class: "muted" }, ` · ${plays(a.plays)}`)]),
          ranking("My albums", mine.top_albums, (a) => [a.album || "Unknown album", h("span", { class: "muted" }, ` · ${a.artist || "Unknown artist"} · ${plays(a.plays)}`)]),
          ranking("Most played here", top.items, trackLine),
        ),
      );
    } catch (error) {
      if (error.name === "AbortError") return;
      fill(body, h("p", { class: "error", role: "alert" }, error.message));
    }
    body.setAttribute("aria-busy", "false");
  }
  select.addEventListener("change", () => {
    history.replaceState(null, "", `?period=${select.value}`);
    load();
  });
  load();
  return () => controller && controller.abort();
}
