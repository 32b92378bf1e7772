// Administration (admins only; the API refuses everyone else): accounts with their role, state,
// storage used and quota; the job queue with retry and cancel; the scan of the music folders.
import { api, currentUser } from "../api.js";
import { bytes, fill, h, notify } from "../dom.js";

const ROLES = ["admin", "moderator", "artist", "premium", "user", "guest"];
const JOB_STATES = ["", "queued", "running", "done", "failed"];
const MB = 1024 * 1024;
const SCAN_POLL_MS = 1000;

export function render(main) {
  if (currentUser().role !== "admin") {
    main.append(h("h1", {}, "Administration"), h("p", { class: "error", role: "alert" }, "Only an admin sees this page."));
    return;
  }
  const users = h("section", { class: "card", "aria-labelledby": "users-title" });
  const jobs = h("section", { class: "card", "aria-labelledby": "jobs-title" });
  const scan = h("section", { class: "card", "aria-labelledby": "scan-title" });
  main.append(h("h1", {}, "Administration"), scan, users, jobs);
  const stops = [usersCard(users), jobsCard(jobs), scanCard(scan)];
  return () => stops.forEach((stop) => stop());
}

/** A "Load more" list over a cursor-paged route. */
function paged(list, more, path, query, row) {
  let cursor = null;
  let controller = new AbortController();
  async function load(reset) {
    if (reset) {
      controller.abort();
      controller = new AbortController();
      cursor = null;
      fill(list);
    }
    list.setAttribute("aria-busy", "true");
    try {
      const page = await api("GET", path, { query: { ...query(), limit: 50, cursor }, signal: controller.signal });
      list.append(...page.items.map(row));
      if (reset && !page.items.length) list.append(h("li", { class: "muted" }, "None."));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      if (error.name !== "AbortError") list.append(h("li", { class: "error", role: "alert" }, error.message));
    }
    list.setAttribute("aria-busy", "false");
  }
  more.addEventListener("click", () => load(false));
  return { load, stop: () => controller.abort() };
}

function usersCard(section) {
  const list = h("ul", { class: "admin-list users", "aria-label": "Accounts" });
  const more = h("button", { hidden: true }, "More accounts");
  section.append(h("h2", { id: "users-title" }, "Accounts"), newAccount((user) => list.prepend(row(user))), list, more);

  const row = (user) => {
    const li = h("li", { dataset: { user: user.username } });
    const show = (u) => {
      const id = `user-${u.id}`;
      const quota = h("input", {
        type: "number",
        id: `${id}-quota`,
        min: 0,
        step: 1,
        value: u.quota_bytes === null ? "" : String(Math.round(u.quota_bytes / MB)),
        placeholder: "default",
        disabled: u.role === "admin",
      });
      const role = h("select", { id: `${id}-role` }, ROLES.map((r) => h("option", { value: r, selected: r === u.role }, r)));
      const disabled = h("input", { type: "checkbox", id: `${id}-disabled`, checked: u.disabled });
      const change = async (json) => {
        try {
          show(await api("PATCH", `api/v1/admin/users/${u.id}`, { json }));
          notify(`${u.username}: saved`);
        } catch (error) {
          notify(`${u.username}: ${error.message}`, "error");
          show(u);
        }
      };
      role.addEventListener("change", () => change({ role: role.value }));
      disabled.addEventListener("change", () => change({ disabled: disabled.checked }));
      quota.addEventListener("change", () => change({ quota_bytes: quota.value === "" ? null : Math.round(Number(quota.value) * MB) }));
      const used = u.quota_bytes === null ? `${bytes(u.usage_bytes)} used` : `${bytes(u.usage_bytes)} of ${bytes(u.quota_bytes)}`;
      fill(
        li,
        h("span", { class: "name" }, u.username, h("span", { class: "muted" }, ` ${u.email}`)),
        h("span", { class: "usage muted" }, used),
        h("span", { class: "controls" },
          h("label", { for: `${id}-role` }, "Role "), role,
          h("label", { for: `${id}-quota` }, " Quota (MB) "), quota,
          h("label", { class: "check" }, disabled, " disabled"),
        ),
      );
    };
    show(user);
    return li;
  };
  const { load, stop } = paged(list, more, "api/v1/admin/users", () => ({}), row);
  load(true);
  return stop;
}

/** The form that creates an account (the way in when registration is closed). */
function newAccount(created) {
  const error = h("p", { class: "error", role: "alert" });
  const field = (name, label, attrs) => h("p", { class: "field" }, h("label", { for: `new-${name}` }, label), h("input", { id: `new-${name}`, name, required: true, autocomplete: "off", ...attrs }));
  const form = h(
    "form",
    {
      class: "new-account",
      "aria-labelledby": "new-account-title",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = Object.fromEntries(new FormData(form));
        error.textContent = "";
        try {
          const user = await api("POST", "api/v1/admin/users", { json: data });
          form.reset();
          created(user);
          notify(`${user.username}: account created as ${user.role}`);
        } catch (failure) {
          error.textContent = `The account was not created: ${failure.message}`;
        }
      },
    },
    h("h3", { id: "new-account-title" }, "New account"),
    h(
      "div",
      { class: "fields" },
      field("username", "Username", {}),
      field("email", "Email address", { type: "email" }),
      field("password", "Password", { type: "password", autocomplete: "new-password", minlength: "8" }),
      h("p", { class: "field" }, h("label", { for: "new-role" }, "Role"), h("select", { id: "new-role", name: "role" }, ROLES.map((r) => h("option", { value: r, selected: r === "user" }, r)))),
    ),
    error,
    h("button", { type: "submit", class: "primary" }, "Create the account"),
  );
  return form;
}

function jobsCard(section) {
  const filter = h("select", { id: "job-status" }, JOB_STATES.map((s) => h("option", { value: s }, s || "all")));
  const list = h("ul", { class: "admin-list jobs", "aria-label": "Jobs" });
  const more = h("button", { hidden: true }, "More jobs");
  section.append(
    h("div", { class: "bar" }, h("h2", { id: "jobs-title" }, "Job queue"), h("p", { class: "field" }, h("label", { for: "job-status" }, "Status"), filter)),
    list,
    more,
  );
  const row = (job) => {
    const li = h("li", { dataset: { job: job.id } });
    const show = (j) => {
      const act = (verb) => async () => {
        try {
          show(await api("POST", `api/v1/admin/jobs/${j.id}/${verb}`));
        } catch (error) {
          notify(error.message, "error");
        }
      };
      fill(
        li,
        h("span", { class: "name" }, `${j.kind} `, h("a", { href: j.kind === "transcode" ? `tracks/${j.subject_id}` : "admin" }, j.subject_id)),
        h("span", { class: `badge status ${j.status}` }, j.status),
        h("span", { class: "muted" }, `${Math.round(j.progress * 100)}% · attempt ${j.attempts} of ${j.max_attempts} · ${new Date(j.updated_at).toLocaleString()}`),
        j.error ? h("span", { class: "error" }, j.error) : null,
        h("span", { class: "controls" },
          j.status === "failed" ? h("button", { onclick: act("retry"), "aria-label": `Retry ${j.kind} of ${j.subject_id}` }, "Retry") : null,
          j.status === "queued" || j.status === "running" ? h("button", { class: "danger", onclick: act("cancel"), "aria-label": `Cancel ${j.kind} of ${j.subject_id}` }, "Cancel") : null,
        ),
      );
      li.dataset.status = j.status;
    };
    show(job);
    return li;
  };
  const { load, stop } = paged(list, more, "api/v1/admin/jobs", () => ({ status: filter.value }), row);
  filter.addEventListener("change", () => load(true));
  load(true);
  return stop;
}

function scanCard(section) {
  const state = h("p", { id: "scan-state", role: "status" });
  const last = h("p", { class: "muted" });
  const button = h("button", { class: "primary" }, "Scan now");
  section.append(h("h2", { id: "scan-title" }, "Music folders"), state, last, button);
  let timer = 0;
  let stopped = false;
  const show = (s) => {
    if (!s.folders) state.textContent = "No music folder is configured (music_folders in veza.toml).";
    else if (s.state === "idle") state.textContent = `${s.folders} folder${s.folders === 1 ? "" : "s"}; no scan running.`;
    else state.textContent = `Scan ${s.state}: ${Math.round(s.progress * 100)}%`;
    button.disabled = !s.folders || s.state !== "idle";
    const l = s.last;
    last.textContent = l
      ? `Last scan ${new Date(l.finished_at * 1000).toLocaleString()}: ${l.added} added, ${l.updated} updated, ${l.removed} removed, ${l.unchanged} unchanged, ${l.skipped} skipped.`
      : "Never scanned yet.";
    clearTimeout(timer);
    if (s.state !== "idle" && !stopped) timer = setTimeout(read, SCAN_POLL_MS);
  };
  async function read() {
    try {
      show(await api("GET", "api/v1/admin/scan"));
    } catch (error) {
      state.textContent = error.message;
    }
  }
  button.addEventListener("click", async () => {
    try {
      show(await api("POST", "api/v1/admin/scan"));
    } catch (error) {
      notify(error.message, "error");
    }
  });
  read();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
