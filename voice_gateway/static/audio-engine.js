// The browser audio side of <zg-voice>: one AudioContext at the device's rate, a capture worklet
// that yields 16 kHz PCM16 frames, and a playback worklet for the reply audio.

const CAPTURE_URL = new URL("./capture-worklet.js", import.meta.url);
const PLAYBACK_URL = new URL("./playback-worklet.js", import.meta.url);
const FLUSH_TIMEOUT_MS = 250;

export const MIC_CONSTRAINTS = {
  audio: {
    echoCancellation: true,
    noiseSuppression: true,
    autoGainControl: true,
    channelCount: 1,
  },
};

export class AudioEngine extends EventTarget {
  constructor() {
    super();
    this.context = null;
    this.playback = null;
    this.capture = null;
    this.stream = null;
    this.source = null;
    this.outputRate = 0;
    this.reply = 0;
    this.replyFrames = 0;
    this.totalFrames = 0;
    this._flushes = new Map();
    this._nextFlush = 1;
  }

  /** Create the context and the playback path. Call from a user gesture so audio may start. */
  async open() {
    if (this.context) return;
    // No sampleRate option: the context runs at the device's default rate.
    const context = new AudioContext({ latencyHint: "interactive" });
    this.context = context;
    const resumed = context.resume();
    await Promise.all([
      context.audioWorklet.addModule(CAPTURE_URL),
      context.audioWorklet.addModule(PLAYBACK_URL),
    ]);
    await resumed;
    this.playback = new AudioWorkletNode(context, "zgv-playback", {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
    });
    this.playback.port.onmessage = (event) => this._onPlayback(event.data);
    this.playback.connect(context.destination);
  }

  get sampleRate() {
    return this.context ? this.context.sampleRate : 0;
  }

  get capturing() {
    return this.stream !== null;
  }

  /** Open the microphone; each 20 ms frame is dispatched as a "frame" event ({pcm, level}). */
  async startCapture() {
    if (this.stream) return;
    const stream = await navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS);
    if (!this.context) {
      for (const track of stream.getTracks()) track.stop();
      throw new Error("the audio engine was closed while the microphone opened");
    }
    this.stream = stream;
    this.source = this.context.createMediaStreamSource(stream);
    this.capture = new AudioWorkletNode(this.context, "zgv-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
    });
    this.capture.port.onmessage = (event) => {
      this.dispatchEvent(new CustomEvent("frame", { detail: event.data }));
    };
    this.source.connect(this.capture);
    // Its output is silent; the connection keeps the node processing in every browser.
    this.capture.connect(this.context.destination);
  }

  stopCapture() {
    if (this.capture) {
      this.capture.port.onmessage = null;
      this.capture.disconnect();
      this.capture = null;
    }
    if (this.source) {
      this.source.disconnect();
      this.source = null;
    }
    if (this.stream) {
      for (const track of this.stream.getTracks()) track.stop();
      this.stream = null;
    }
  }

  /** The sample rate of the reply audio, from `ready.output.sample_rate`. */
  configureOutput(rate) {
    this.outputRate = rate;
    this.playback?.port.postMessage({ type: "config", rate });
  }

  beginReply() {
    this.reply += 1;
    this.replyFrames = 0;
    this.playback?.port.postMessage({ type: "begin", reply: this.reply });
  }

  /** Queue one binary frame of PCM16 reply audio. */
  play(buffer) {
    this.playback?.port.postMessage({ type: "audio", pcm: buffer }, [buffer]);
  }

  endReply() {
    this.playback?.port.postMessage({ type: "end" });
  }

  /** Drop all queued audio now; resolves with the milliseconds of this reply actually played. */
  flush() {
    if (!this.playback) return Promise.resolve(this.playedMs);
    const id = this._nextFlush++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this._flushes.delete(id);
        resolve(this.playedMs);
      }, FLUSH_TIMEOUT_MS);
      this._flushes.set(id, () => {
        clearTimeout(timer);
        resolve(this.playedMs);
      });
      this.playback.port.postMessage({ type: "flush", id });
    });
  }

  /** Milliseconds of the current (or last) reply that reached the speakers. */
  get playedMs() {
    return this.sampleRate ? Math.round((this.replyFrames * 1000) / this.sampleRate) : 0;
  }

  _onPlayback(message) {
    // A report posted before the worklet saw the latest "begin" belongs to the previous reply.
    if (message.reply === this.reply) this.replyFrames = message.replyFrames;
    this.totalFrames = message.totalFrames;
    if (message.type === "flushed") {
      const done = this._flushes.get(message.id);
      this._flushes.delete(message.id);
      if (done) done();
    }
    this.dispatchEvent(new CustomEvent(message.type, { detail: message }));
  }

  async close() {
    this.stopCapture();
    for (const done of this._flushes.values()) done();
    this._flushes.clear();
    const context = this.context;
    this.context = null;
    if (this.playback) {
      this.playback.port.onmessage = null;
      this.playback.disconnect();
      this.playback = null;
    }
    if (context && context.state !== "closed") await context.close().catch(() => {});
  }
}
