// Upload by drag and drop (or the file picker), several files at once: for each, the transfer's
// progress, then the transcode's, and any error in words.
import { upload } from "../api.js";
import { bytes, h } from "../dom.js";
import { watchTrack } from "../live.js";

const AT_ONCE = 2; // transfers in flight; the rest wait their turn

export function render(main) {
  const picker = h("input", { type: "file", id: "files", class: "visually-hidden", multiple: true, accept: "audio/*,.flac,.ogg,.opus,.m4a,.wav,.aiff,.mp3" });
  const zone = h(
    "div",
    { class: "drop", id: "drop" },
    h("p", {}, "Drop audio files here, or"),
    picker,
    h("label", { for: "files", class: "button" }, "Choose files"),
  );
  const visibility = h(
    "select",
    { id: "upload-visibility" },
    h("option", { value: "" }, "The server's default"),
    h("option", { value: "private" }, "Only me"),
    h("option", { value: "unlisted" }, "Anyone with the link"),
    h("option", { value: "public" }, "Everyone here"),
  );
  const list = h("ul", { class: "uploads", "aria-label": "Uploads", "aria-live": "polite" });
  main.append(
    h("h1", {}, "Upload"),
    h("p", { class: "field" }, h("label", { for: "upload-visibility" }, "Who may see the tracks"), visibility),
    zone,
    list,
  );

  const waiting = [];
  let active = 0;
  const stops = new Set();
  const controller = new AbortController();

  function add(files) {
    for (const file of files) {
      const transfer = h("progress", { max: 1, value: 0, "aria-label": `Transfer of ${file.name}` });
      const transcode = h("progress", { max: 1, value: 0, "aria-label": `Transcode of ${file.name}`, hidden: true });
      const note = h("span", { class: "note" }, "waiting");
      const row = h(
        "li",
        { class: "upload", dataset: { name: file.name } },
        h("span", { class: "name" }, file.name, h("span", { class: "muted" }, ` ${bytes(file.size)}`)),
        transfer,
        transcode,
        note,
      );
      list.append(row);
      waiting.push({ file, row, transfer, transcode, note });
    }
    pump();
  }

  function pump() {
    while (active < AT_ONCE && waiting.length) {
      active += 1;
      send(waiting.shift()).finally(() => {
        active -= 1;
        pump();
      });
    }
  }

  async function send({ file, row, transfer, transcode, note }) {
    note.textContent = "uploading";
    try {
      const track = await upload(file, (sent, total) => (transfer.value = total ? sent / total : 0), {
        signal: controller.signal,
        fields: { visibility: visibility.value },
      });
      transfer.value = 1;
      row.dataset.id = track.id;
      transcode.hidden = false;
      const title = h("a", { href: `tracks/${track.id}` }, track.title || file.name);
      const show = (fresh) => {
        transcode.value = fresh.status === "ready" ? 1 : fresh.progress;
        row.dataset.status = fresh.status;
        if (fresh.status === "ready") note.replaceChildren(title, " ready");
        else if (fresh.status === "failed") {
          note.textContent = `could not be transcoded: ${fresh.error}`;
          row.classList.add("failed");
        } else note.replaceChildren(title, ` transcoding ${Math.round(fresh.progress * 100)}%`);
      };
      show(track);
      const stop = watchTrack(track.id, show, (error) => (note.textContent = error.message));
      stops.add(stop);
    } catch (error) {
      if (error.name === "AbortError") return;
      row.classList.add("failed");
      row.dataset.status = "failed";
      note.textContent = error.message;
    }
  }

  picker.addEventListener("change", () => {
    add([...picker.files]);
    picker.value = "";
  });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    add([...event.dataTransfer.files]);
  });
  return () => {
    controller.abort();
    for (const stop of stops) stop();
  };
}
