// Microphone capture: the context's rate -> 16 kHz mono PCM16 little-endian, in 20 ms frames.
//
// The AudioContext runs at the device's own rate (forcing 16 kHz breaks Firefox, which refuses
// to connect a microphone stream to a context at another rate), so resampling happens here, on
// the audio thread, and the main thread only forwards finished frames to the WebSocket.

import { StreamResampler } from "./resampler.js";

const TARGET_RATE = 16000;
const FRAME_SAMPLES = 320; // 20 ms at 16 kHz = 640 bytes

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    // `sampleRate` is the AudioWorkletGlobalScope's rate: the context's rate.
    this.resampler = new StreamResampler(sampleRate, TARGET_RATE);
    this.mono = new Float32Array(128);
    this.scratch = new Float32Array(256);
    this.frame = new Float32Array(FRAME_SAMPLES);
    this.filled = 0;
  }

  process(inputs, outputs) {
    const channels = inputs[0];
    if (channels && channels.length > 0) {
      this.capture(channels);
    }
    // The output (connected only to keep the node pulled in every browser) stays silent.
    for (const channel of outputs[0] || []) channel.fill(0);
    return true;
  }

  capture(channels) {
    const length = channels[0].length;
    if (this.mono.length < length) this.mono = new Float32Array(length);
    const mono = this.mono.subarray(0, length);
    if (channels.length === 1) {
      mono.set(channels[0]);
    } else {
      mono.fill(0);
      for (const channel of channels) {
        for (let i = 0; i < length; i++) mono[i] += channel[i];
      }
      for (let i = 0; i < length; i++) mono[i] /= channels.length;
    }
    this.resampler.push(mono);
    for (;;) {
      const { produced } = this.resampler.pull(this.scratch, 0, this.scratch.length);
      if (produced === 0) break;
      this.collect(this.scratch, produced);
    }
  }

  collect(samples, count) {
    let i = 0;
    while (i < count) {
      const take = Math.min(count - i, FRAME_SAMPLES - this.filled);
      this.frame.set(samples.subarray(i, i + take), this.filled);
      this.filled += take;
      i += take;
      if (this.filled === FRAME_SAMPLES) {
        this.emit();
        this.filled = 0;
      }
    }
  }

  emit() {
    const bytes = new ArrayBuffer(FRAME_SAMPLES * 2);
    const view = new DataView(bytes);
    let energy = 0;
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      const s = Math.max(-1, Math.min(1, this.frame[i]));
      energy += s * s;
      view.setInt16(i * 2, s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff), true);
    }
    const level = Math.sqrt(energy / FRAME_SAMPLES);
    this.port.postMessage({ type: "frame", pcm: bytes, level }, [bytes]);
  }
}

registerProcessor("zgv-capture", CaptureProcessor);
