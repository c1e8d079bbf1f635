// Reply playback: a queue of PCM16 frames at the server's output rate, resampled to the context's
// rate, that can be flushed at once (barge-in, stop button) and that counts what was really played.
//
// Messages from the main thread:
//   {type: "config", rate}   the reply audio's sample rate (ready.output.sample_rate)
//   {type: "begin", reply}   a new reply (numbered by the main thread) starts: clear the queue
//                            and its played counter
//   {type: "audio", pcm}     an ArrayBuffer of PCM16 little-endian samples to queue
//   {type: "end"}            no more audio for this reply: play the tail, then report "drained"
//   {type: "flush", id}      drop everything queued now; answered by "flushed" with the same id
// Messages to the main thread ({reply, replyFrames, totalFrames}; frames at the context's rate):
//   {type: "progress", ...}  every ~100 ms while audio plays
//   {type: "drained", ...}   after "end", once the last sample has been played
//   {type: "flushed", id, ...}

import { StreamResampler } from "./resampler.js";

const REPORT_EVERY_S = 0.1;

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.resampler = null;
    this.carry = null; // an odd trailing byte waiting for its partner
    this.ending = false;
    this.playing = false;
    this.reply = 0;
    this.replyFrames = 0;
    this.totalFrames = 0;
    this.sinceReport = 0;
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  onMessage(message) {
    switch (message.type) {
      case "config":
        this.resampler = new StreamResampler(message.rate, sampleRate);
        this.clear();
        break;
      case "begin":
        this.clear();
        this.reply = message.reply;
        this.replyFrames = 0;
        break;
      case "audio":
        this.enqueue(message.pcm);
        break;
      case "end":
        if (this.resampler) this.resampler.pushTail();
        this.ending = true;
        if (!this.resampler || this.resampler.pending === 0) this.finish();
        break;
      case "flush":
        this.clear();
        this.port.postMessage({ type: "flushed", id: message.id, ...this.counters() });
        break;
      default:
        break;
    }
  }

  clear() {
    if (this.resampler) this.resampler.reset();
    this.carry = null;
    this.ending = false;
    this.playing = false;
  }

  counters() {
    const { reply, replyFrames, totalFrames } = this;
    return { reply, replyFrames, totalFrames, sampleRate };
  }

  enqueue(buffer) {
    if (!this.resampler) return;
    let bytes = new Uint8Array(buffer);
    if (this.carry !== null) {
      const joined = new Uint8Array(bytes.length + 1);
      joined[0] = this.carry;
      joined.set(bytes, 1);
      bytes = joined;
      this.carry = null;
    }
    const count = bytes.length >> 1;
    if (bytes.length & 1) this.carry = bytes[bytes.length - 1];
    const view = new DataView(bytes.buffer, bytes.byteOffset, count * 2);
    const samples = new Float32Array(count);
    for (let i = 0; i < count; i++) samples[i] = view.getInt16(i * 2, true) / 0x8000;
    this.resampler.push(samples);
    this.playing = true;
  }

  finish() {
    this.ending = false;
    this.playing = false;
    this.port.postMessage({ type: "drained", ...this.counters() });
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    let written = 0;
    if (this.resampler && this.playing) {
      const { produced, real } = this.resampler.pull(out, 0, out.length);
      written = produced;
      this.replyFrames += real;
      this.totalFrames += real;
      this.sinceReport += produced;
      if (this.ending && this.resampler.pending === 0 && produced < out.length) {
        this.finish();
      } else if (this.sinceReport >= REPORT_EVERY_S * sampleRate) {
        this.sinceReport = 0;
        this.port.postMessage({ type: "progress", ...this.counters() });
      }
    }
    out.fill(0, written);
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    return true;
  }
}

registerProcessor("zgv-playback", PlaybackProcessor);
