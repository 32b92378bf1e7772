// Sign in and create an account.
import { signIn, signUp } from "../api.js";
import { h } from "../dom.js";

function field(label, attrs) {
  const id = `f-${attrs.name}`;
  return h("p", { class: "field" }, h("label", { for: id }, label), h("input", { id, required: true, ...attrs }));
}

export function render(main, { path }) {
  const creating = path === "signup";
  const error = h("p", { class: "error", role: "alert" });
  const button = h("button", { type: "submit", class: "primary" }, creating ? "Create the account" : "Sign in");
  const fields = creating
    ? [
        field("Email address", { name: "email", type: "email", autocomplete: "email" }),
        field("Username", { name: "username", autocomplete: "username", pattern: "[A-Za-z0-9_.\\-]{3,32}", title: "3 to 32 letters, digits, dots, dashes or underscores" }),
        field("Password", { name: "password", type: "password", autocomplete: "new-password", minlength: "8" }),
      ]
    : [
        field("Email or username", { name: "login", autocomplete: "username" }),
        field("Password", { name: "password", type: "password", autocomplete: "current-password" }),
      ];
  const form = h(
    "form",
    {
      class: "card narrow",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        error.textContent = "";
        button.disabled = true;
        try {
          if (creating) await signUp(data.get("email"), data.get("username"), data.get("password"));
          else await signIn(data.get("login"), data.get("password"));
        } catch (failure) {
          error.textContent = failure.message;
        } finally {
          button.disabled = false;
        }
      },
    },
    h("h1", {}, creating ? "Create an account" : "Sign in to Veza"),
    fields,
    error,
    button,
    h(
      "p",
      {},
      creating ? "Already have an account? " : "New here? ",
      h("a", { href: creating ? "signin" : "signup" }, creating ? "Sign in" : "Create an account"),
    ),
  );
  main.append(form);
  form.querySelector("input").focus();
}
