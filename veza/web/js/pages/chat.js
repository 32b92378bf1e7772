// Chat: the conversations (unread counts, last message, presence), one conversation's history
// (older pages as it scrolls up), sending with a client_id (retried on reconnection without
// duplicates), editing and deleting messages, the typing indicator and read receipts, a group's
// members (added, removed, leaving), all live over the socket (js/live.js).
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

const usernames = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

/** The ids of exact usernames; an Error naming the first that is nobody's. */
async function idsOf(wanted) {
  const ids = [];
  for (const username of wanted) {
    const found = await api("GET", "api/v1/users", { query: { username } });
    if (!found.items.length) throw new Error(`nobody is called ${username}`);
    ids.push(found.items[0].id);
  }
  return ids;
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
  const groupTitle = h("input", { id: "group-title", name: "title", required: true, maxlength: 100, autocomplete: "off" });
  const groupMembers = h("input", { id: "group-members", name: "members", required: true, autocomplete: "off", placeholder: "usernames, separated by commas" });
  const group = h(
    "details",
    { class: "new-group" },
    h("summary", {}, "New group"),
    h(
      "form",
      { onsubmit: (event) => (event.preventDefault(), createGroup(groupTitle.value, groupMembers.value)) },
      h("p", { class: "field" }, h("label", { for: "group-title" }, "Group title"), groupTitle),
      h("p", { class: "field" }, h("label", { for: "group-members" }, "Members"), groupMembers),
      h("button", { type: "submit", class: "primary" }, "Create the group"),
    ),
  );
  const side = h("aside", { class: "chat-list" }, h("h1", {}, "Chat"), start, group, list);
  const pane = h("section", { class: "chat-pane", "aria-label": "Conversation" });
  main.append(h("div", { class: `chat${openId ? " open" : ""}` }, side, pane));

  async function startWith(text) {
    const wanted = usernames(text);
    try {
      const ids = await idsOf(wanted);
      const kind = ids.length === 1 ? "direct" : "group";
      const title = kind === "group" ? wanted.join(", ").slice(0, 100) : undefined;
      const conversation = await api("POST", "api/v1/conversations", { json: { kind, member_ids: ids, title } });
      navigate(`chat/${conversation.id}`);
    } catch (error) {
      notify(error.message, "error");
    }
  }
  async function createGroup(title, text) {
    try {
      const ids = await idsOf(usernames(text));
      const conversation = await api("POST", "api/v1/conversations", { json: { kind: "group", member_ids: ids, title: title.trim() } });
      navigate(`chat/${conversation.id}`);
    } catch (error) {
      notify(`The group was not created: ${error.message}`, "error");
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
  stops.push(
    live.on("event", ({ name, data }) => {
      if (data.user_id !== me) return;
      if (name === "member.added") refreshList(data.conversation_id);
      if (name === "member.removed") {
        rows.get(data.conversation_id)?.li.remove();
        rows.delete(data.conversation_id);
      }
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

// Roles that may delete other people's messages (the moderate permission,
// veza/accounts/permissions.py); the server decides, this only decides which buttons to show.
const MODERATORS = ["admin", "moderator"];
const excerpt = (text) => (text.length > 40 ? `${text.slice(0, 40)}…` : text);

/**
 * One conversation: history, composer, typing, receipts, editing and deleting, a group's
 * members. Returns the function that leaves.
 */
async function conversation(pane, id, rows) {
  const me = currentUser().id;
  const moderator = MODERATORS.includes(currentUser().role);
  let detail;
  try {
    detail = await api("GET", `api/v1/conversations/${id}`);
  } catch (error) {
    pane.append(h("p", { class: "error", role: "alert" }, error.message));
    return () => {};
  }
  let others = detail.members.filter((m) => m.user_id !== me);
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
  const group = detail.kind === "group";
  const count = h("span", { class: "muted" }, group ? ` · ${detail.member_count} members` : "");
  const membersPanel = h("section", { id: "members", class: "members", "aria-labelledby": "members-title", hidden: true });
  const membersButton = group
    ? h("button", { type: "button", "aria-expanded": "false", "aria-controls": "members", onclick: () => toggleMembers() }, "Members")
    : null;
  const back = () => h("p", { class: "crumbs chat-back" }, h("a", { href: "chat" }, "All conversations"));
  fill(
    pane,
    back(),
    h("div", { class: "chat-head" }, h("h2", {}, detail.peer_id ? dot(detail.peer_id) : null, " ", title, count), membersButton),
    membersPanel,
    log,
    typing,
    composer,
  );
  showPresence(pane);

  const messages = new Map(); // seq -> message
  const shown = new Map(); // seq -> {m, li}: an element is built again only when its message changed
  const pending = new Map(); // client_id -> {body, li}
  let older = null; // `before` of the next older page
  let loadingOlder = false;
  let lastSeq = 0;
  let readSent = detail.read_seq;
  let editing = null; // the seq of the message being edited

  const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  // Edit: my own messages within the server's window (a late one is refused in words).
  const editable = (m) => m.sender_id === me && !m.deleted && Date.now() - Date.parse(m.created_at) < detail.edit_window_seconds * 1000;
  const deletable = (m) => !m.deleted && (m.sender_id === me || moderator);
  const item = (m) =>
    h(
      "li",
      { class: `message${m.sender_id === me ? " mine" : ""}${m.deleted ? " deleted" : ""}`, dataset: { seq: m.seq }, tabindex: -1 },
      h("span", { class: "who muted" }),
      editing === m.seq ? editor(m) : h("span", { class: "body" }, m.deleted ? "This message was deleted" : m.body),
      h("time", { class: "muted", datetime: m.created_at }, new Date(m.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })),
      m.edited_at && !m.deleted ? h("span", { class: "muted edited" }, "(edited)") : null,
      editing !== m.seq && (editable(m) || deletable(m))
        ? h(
            "span",
            { class: "actions" },
            editable(m) ? h("button", { type: "button", class: "link", "aria-label": `Edit “${excerpt(m.body)}”`, onclick: () => startEdit(m.seq) }, "Edit") : null,
            deletable(m) ? h("button", { type: "button", class: "link danger", "aria-label": `Delete “${excerpt(m.body)}”`, onclick: (event) => confirmDelete(m, event.currentTarget.parentNode) }, "Delete") : null,
          )
        : null,
    );
  const fillName = async (li, m) => {
    if (group && m.sender_id !== me) li.querySelector(".who").textContent = `${await nameOf(m.sender_id)}: `;
  };

  function render() {
    const stick = atBottom();
    const wanted = [];
    for (const seq of [...messages.keys()].sort((a, b) => a - b)) {
      const m = messages.get(seq);
      let entry = shown.get(seq);
      if (!entry || entry.m !== m) {
        const li = item(m);
        fillName(li, m);
        if (entry && entry.li.parentNode === list) entry.li.replaceWith(li); // in place: the others keep their focus
        entry = { m, li };
        shown.set(seq, entry);
      }
      wanted.push(entry.li);
    }
    for (const p of pending.values()) wanted.push(p.li);
    // Put the elements in order, moving only those out of place (a moved element loses focus).
    let at = list.firstChild;
    for (const el of wanted) {
      if (el === at) at = at.nextSibling;
      else list.insertBefore(el, at);
    }
    while (at) {
      const next = at.nextSibling;
      at.remove();
      at = next;
    }
    showReceipts();
    if (stick) log.scrollTop = log.scrollHeight;
    windowEnds();
  }
  // When the edit window of the first of my messages still editable ends, its Edit goes.
  let windowTimer = 0;
  function windowEnds() {
    clearTimeout(windowTimer);
    const ends = [...shown.values()].filter(({ m }) => editable(m)).map(({ m }) => Date.parse(m.created_at) + detail.edit_window_seconds * 1000);
    if (!ends.length) return;
    windowTimer = setTimeout(() => {
      for (const [seq, { m, li }] of shown) if (!editable(m) && editing !== seq && li.querySelector(".actions button:first-child:not(.danger)")) shown.delete(seq);
      render();
    }, Math.min(...ends) - Date.now() + 100);
  }
  /** Build a message's element again (its buttons or editor changed), then focus in it. */
  function redraw(seq, focus) {
    shown.delete(seq);
    render();
    const li = shown.get(seq)?.li;
    if (li) (focus && li.querySelector(focus) ? li.querySelector(focus) : li).focus();
  }

  // Editing: the body becomes a form; Enter saves, Shift+Enter is a new line, Escape cancels.
  function editor(m) {
    const area = h("textarea", { id: `edit-${m.seq}`, rows: 2, maxlength: 4000 }, m.body);
    const save = h("button", { type: "submit", class: "primary" }, "Save");
    const form = h(
      "form",
      {
        class: "edit",
        onsubmit: async (event) => {
          event.preventDefault();
          const text = area.value.trim();
          if (text === m.body) return stopEdit(m.seq);
          if (!text) return notify("A message cannot be empty: delete it instead.", "error");
          save.disabled = true;
          try {
            const edited = await api("PATCH", `api/v1/conversations/${id}/messages/${m.seq}`, { json: { body: text } });
            editing = null;
            add(edited);
            redraw(m.seq, ".actions button");
          } catch (error) {
            save.disabled = false;
            notify(`Not edited: ${error.message}`, "error");
          }
        },
      },
      h("label", { for: `edit-${m.seq}`, class: "visually-hidden" }, "Edit the message"),
      area,
      save,
      h("button", { type: "button", onclick: () => stopEdit(m.seq) }, "Cancel"),
    );
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        stopEdit(m.seq);
      }
    });
    return form;
  }
  function startEdit(seq) {
    if (editing !== null) stopEdit(editing);
    editing = seq;
    redraw(seq, "textarea");
    const area = shown.get(seq)?.li.querySelector("textarea");
    if (area) area.selectionStart = area.value.length;
  }
  function stopEdit(seq) {
    editing = null;
    redraw(seq, ".actions button");
  }

  // Deleting asks first, in place: "Delete" then "Yes, delete" or "Keep it".
  function confirmDelete(m, actions) {
    const keep = h("button", { type: "button", onclick: () => redraw(m.seq, ".actions button") }, "Keep it");
    fill(
      actions,
      h("span", { id: `confirm-${m.seq}` }, "Delete this message?"),
      " ",
      h("button", { type: "button", class: "danger", "aria-describedby": `confirm-${m.seq}`, onclick: () => remove(m) }, "Yes, delete"),
      " ",
      keep,
    );
    keep.focus();
  }
  async function remove(m) {
    try {
      await api("DELETE", `api/v1/conversations/${id}/messages/${m.seq}`);
      add({ ...m, body: "", deleted: true }); // the socket tells the same, unless it is down
      redraw(m.seq);
    } catch (error) {
      notify(`Not deleted: ${error.message}`, "error");
      redraw(m.seq, ".actions button");
    }
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
    if (had && editing === m.seq && m.deleted) editing = null; // deleted meanwhile (a moderator)
    lastSeq = Math.max(lastSeq, m.seq);
    for (const [clientId, p] of pending) if (m.client_id === clientId && m.sender_id === me) pending.delete(clientId);
    return true;
  }

  // A group's members: who they are, and for its admins adding and removing them; leaving.
  let leaving = false;
  function toggleMembers() {
    const open = membersPanel.hidden;
    membersPanel.hidden = !open;
    membersButton.setAttribute("aria-expanded", String(open));
    if (open) showMembers();
  }
  function showMembers() {
    if (!group) return;
    count.textContent = ` · ${detail.members.length} members`;
    if (membersPanel.hidden) return;
    const admin = detail.role === "admin";
    const who = h("input", { id: "add-member", autocomplete: "off", required: true, placeholder: "a username" });
    const adding = h(
      "form",
      {
        class: "start",
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            const [userId] = await idsOf(usernames(who.value));
            await api("POST", `api/v1/conversations/${id}/members`, { json: { user_id: userId } });
            notify(`${who.value.trim()} was added to the group.`);
            await reload();
            membersPanel.querySelector("#add-member")?.focus();
          } catch (error) {
            notify(`Not added: ${error.message}`, "error");
          }
        },
      },
      h("label", { for: "add-member" }, "Add a member"),
      h("span", { class: "row" }, who, h("button", { type: "submit" }, "Add")),
    );
    const leave = h("button", { type: "button", class: "danger leave", onclick: () => confirmLeave(leave.parentNode) }, "Leave the group");
    fill(
      membersPanel,
      h("h3", { id: "members-title" }, "Members"),
      h(
        "ul",
        { class: "member-list" },
        detail.members.map((m) => {
          const name = h("span", { class: "name" }, m.user_id === me ? "you" : "…");
          const drop = admin && m.user_id !== me ? h("button", { type: "button", class: "link danger", onclick: () => removeMember(m.user_id, name.textContent) }, "Remove") : null;
          if (m.user_id !== me) {
            nameOf(m.user_id).then((n) => {
              name.textContent = n;
              drop?.setAttribute("aria-label", `Remove ${n} from the group`);
            });
          }
          return h("li", { dataset: { user: m.user_id } }, name, m.role === "admin" ? h("span", { class: "badge" }, "admin") : null, drop);
        }),
      ),
      admin ? adding : null,
      h("p", {}, leave),
    );
  }
  function confirmLeave(where) {
    const stay = h("button", { type: "button", onclick: () => (showMembers(), membersPanel.querySelector("button.leave")?.focus()) }, "Stay");
    fill(
      where,
      "Leave “", title, "”? Its messages will no longer reach you. ",
      h("button", { type: "button", class: "danger", onclick: leaveGroup }, "Yes, leave"),
      " ",
      stay,
    );
    stay.focus();
  }
  async function leaveGroup() {
    leaving = true;
    try {
      await api("POST", `api/v1/conversations/${id}/leave`);
      gone(`You left “${title}”.`);
    } catch (error) {
      leaving = false;
      notify(`You are still in the group: ${error.message}`, "error");
    }
  }
  async function removeMember(userId, name) {
    try {
      await api("DELETE", `api/v1/conversations/${id}/members/${userId}`);
      notify(`${name} was removed from the group.`);
      await reload();
      membersPanel.querySelector("#add-member, .member-list button")?.focus();
    } catch (error) {
      notify(`Not removed: ${error.message}`, "error");
    }
  }
  /** The members again (someone joined or left). */
  async function reload() {
    try {
      detail = await api("GET", `api/v1/conversations/${id}`);
    } catch (error) {
      if (error.code === "not_a_member" || error.status === 404) return gone(`You are no longer a member of “${title}”.`);
      return notify(error.message, "error");
    }
    others = detail.members.filter((m) => m.user_id !== me);
    for (const m of detail.members) readOf.set(m.user_id, Math.max(m.read_seq, readOf.get(m.user_id) || 0));
    showMembers();
    showReceipts();
  }
  /** No longer a member: the conversation's view gives way to a sentence that says so. */
  let closed = false;
  function gone(text) {
    if (closed) return;
    closed = true;
    stopAll();
    rows.get(id)?.li.remove();
    rows.delete(id);
    const said = h("p", { role: "status", class: "gone", tabindex: -1 }, text);
    fill(pane, back(), said, h("p", {}, h("a", { href: "chat" }, "Back to your conversations")));
    said.focus();
  }

  function markRead() {
    if (closed || document.hidden || lastSeq <= readSent) return;
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
      shown.clear();
      older = await loadPage().catch(() => older);
      render();
    }),
    // After a reconnection: the socket resumed after the last seq (live.js); what was still
    // pending goes again with its client_id.
    live.on("ready", () => [...pending.keys()].forEach(sendPending)),
    // Members joining or leaving; me removed: the server sends nothing more of it, and says so.
    live.on("event", ({ name, data }) => {
      if (data.conversation_id !== id || (name !== "member.added" && name !== "member.removed")) return;
      if (name === "member.removed" && data.user_id === me) {
        gone(leaving ? `You left “${title}”.` : `You were removed from “${title}”: its new messages no longer reach you.`);
      } else {
        reload();
      }
    }),
  ];
  let stopped = false;
  function stopAll() {
    clearTimeout(windowTimer);
    if (!stopped) stops.forEach((stop) => stop());
    stopped = true;
  }
  window.vezaChat = { messages, pending, readOf }; // read by the browser tests
  return stopAll;
}
