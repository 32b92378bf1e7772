// The account: change the password, see the open sessions and sign other devices out; this
// browser's playback setting (loudness levelling).
import { api } from "../api.js";
import { fill, h, notify } from "../dom.js";

export function render(main, { player }) {
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        error.textContent = "";
        if (data.get("password") !== data.get("again")) {
          error.textContent = "The two new passwords differ.";
          return;
        }
        try {
          await api("PATCH", "api/v1/me", {
            json: { password: data.get("password"), current_password: data.get("current") },
          });
          form.reset();
          notify("Password changed; your other sessions are signed out.");
          sessions();
        } catch (failure) {
          error.textContent = failure.message;
        }
      },
    },
    h("h2", {}, "Change the password"),
    ...[
      ["current", "Current password", "current-password"],
      ["password", "New password", "new-password"],
      ["again", "New password again", "new-password"],
    ].map(([name, label, autocomplete]) =>
      h(
        "p",
        { class: "field" },
        h("label", { for: `f-${name}` }, label),
        h("input", { id: `f-${name}`, name, type: "password", required: true, autocomplete, minlength: name === "current" ? null : "8" }),
      ),
    ),
    error,
    h("button", { type: "submit", class: "primary" }, "Change the password"),
  );
  const list = h("ul", { class: "sessions", "aria-label": "Sessions" });
  main.append(h("h1", {}, "Account"), form, h("section", { class: "card" }, h("h2", {}, "Sessions"), list));
  if (player) main.append(playback(player));

  async function sessions() {
    try {
      const { items } = await api("GET", "api/v1/me/sessions");
      fill(
        list,
        items.map((session) =>
          h(
            "li",
            {},
            h(
              "span",
              {},
              h("strong", {}, session.current ? "This browser" : session.user_agent || "Unknown client"),
              h("br"),
              h("span", { class: "muted" }, `${session.address} · last used ${new Date(session.last_used_at).toLocaleString()}`),
            ),
            session.current
              ? null
              : h(
                  "button",
                  {
                    onclick: async () => {
                      try {
                        await api("DELETE", `api/v1/me/sessions/${session.id}`);
                        sessions();
                      } catch (failure) {
                        notify(failure.message, "error");
                      }
                    },
                  },
                  "Sign out",
                ),
          ),
        ),
      );
    } catch (failure) {
      notify(failure.message, "error");
    }
  }
  sessions();
}

/** Levelling tracks whose renditions the server did not normalise: on unless turned off here. */
function playback(player) {
  const box = h("input", {
    type: "checkbox",
    id: "levelling",
    checked: player.levelling,
    onchange: () => player.setLevelling(box.checked),
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "playback-title" },
    h("h2", { id: "playback-title" }, "Playback"),
    h("p", { class: "check" }, box, h("label", { for: "levelling" }, " Even out the loudness of tracks the server did not level")),
    h("p", { class: "muted" }, "Saved in this browser. Tracks the server levelled when it transcoded them play as they are."),
  );
}
