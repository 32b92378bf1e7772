// The waveform of a track on a canvas, with the play position; a click or the arrow keys seek.
import { clock } from "./dom.js";

const HEIGHT = 96;

export class Waveform {
  /** `onSeek(seconds)` when the person clicks or uses the keys. */
  constructor(canvas, { duration, onSeek }) {
    this.canvas = canvas;
    this.duration = duration || 0;
    this.peaks = null;
    this.position = 0;
    this.onSeek = onSeek;
    canvas.setAttribute("role", "slider");
    canvas.setAttribute("tabindex", "0");
    canvas.setAttribute("aria-label", "Position in the track");
    canvas.setAttribute("aria-valuemin", "0");
    canvas.setAttribute("aria-valuemax", String(Math.round(this.duration)));
    canvas.addEventListener("click", (event) => {
      const box = canvas.getBoundingClientRect();
      const fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
      this.onSeek(fraction * this.duration);
    });
    canvas.addEventListener("keydown", (event) => {
      const step = { ArrowLeft: -5, ArrowRight: 5, PageDown: -30, PageUp: 30 }[event.key];
      if (step === undefined) return;
      event.preventDefault();
      event.stopPropagation(); // not also the player's shortcut
      this.onSeek(Math.min(this.duration, Math.max(0, this.position + step)));
    });
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(canvas);
  }

  setPeaks(peaks) {
    this.peaks = peaks;
    this.draw();
  }

  setPosition(seconds) {
    this.position = seconds;
    this.canvas.dataset.position = seconds.toFixed(2);
    this.canvas.setAttribute("aria-valuenow", String(Math.round(seconds)));
    this.canvas.setAttribute("aria-valuetext", `${clock(seconds)} of ${clock(this.duration)}`);
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const height = Math.round(HEIGHT * ratio);
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    const g = canvas.getContext("2d");
    const style = getComputedStyle(canvas);
    g.clearRect(0, 0, width, height);
    const played = this.duration ? (this.position / this.duration) * width : 0;
    const middle = height / 2;
    const bar = Math.max(1, Math.round(2 * ratio));
    const peaks = this.peaks;
    for (let x = 0; x < width; x += bar + 1) {
      let low = 0;
      let high = 0;
      if (peaks && peaks.length) {
        const from = Math.floor((x / width) * peaks.length);
        const to = Math.max(from + 1, Math.floor(((x + bar) / width) * peaks.length));
        for (let i = from; i < to && i < peaks.length; i += 1) {
          low = Math.min(low, peaks[i][0]);
          high = Math.max(high, peaks[i][1]);
        }
      }
      g.fillStyle = x < played ? style.getPropertyValue("--played") : style.getPropertyValue("--unplayed");
      const top = middle - Math.max(high, 0.01) * middle;
      const bottom = middle - Math.min(low, -0.01) * middle;
      g.fillRect(x, top, bar, bottom - top);
    }
    g.fillStyle = style.getPropertyValue("--cursor");
    g.fillRect(Math.min(width - bar, played), 0, bar, height);
  }

  destroy() {
    this.resize.disconnect();
  }
}
