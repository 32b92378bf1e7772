// What only a playlist's owner changes: name, description and who may see it; the cover;
// collaborators (added by username, their role changed, removed); handing the playlist over
// to another account; deleting it. Every change goes through the page's `edit` (If-Match with
// the version shown; the playlist read again after it).
import { api } from "../api.js";
import { confirmAction } from "../confirm.js";
import { fill, h, notify } from "../dom.js";
import { navigate, visibilitySelect } from "./playlists.js";

const ROLES = [
  ["editor", "may edit"],
  ["viewer", "may listen"],
];

/** The account called `username` (exact), or an error in words. */
async function accountNamed(username) {
  const answer = await api("GET", "api/v1/users", { query: { username } });
  if (!answer.items.length) throw new Error(`Nobody is called ${username}.`);
  return answer.items[0];
}

/**
 * `edit(method, path, json, options)` sends one versioned change and resolves to its answer,
 * or null when it failed (already said in words); `current()` is the playlist shown.
 */
export function ownerPanel({ id, current, edit }) {
  const element = h("section", { class: "card owner", "aria-labelledby": "owner-title", hidden: true });

  // Details. What is typed is not overwritten by a change from elsewhere until it is saved.
  const name = h("input", { id: "details-name", required: true, maxlength: 200, autocomplete: "off" });
  const description = h("textarea", { id: "details-description", rows: 3, maxlength: 2000 });
  const visibility = visibilitySelect("details-visibility");
  let dirty = false;
  const details = h(
    "form",
    { class: "details", oninput: () => (dirty = true) },
    h("h3", {}, "Details"),
    h("p", { class: "field" }, h("label", { for: "details-name" }, "Name"), name),
    h("p", { class: "field" }, h("label", { for: "details-description" }, "Description"), description),
    h("p", { class: "field" }, h("label", { for: "details-visibility" }, "Who may see it"), visibility),
    h("button", { type: "submit", class: "primary" }, "Save the details"),
  );
  details.addEventListener("submit", async (event) => {
    event.preventDefault();
    const change = { name: name.value.trim(), description: description.value, visibility: visibility.value };
    dirty = false;
    if ((await edit("PATCH", "", change)) !== null) notify("Details saved.");
  });

  // The cover: an uploaded image, else the first tracks' covers.
  const file = h("input", { type: "file", id: "cover-file", accept: "image/*" });
  const removeCover = h("button", { type: "button", onclick: () => edit("DELETE", "/cover") }, "Remove the cover");
  const coverPart = h(
    "div",
    { class: "cover-edit" },
    h("h3", {}, "Cover"),
    h("p", { class: "field" }, h("label", { for: "cover-file" }, "Upload a cover image"), file),
    removeCover,
  );
  file.addEventListener("change", async () => {
    const image = file.files[0];
    if (!image) return;
    if ((await edit("PUT", "/cover", undefined, { body: image, type: image.type || "application/octet-stream" })) !== null) notify("Cover changed.");
    file.value = "";
  });

  // Collaborators.
  const people = h("ul", { class: "collaborators", "aria-label": "Collaborators" });
  const who = h("input", { id: "share-with", autocomplete: "off", required: true });
  const role = h("select", { id: "share-role" }, ROLES.map(([value, label]) => h("option", { value }, label)));
  const share = h(
    "form",
    { class: "share" },
    h("label", { for: "share-with" }, "Username"),
    who,
    h("label", { for: "share-role", class: "visually-hidden" }, "Role"),
    role,
    h("button", { type: "submit" }, "Share"),
  );
  share.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const user = await accountNamed(who.value.trim());
      if ((await edit("POST", "/collaborators", { user_id: user.id, role: role.value })) !== null) who.value = "";
    } catch (error) {
      notify(error.message, "error");
    }
  });

  // Handing over.
  const heir = h("input", { id: "transfer-to", autocomplete: "off", required: true, placeholder: "their username" });
  const transfer = h(
    "form",
    { class: "share transfer" },
    h("label", { for: "transfer-to" }, "New owner"),
    heir,
    h("button", { type: "submit" }, "Hand over"),
  );
  transfer.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const user = await accountNamed(heir.value.trim());
      const question = `Make ${user.username} the owner of “${current().name}”? You stay on as an editor.`;
      if (!(await confirmAction(question, "Hand over"))) return;
      if ((await edit("POST", "/transfer", { user_id: user.id })) !== null) {
        heir.value = "";
        notify(`${user.username} owns “${current().name}” now.`);
      }
    } catch (error) {
      notify(error.message, "error");
    }
  });

  const remove = h("button", { type: "button", class: "danger", onclick: deletePlaylist }, "Delete this playlist");
  async function deletePlaylist() {
    const playlist = current();
    if (!(await confirmAction(`Delete “${playlist.name}”? This cannot be undone.`, "Delete"))) return;
    try {
      await api("DELETE", `api/v1/playlists/${id}`, { headers: { "If-Match": `"v${playlist.version}"` } });
      notify(`“${playlist.name}” was deleted.`);
      navigate("playlists");
    } catch (error) {
      notify(error.message, "error");
    }
  }

  fill(
    element,
    h("h2", { id: "owner-title" }, "Settings"),
    details,
    coverPart,
    h("h3", { id: "share-title" }, "Shared with"),
    people,
    share,
    h("h3", {}, "Hand over"),
    h("p", { class: "muted" }, "Another account becomes the owner; you stay on as an editor."),
    transfer,
    h("h3", {}, "Delete"),
    remove,
  );

  function collaborator(c) {
    const select = h(
      "select",
      { id: `role-${c.user_id}`, onchange: () => edit("PATCH", `/collaborators/${c.user_id}`, { role: select.value }) },
      ROLES.map(([value, label]) => h("option", { value, selected: value === c.role }, label)),
    );
    return h(
      "li",
      { class: "collaborator" },
      h("span", { class: "who" }, c.username),
      h("label", { for: `role-${c.user_id}`, class: "visually-hidden" }, `Role of ${c.username}`),
      select,
      h("button", { class: "link", "aria-label": `Stop sharing with ${c.username}`, onclick: () => edit("DELETE", `/collaborators/${c.user_id}`) }, "remove"),
    );
  }

  /** The playlist as it is now (after every load). */
  function show(playlist) {
    element.hidden = playlist.role !== "owner";
    if (element.hidden) return;
    if (!dirty) {
      name.value = playlist.name;
      description.value = playlist.description;
      visibility.value = playlist.visibility;
    }
    removeCover.hidden = !(playlist.cover_url || "").includes("?v="); // only an uploaded one
    fill(people, playlist.collaborators.length ? playlist.collaborators.map(collaborator) : h("li", { class: "muted" }, "Nobody yet."));
  }

  return { element, show };
}
