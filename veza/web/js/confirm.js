// Asking before something that cannot be undone: a modal <dialog> in the page (keyboard and
// screen readers handle it; Escape or Cancel says no), not window.confirm.
import { h } from "./dom.js";

/** Resolves to true when the person chose `action` (the button's words), false otherwise. */
export function confirmAction(question, action) {
  return new Promise((resolve) => {
    const title = h("h2", { id: "confirm-title" }, question);
    const dialog = h(
      "dialog",
      { class: "help confirm", "aria-labelledby": "confirm-title" },
      title,
      h(
        "form",
        { method: "dialog", class: "actions" },
        h("button", { value: "no", class: "primary" }, "Cancel"),
        h("button", { value: "yes", class: "danger" }, action),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
