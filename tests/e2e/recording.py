"""Recording what the page's audio element plays, sample by sample, through Web Audio (the
element's volume included: Chromium applies it before a MediaElementAudioSourceNode)."""

from __future__ import annotations

import base64

import numpy as np

# Capture what the element plays, sample by sample, from before playback starts. A
# ScriptProcessorNode, because an AudioWorklet module would have to be a file the client serves
# (the page's CSP allows scripts from Veza only).
RECORD = """() => {
  const audio = document.getElementById('audio');
  const context = new AudioContext({sampleRate: 44100});
  const source = context.createMediaElementSource(audio);
  const tap = context.createScriptProcessor(4096, 2, 2);
  const chunks = [];
  tap.onaudioprocess = (event) => {
    const input = event.inputBuffer.getChannelData(0);
    chunks.push(new Float32Array(input));
    event.outputBuffer.getChannelData(0).set(input);
    event.outputBuffer.getChannelData(1).set(event.inputBuffer.getChannelData(1));
  };
  source.connect(tap);
  tap.connect(context.destination);
  window.recording = { context, chunks };
  return context.resume().then(() => context.state);
}"""

STOP = """() => {
  const { context, chunks } = window.recording;
  context.suspend();
  const all = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) { all.set(chunk, at); at += chunk.length; }
  // As bytes: a long array of numbers is slow to pass as JSON.
  let text = '';
  const bytes = new Uint8Array(all.buffer);
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}"""


def samples(recorded: str) -> np.ndarray:
    """What STOP returned, as float32 samples of the left channel."""
    return np.frombuffer(base64.b64decode(recorded), dtype=np.float32)
