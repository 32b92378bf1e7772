// Chat: the conversations (unread counts, last message, presence), one conversation's history
// (older pages as it scrolls up), sending with a client_id (retried on reconnection without
// duplicates), the typing indicator and read receipts, all live over the socket (js/live.js).
import { api, currentUser } from "../api.js";
import { fill, h, notify } from "../dom.js";
import { live } from "../live.js";

const PAGE = 30;
const TYPING_REFRESH_MS = 3000; // below the server's 6 s expiry
const TYPING_IDLE_MS = 4000;
const names = new Map(); // user id -> Promise of the display name

/** A user's name, asked once per tab. */
function nameOf(id) {
  if (id === currentUser().id) return Promise.resolve("you");
  if (!names.has(id)) {
    names.set(
      id,
      api("GET", `api/v1/users/${id}`).then(
        (user) => user.display_name || user.username,
        () => "someone",
      ),
    );
  }
  return names.get(id);
}

const dot = (userId) =>
  h("span", { class: "dot", dataset: { user: userId, status: live.presence.get(userId) || "unknown" }, role: "img", "aria-label": live.presence.get(userId) || "presence unknown" });

function showPresence(root) {
  for (const el of root.querySelectorAll(".dot[data-user]")) {
    const status = live.presence.get(el.dataset.user) || "unknown";
    el.dataset.status = status;
    el.setAttribute("aria-label", status === "unknown" ? "presence unknown" : status);
  }
}

const navigate = (path) => {
  history.pushState(null, "", new URL(path, document.baseURI).pathname);
  dispatchEvent(new PopStateEvent("popstate"));
};

export async function render(main, { params }) {
  const [openId] = params;
  const me = currentUser().id;
  const stops = [];
  const list = h("ul", { class: "conversations", "aria-label": "Conversations", "aria-busy": "true" });
  const who = h("input", { id: "chat-with", name: "username", autocomplete: "off", required: true, placeholder: "a username, or several with commas" });
  const start = h(
    "form",
    { class: "start", onsubmit: (event) => (event.preventDefault(), startWith(who.value)) },
    h("label", { for: "chat-with" }, "Start a conversation with"),
    h("span", { class: "row" }, who, h("button", { type: "submit" }, "Start")),
  );
  const side = h("aside", { class: "chat-list" }, h("h1", {}, "Chat"), start, list);
  const pane = h("section", { class: "chat-pane", "aria-label": "Conversation" });
  main.append(h("div", { class: `chat${openId ? " open" : ""}` }, side, pane));

  async function startWith(text) {
    const wanted = text.split(",").map((s) => s.trim()).filter(Boolean);
    try {
      const ids = [];
      for (const username of wanted) {
        const found = await api("GET", "api/v1/users", { query: { username } });
        if (!found.items.length) throw new Error(`nobody is called ${username}`);
        ids.push(found.items[0].id);
      }
      const kind = ids.length === 1 ? "direct" : "group";
      const title = kind === "group" ? wanted.join(", ").slice(0, 100) : undefined;
      const conversation = await api("POST", "api/v1/conversations", { json: { kind, member_ids: ids, title } });
      navigate(`chat/${conversation.id}`);
    } catch (error) {
      notify(error.message, "error");
    }
  }

  // The list
  const rows = new Map(); // conversation id -> {conversation, li}
  const titleOf = async (c) => c.title || (c.peer_id ? await nameOf(c.peer_id) : "Just you");
  async function row(c) {
    const unread = c.id === openId ? 0 : c.unread_count;
    const last = c.last_message;
    const preview = !last ? "no message yet" : last.deleted ? "a deleted message" : `${last.sender_id === me ? "you: " : ""}${last.body}`;
    return h(
      "li",
      { dataset: { id: c.id } },
      h(
        "a",
        { href: `chat/${c.id}`, "aria-current": c.id === openId ? "page" : null },
        c.peer_id ? dot(c.peer_id) : null,
        h("span", { class: "name" }, await titleOf(c)),
        unread ? h("span", { class: "badge unread" }, h("span", { class: "visually-hidden" }, "unread: "), String(unread)) : null,
        h("span", { class: "preview muted" }, preview.slice(0, 80)),
      ),
    );
  }
  async function place(c) {
    const li = await row(c);
    const old = rows.get(c.id);
    rows.set(c.id, { conversation: c, li });
    if (old) old.li.remove();
    list.prepend(li); // the most recently active first
  }
  try {
    const page = await api("GET", "api/v1/conversations", { query: { limit: 100 } });
    const items = await Promise.all(page.items.map(async (c) => ({ c, li: await row(c) })));
    for (const { c, li } of items) rows.set(c.id, { conversation: c, li });
    fill(list, items.map(({ li }) => li));
    if (!items.length) list.append(h("li", { class: "muted" }, "No conversation yet: start one above."));
  } catch (error) {
    list.append(h("li", { class: "error", role: "alert" }, error.message));
  }
  list.setAttribute("aria-busy", "false");

  stops.push(
    // live.js keeps who is present (told at `ready`, then each change); the dots follow it.
    live.on("ready", () => showPresence(main)),
    live.on("presence", () => showPresence(main)),
    live.on("presences", () => showPresence(main)),
    live.on("message", ({ message }) => {
      const known = rows.get(message.conversation_id);
      if (!known) return place({ id: message.conversation_id, peer_id: null, title: "New conversation", unread_count: 1, last_message: message }).then(() => refreshList(message.conversation_id));
      const c = known.conversation;
      if (message.seq < c.last_seq) return; // an edit, or a resumed old one: the list keeps its order
      const fresh = message.seq > c.last_seq && message.sender_id !== me;
      place({ ...c, last_seq: message.seq, last_message: message, unread_count: c.unread_count + (fresh ? 1 : 0) });
    }),
  );
  async function refreshList(id) {
    try {
      place(await api("GET", `api/v1/conversations/${id}`));
    } catch {
      // it was left meanwhile
    }
  }

  if (openId) stops.push(await conversation(pane, openId, rows));
  else pane.append(h("p", { class: "muted empty" }, "Choose a conversation, or start one."));
  return () => stops.forEach((stop) => stop());
}

/** One conversation: history, composer, typing, receipts. Returns the function that leaves. */
async function conversation(pane, id, rows) {
  const me = currentUser().id;
  let detail;
  try {
    detail = await api("GET", `api/v1/conversations/${id}`);
  } catch (error) {
    pane.append(h("p", { class: "error", role: "alert" }, error.message));
    return () => {};
  }
  const others = detail.members.filter((m) => m.user_id !== me);
  const readOf = new Map(detail.members.map((m) => [m.user_id, m.read_seq]));
  const title = detail.title || (detail.peer_id ? await nameOf(detail.peer_id) : "Just you");
  const list = h("ol", { class: "message-list" });
  const log = h("div", { class: "messages", role: "log", "aria-label": `Messages with ${title}`, tabindex: 0 }, list);
  const typing = h("p", { class: "typing muted", "aria-live": "polite" });
  const body = h("textarea", { id: "message", rows: 2, maxlength: 4000, autocomplete: "off" });
  const composer = h(
    "form",
    { class: "composer" },
    h("label", { for: "message", class: "visually-hidden" }, "Message"),
    body,
    h("button", { type: "submit", class: "primary" }, "Send"),
  );
  fill(
    pane,
    h("p", { class: "crumbs chat-back" }, h("a", { href: "chat" }, "All conversations")),
    h("h2", {}, detail.peer_id ? dot(detail.peer_id) : null, " ", title, h("span", { class: "muted" }, detail.kind === "group" ? ` · ${detail.member_count} members` : "")),
    log,
    typing,
    composer,
  );
  showPresence(pane);

  const messages = new Map(); // seq -> message
  const pending = new Map(); // client_id -> {body, li}
  let older = null; // `before` of the next older page
  let loadingOlder = false;
  let lastSeq = 0;
  let readSent = detail.read_seq;

  const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const item = (m) =>
    h(
      "li",
      { class: `message${m.sender_id === me ? " mine" : ""}${m.deleted ? " deleted" : ""}`, dataset: { seq: m.seq } },
      h("span", { class: "who muted" }),
      h("span", { class: "body" }, m.deleted ? "(deleted)" : m.body),
      h("time", { class: "muted", datetime: m.created_at }, new Date(m.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })),
      m.edited_at ? h("span", { class: "muted" }, " (edited)") : null,
    );
  const fillName = async (li, m) => {
    if (detail.kind === "group" && m.sender_id !== me) li.querySelector(".who").textContent = `${await nameOf(m.sender_id)}: `;
  };

  function render() {
    const stick = atBottom();
    const seqs = [...messages.keys()].sort((a, b) => a - b);
    fill(
      list,
      seqs.map((seq) => {
        const m = messages.get(seq);
        const li = item(m);
        fillName(li, m);
        return li;
      }),
      [...pending.values()].map((p) => p.li),
    );
    showReceipts();
    if (stick) log.scrollTop = log.scrollHeight;
  }

  /** Under the last of my messages that others read: "Read" (a group: by how many). */
  function showReceipts() {
    for (const old of log.querySelectorAll(".receipt")) old.remove();
    const mine = [...log.querySelectorAll("li.message.mine[data-seq]")];
    for (let i = mine.length - 1; i >= 0; i -= 1) {
      const seq = Number(mine[i].dataset.seq);
      const readers = others.filter((m) => readOf.get(m.user_id) >= seq).length;
      if (!readers) continue;
      const text = detail.kind === "direct" ? "Read" : `Read by ${readers}`;
      mine[i].append(h("span", { class: "receipt" }, text));
      return;
    }
  }

  function add(m) {
    if (m.conversation_id !== id) return false;
    const had = messages.get(m.seq);
    if (had && had.edited_at === m.edited_at && had.deleted === m.deleted) return false; // a second copy
    messages.set(m.seq, m);
    lastSeq = Math.max(lastSeq, m.seq);
    for (const [clientId, p] of pending) if (m.client_id === clientId && m.sender_id === me) pending.delete(clientId);
    return true;
  }

  function markRead() {
    if (document.hidden || lastSeq <= readSent) return;
    readSent = lastSeq;
    if (!live.send({ type: "read", conversation_id: id, seq: lastSeq })) {
      api("POST", `api/v1/conversations/${id}/read`, { json: { seq: lastSeq } }).catch(() => {});
    }
    const row = rows.get(id);
    if (row) row.li.querySelector(".unread")?.remove();
  }

  async function loadPage(before) {
    const page = await api("GET", `api/v1/conversations/${id}/messages`, { query: { limit: PAGE, before } });
    page.items.forEach(add);
    return page.next_before;
  }

  async function loadOlder() {
    if (loadingOlder || older === null) return;
    loadingOlder = true;
    const height = log.scrollHeight;
    try {
      older = await loadPage(older);
      render();
      log.scrollTop += log.scrollHeight - height; // keep what was on screen in place
    } catch (error) {
      notify(error.message, "error");
    } finally {
      loadingOlder = false;
    }
  }

  try {
    older = await loadPage();
  } catch (error) {
    list.append(h("li", { class: "error", role: "alert" }, error.message));
  }
  render();
  log.scrollTop = log.scrollHeight;
  // Fill the view: a short first page may leave nothing to scroll.
  while (older !== null && log.scrollHeight <= log.clientHeight) await loadOlder();
  log.addEventListener("scroll", () => log.scrollTop < 80 && loadOlder());
  markRead();

  // Sending: shown at once as pending, acknowledged over the socket (or answered over REST
  // when the socket is down), sent again with the same client_id after a reconnection.
  function sendPending(clientId) {
    const p = pending.get(clientId);
    if (live.send({ type: "send", conversation_id: id, body: p.body, client_id: clientId })) return;
    api("POST", `api/v1/conversations/${id}/messages`, { json: { body: p.body, client_id: clientId } }).then(
      (m) => add(m) && render(),
      (error) => {
        if (error.status === 0) return; // offline: the next `ready` sends it again
        failed(clientId, error.message);
      },
    );
  }
  function failed(clientId, message) {
    const p = pending.get(clientId);
    if (!p) return;
    pending.delete(clientId);
    render();
    notify(`Not sent: ${message}`, "error");
    if (!body.value) body.value = p.body;
  }
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = body.value.trim();
    if (!text) return;
    const clientId = crypto.randomUUID();
    const li = h("li", { class: "message mine pending" }, h("span", { class: "body" }, text), h("span", { class: "muted" }, " sending…"));
    pending.set(clientId, { body: text, li });
    body.value = "";
    stopTyping();
    list.append(li);
    log.scrollTop = log.scrollHeight;
    sendPending(clientId);
  });
  body.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  // Typing: told when it starts, refreshed while it goes on, stopped after a pause.
  let typingSince = 0;
  let idleTimer = 0;
  function stopTyping() {
    clearTimeout(idleTimer);
    if (typingSince) live.send({ type: "typing", conversation_id: id, active: false });
    typingSince = 0;
  }
  body.addEventListener("input", () => {
    clearTimeout(idleTimer);
    if (!body.value.trim()) return stopTyping();
    if (Date.now() - typingSince > TYPING_REFRESH_MS && live.send({ type: "typing", conversation_id: id, active: true })) typingSince = Date.now();
    idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  });

  const unfollow = live.follow(id, lastSeq);
  const visible = () => markRead();
  document.addEventListener("visibilitychange", visible);
  const stops = [
    unfollow,
    () => document.removeEventListener("visibilitychange", visible),
    stopTyping,
    live.on("message", ({ message }) => {
      if (!add(message)) return;
      render();
      markRead();
    }),
    live.on("ack", ({ client_id, message }) => pending.has(client_id) && add(message) && render()),
    live.on("error", (frame) => frame.client_id && failed(frame.client_id, frame.message)),
    live.on("typing", async (frame) => {
      if (frame.conversation_id !== id) return;
      const typists = frame.typing.filter((user) => user !== me);
      const who = await Promise.all(typists.slice(0, 3).map(nameOf));
      typing.textContent = !who.length ? "" : `${who.join(", ")}${typists.length > 3 ? " and others" : ""} ${who.length > 1 ? "are" : "is"} typing…`;
    }),
    live.on("receipt", (frame) => {
      if (frame.conversation_id !== id || frame.kind !== "read") return;
      readOf.set(frame.user_id, Math.max(frame.seq, readOf.get(frame.user_id) || 0));
      showReceipts();
    }),
    live.on("resync", async (frame) => {
      if (frame.conversation_id !== id) return;
      messages.clear();
      older = await loadPage().catch(() => older);
      render();
    }),
    // After a reconnection: the socket resumed after the last seq (live.js); what was still
    // pending goes again with its client_id.
    live.on("ready", () => [...pending.keys()].forEach(sendPending)),
  ];
  window.vezaChat = { messages, pending, readOf }; // read by the browser tests
  return () => stops.forEach((stop) => stop());
}
