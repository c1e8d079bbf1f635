// A streaming band-limited resampler for mono Float32 audio, shared by both audio worklets.
//
// Each output sample is a windowed-sinc interpolation of the input around a fractional input
// position, so any rate ratio works (48000 -> 16000, 44100 -> 16000, 22050 -> 48000, ...). When
// downsampling, the kernel is widened so it also acts as the anti-aliasing low-pass filter;
// naive decimation would fold everything above 8 kHz back into the speech band.

const ZERO_CROSSINGS = 8; // sinc lobes on each side of the centre: quality vs. cost
const TABLE_STEPS = 64; // kernel table resolution per input sample
const ROLLOFF = 0.9; // cutoff as a fraction of the lower Nyquist frequency

function blackman(x) {
  // x in [-1, 1]; 0 at the edges, 1 at the centre
  const a = Math.PI * (x + 1);
  return 0.42 - 0.5 * Math.cos(a) + 0.08 * Math.cos(2 * a);
}

export class StreamResampler {
  /**
   * @param {number} inRate input sample rate in Hz
   * @param {number} outRate output sample rate in Hz
   */
  constructor(inRate, outRate) {
    this.inRate = inRate;
    this.outRate = outRate;
    this.step = inRate / outRate; // input samples per output sample
    const scale = Math.min(1, outRate / inRate);
    const cutoff = 0.5 * scale * ROLLOFF; // cycles per input sample
    this.halfWidth = ZERO_CROSSINGS / (2 * cutoff); // kernel reach in input samples
    const size = Math.ceil(this.halfWidth * TABLE_STEPS) + 2;
    this.table = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const u = i / TABLE_STEPS;
      if (u >= this.halfWidth) break;
      const arg = 2 * Math.PI * cutoff * u;
      const sinc = u === 0 ? 1 : Math.sin(arg) / arg;
      this.table[i] = 2 * cutoff * sinc * blackman(u / this.halfWidth);
    }
    this.reach = Math.ceil(this.halfWidth);
    this.buffer = new Float32Array(4096);
    this.reset();
  }

  /** Forget all buffered input; the next input starts after silence. */
  reset() {
    this.buffer.fill(0, 0, this.reach);
    this.length = this.reach; // valid samples in `buffer`; the first `reach` are leading silence
    this.position = this.reach; // fractional input position of the next output sample
    this.realEnd = this.reach; // end of real (not padding) input
  }

  /** Input samples buffered and not yet consumed. */
  get pending() {
    return Math.max(0, this.realEnd - this.position);
  }

  /** Append input samples. */
  push(samples) {
    this._reserve(samples.length);
    this.buffer.set(samples, this.length);
    this.length += samples.length;
    this.realEnd = this.length;
  }

  /** Append silence so the last real samples can be produced (the kernel looks ahead). */
  pushTail() {
    const pad = this.reach + 1;
    this._reserve(pad);
    this.buffer.fill(0, this.length, this.length + pad);
    this.length += pad;
  }

  /**
   * Write up to `count` output samples into `out` from `offset`.
   * @returns {{produced: number, real: number}} samples written, and how many of them lie within
   *   real input rather than the trailing padding
   */
  pull(out, offset, count) {
    const { buffer, table, halfWidth, step } = this;
    const last = this.length - 1;
    let produced = 0;
    let real = 0;
    while (produced < count) {
      const t = this.position;
      const hi = Math.floor(t + halfWidth);
      if (hi > last) break;
      let lo = Math.ceil(t - halfWidth);
      if (lo < 0) lo = 0;
      let acc = 0;
      for (let n = lo; n <= hi; n++) {
        const f = Math.abs(t - n) * TABLE_STEPS;
        const i = f | 0;
        const w = table[i] + (table[i + 1] - table[i]) * (f - i);
        acc += buffer[n] * w;
      }
      out[offset + produced] = acc;
      produced++;
      if (t < this.realEnd) real++;
      this.position = t + step;
    }
    this._compact();
    return { produced, real };
  }

  _reserve(extra) {
    if (this.length + extra <= this.buffer.length) return;
    let size = this.buffer.length;
    while (size < this.length + extra) size *= 2;
    const grown = new Float32Array(size);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  _compact() {
    // Keep `reach` samples of history before the current position for the kernel's left side.
    const drop = Math.floor(this.position) - this.reach - 1;
    if (drop < 2048) return;
    this.buffer.copyWithin(0, drop, this.length);
    this.length -= drop;
    this.position -= drop;
    this.realEnd -= drop;
  }
}
