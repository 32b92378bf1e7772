// The client's shell: the header, the router (pages load on demand), the player once signed in.
import { api, currentUser, onAuthChange, resume, signOut } from "./api.js";
import { fill, h, notify } from "./dom.js";
import { live } from "./live.js"; // the live connection follows sign-in and sign-out

/**
 * Client-side routes, relative to the page's base. A page module exports
 * `render(main, {params, path, query})` and may return a function called when it is left.
 * New pages (albums, playlists, chat, admin) are one line here and one module in pages/.
 */
export const routes = [
  { pattern: /^$/, page: "library", title: "Library" },
  { pattern: /^tracks\/([0-9a-f]{1,64})$/, page: "track", title: "Track" },
  { pattern: /^upload$/, page: "upload", title: "Upload" },
  { pattern: /^account$/, page: "account", title: "Account" },
  { pattern: /^playlists(?:\/([0-9a-f]{1,64}))?$/, page: "playlists", title: "Playlists" },
  { pattern: /^albums(?:\/([0-9a-f]{1,64}))?$/, page: "albums", title: "Albums" },
  { pattern: /^artists(?:\/([0-9a-f]{1,64}))?$/, page: "albums", title: "Artists" },
  { pattern: /^stats$/, page: "stats", title: "My stats" },
  { pattern: /^admin$/, page: "admin", title: "Administration" },
  { pattern: /^chat(?:\/([0-9a-f]{1,64}))?$/, page: "chat", title: "Chat" },
  { pattern: /^signin$/, page: "auth", title: "Sign in", public: true },
  { pattern: /^signup$/, page: "auth", title: "Create an account", public: true },
];

const basePath = new URL(document.baseURI).pathname;
const main = document.getElementById("main");
let leave = null;
let player = null;

/** The route path of the current location: "tracks/ab12", "" for the library. */
const here = () => decodeURI(location.pathname.slice(basePath.length)).replace(/\/$/, "");

/** Go to a client route ("upload", "tracks/ab12"). */
export function go(path, { replace = false } = {}) {
  const target = basePath + path;
  if (replace) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  return show();
}

async function show() {
  const path = here();
  const route = routes.find((r) => r.pattern.test(path));
  if (leave) {
    leave();
    leave = null;
  }
  if (!route) {
    document.title = "Not found · Veza";
    fill(main, h("h1", {}, "Nothing here"), h("p", {}, h("a", { href: "" }, "Back to the library")));
    return;
  }
  if (!route.public && !currentUser()) return go(`signin`, { replace: true });
  if (route.public && currentUser()) return go("", { replace: true });
  document.title = `${route.title} · Veza`;
  const params = path.match(route.pattern).slice(1);
  try {
    const module = await import(`./pages/${route.page}.js`);
    if (here() !== path) return; // the person moved on meanwhile
    fill(main);
    leave = (await module.render(main, { params, path, query: new URLSearchParams(location.search), player })) || null;
  } catch (error) {
    fill(main, h("h1", {}, "This page could not be shown"), h("p", { class: "error" }, error.message));
  }
  if (document.activeElement === document.body) main.focus({ preventScroll: true });
}

// The live connection, in words, once it has been down for a moment (a reconnect within that
// time is not worth a word): chat, receipts and live progress wait for it. The status region
// stays in the page, empty, and is filled when shown, so that screen readers announce it.
const DOWN_FOR_MS = 3000;
const DOWN_TEXT = "Connection lost: reconnecting… Messages and live updates will follow.";
const connection = h("p", { class: "connection", role: "status" });
let downTimer = 0;

function watchConnection() {
  clearTimeout(downTimer);
  connection.textContent = "";
  if (!live.wanted || live.up) return;
  downTimer = setTimeout(() => {
    if (live.wanted && !live.up) connection.textContent = DOWN_TEXT;
  }, DOWN_FOR_MS);
}
live.addEventListener("down", watchConnection);
live.addEventListener("up", watchConnection);

// On a phone notices sit just under the header (app.css): its height, kept current.
new ResizeObserver(([entry]) => {
  document.documentElement.style.setProperty("--top-height", `${entry.target.offsetHeight}px`);
}).observe(document.getElementById("top"));

function header(user) {
  const nav = user
    ? [
        h("a", { href: "" }, "Library"),
        h("a", { href: "upload" }, "Upload"),
        h("a", { href: "playlists" }, "Playlists"),
        h("a", { href: "chat" }, "Chat"),
        h("a", { href: "stats" }, "Stats"),
        user.role === "admin" && h("a", { href: "admin" }, "Admin"),
        h("a", { href: "account", title: "Account and sessions" }, user.display_name || user.username),
        h("button", { class: "link", onclick: () => signOut().catch((e) => notify(e.message, "error")) }, "Sign out"),
      ]
    : [h("a", { href: "signin" }, "Sign in"), h("a", { href: "signup" }, "Create an account")];
  fill(
    document.getElementById("top"),
    h("a", { class: "brand", href: "", "aria-label": "Veza, the library" }, "Veza"),
    h("nav", { "aria-label": "Main" }, nav),
    user && connection,
  );
}

// Same-origin links are client routes: no page load.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download") || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const target = new URL(link.href);
  if (target.origin !== location.origin || !target.pathname.startsWith(basePath)) return;
  event.preventDefault();
  go(target.pathname.slice(basePath.length) + target.search);
});
window.addEventListener("popstate", show);

onAuthChange(async (user) => {
  header(user);
  watchConnection(); // after live.js's own handler: signed in, the socket is not up yet
  if (user && !player) {
    const ui = await import("./player/ui.js");
    player = ui.mount(document.getElementById("player"));
  } else if (!user && player) {
    player.stop();
  }
  document.getElementById("player").hidden = !user;
  show();
});

window.addEventListener("unhandledrejection", (event) => {
  if (event.reason && event.reason.name === "AbortError") return;
  notify(event.reason ? event.reason.message : "something went wrong", "error");
});

header(null);
if (!(await resume())) show();
export { api };
