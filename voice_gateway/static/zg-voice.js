// <zg-voice>: talk to the zgvoice gateway over the `zgv-voice/1` WebSocket protocol.
//
//   <script type="module" src="https://host/static/zg-voice.js"></script>
//   <zg-voice server="wss://host/v1/voice"></zg-voice>
//
// Attributes: `server` (WebSocket URL; default: /v1/voice on the host that served this script),
// `voice` (`piper` or `espeak`), `reply-mode` (`voice` or `text`).
// State, for pages and tests: the `state` property and `data-state` attribute (idle, connecting,
// listening, ready, thinking, speaking, confirming, error); `playedSamples` / `data-played-samples`
// (reply audio frames played so far, at the AudioContext's rate); `playedMs` / `data-played-ms`
// (how much of the latest reply was heard). Events (bubbling, composed): `zgv-message` (every
// server message), `zgv-state`, `zgv-interrupt` ({played_ms, reason}).

import { AudioEngine } from "./audio-engine.js";
import { SignInError, WalletSignIn, shortAddress } from "./wallet.js";
import { TEMPLATE } from "./zg-voice-template.js";

const PROTOCOL = "zgv-voice/1";
const PREROLL_FRAMES = 100; // speech captured while connecting (2 s) is sent once `ready` arrives
const MAX_SOCKET_BACKLOG = 256 * 1024; // stop queueing mic audio on a stalled connection
const CLOSE_GRACE_MS = 1000;
const MAX_TURNS = 50;

const STATE_LABELS = {
  idle: "Press the microphone to talk",
  connecting: "Connecting…",
  listening: "Listening",
  ready: "Ready",
  thinking: "Thinking…",
  speaking: "Speaking",
  confirming: "Waiting for your confirmation",
  error: "Something went wrong",
};

const LATENCY_ROWS = [
  ["endpoint_ms", "End of speech detected"],
  ["stt_ms", "Speech to text"],
  ["nlp_ms", "Understanding"],
  ["plan_ms", "Planning"],
  ["tools_ms", "Tools"],
  ["reply_ms", "Reply text"],
  ["tts_first_audio_ms", "Speech synthesis"],
];
const LATENCY_TOTALS = [
  ["voice_to_voice_ms", "Voice to voice"],
  ["text_to_voice_ms", "Text to voice"],
];

function defaultServer() {
  const url = new URL("/v1/voice", import.meta.url);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/** The gateway's HTTP origin for a voice WebSocket URL (ws -> http, wss -> https). */
function httpOrigin(socketUrl) {
  const url = new URL(socketUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  return url.origin;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

class ZgVoiceElement extends HTMLElement {
  static observedAttributes = ["server", "voice", "reply-mode"];

  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = TEMPLATE;
    const find = (selector) => root.querySelector(selector);
    this._ui = {
      card: find(".card"),
      mic: find(".mic"),
      label: find(".label"),
      interrupt: find(".interrupt"),
      confirm: find(".confirm"),
      summary: find(".confirm .summary"),
      expires: find(".confirm .expires"),
      log: find(".log"),
      form: find(".ask"),
      input: find(".ask input"),
      error: find(".error"),
      announcer: find(".announcer"),
      wallet: find(".wallet"),
      who: find(".wallet .who"),
      connect: find(".wallet .connect"),
      devnet: find(".wallet .devnet"),
      signout: find(".wallet .signout"),
    };
    this._wallet = null;
    this._state = "idle";
    this._session = null;
    this._engine = null;
    this._turns = new Map();
    this._typedTurn = null;
    this._level = 0;
    this._levelFrame = 0;
    this._confirmTimer = 0;
    this._playedSamples = 0;
    this._playedMs = 0;

    this._ui.mic.addEventListener("click", () => this._onMicClick());
    this._ui.interrupt.addEventListener("click", () => this.interrupt());
    this._ui.connect.addEventListener("click", () => this._signIn("extension"));
    this._ui.devnet.addEventListener("click", () => this._signIn("devnet"));
    this._ui.signout.addEventListener("click", () => this._signOut());
    find(".do-confirm").addEventListener("click", () => this._answerConfirmation("confirm"));
    find(".do-cancel").addEventListener("click", () => this._answerConfirmation("cancel"));
    this._ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this._ui.input.value.trim();
      if (text) {
        this._ui.input.value = "";
        this.sendText(text);
      }
    });
    this.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this._state === "speaking") {
        event.preventDefault();
        this.interrupt();
      }
    });
  }

  attributeChangedCallback(name, previous, value) {
    // A live session follows changes of voice or reply mode; `server` applies to the next session.
    const session = this._session;
    if (!session || !session.ready || previous === value || !value) return;
    if (name === "voice") this._send(session, { type: "update_context", voice: value });
    if (name === "reply-mode") this._send(session, { type: "update_context", reply_mode: value });
  }

  connectedCallback() {
    this._setState(this._state);
    this._showWallet();
  }

  /** The signed-in wallet address, or null. */
  get walletAddress() {
    return this._wallet ? this._wallet.address : null;
  }

  disconnectedCallback() {
    this.stop();
  }

  /** The WebSocket URL of the gateway's voice endpoint. */
  get server() {
    const value = this.getAttribute("server");
    if (!value) return defaultServer();
    const url = new URL(value, document.baseURI);
    if (url.protocol === "http:") url.protocol = "ws:";
    if (url.protocol === "https:") url.protocol = "wss:";
    return url.href;
  }

  get state() {
    return this._state;
  }

  /** Reply audio frames played in this session, at the AudioContext's sample rate. */
  get playedSamples() {
    return this._playedSamples;
  }

  /** Milliseconds of the latest reply that were played. */
  get playedMs() {
    return this._playedMs;
  }

  /** Open a session (if needed) and the microphone. Call from a user gesture. */
  async start() {
    const session = this._ensureSession();
    const engine = this._engine;
    if (session.capture) return;
    // The microphone opens while the socket connects; frames captured meanwhile are kept.
    session.capture = session.opened.then(() => engine.startCapture());
    try {
      await Promise.all([session.capture, session.readyPromise]);
      if (session !== this._session) return;
      this._showMic(true);
      this._setState(this._baseState());
    } catch (error) {
      if (session === this._session) this._fail(error);
    }
  }

  /** End the session: `stop` to the server, microphone and audio released. */
  async stop() {
    const session = this._session;
    const engine = this._engine;
    this._session = null;
    this._engine = null;
    this._clearConfirmation();
    this._ui.interrupt.hidden = true;
    this._showMic(false);
    this._showLevel(0);
    if (this._state !== "error") this._setState("idle");
    if (session) {
      session.closing = true;
      const ws = session.ws;
      if (ws && ws.readyState === WebSocket.OPEN) {
        this._send(session, { type: "stop" });
        setTimeout(() => ws.close(1000), CLOSE_GRACE_MS);
      } else if (ws) {
        ws.close();
      }
    }
    if (engine) await engine.close();
  }

  /** Ask a typed question (connects first when needed). */
  async sendText(text) {
    const session = this._ensureSession();
    try {
      await session.readyPromise;
      if (session !== this._session) return;
      // A new question replaces a reply still playing; the server stops it too ("interrupted").
      if (session.speaking) await this._stopPlayback(session, null);
      this._typedTurn = this._newTurn(null);
      this._setUserText(this._typedTurn, text, true);
      this._send(session, { type: "text", text });
      this._setState("thinking");
    } catch (error) {
      if (session === this._session) this._fail(error);
    }
  }

  /** Stop the reply now: flush playback and tell the server how much was heard. */
  async interrupt() {
    const session = this._session;
    if (!session || !session.speaking) return;
    session.acceptAudio = false;
    session.speaking = false;
    const played = await this._engine.flush();
    this._reportInterrupt(session, played, "user");
    this._ui.interrupt.hidden = true;
    this._setState(this._baseState());
  }

  // ---- session -------------------------------------------------------------------------------

  _ensureSession() {
    if (this._session) return this._session;
    this._clearError();
    this._setState("connecting");
    const engine = new AudioEngine();
    this._engine = engine;
    const session = {
      ws: null,
      ready: false,
      closing: false,
      capture: null, // the promise of the microphone opening, once asked for
      speaking: false,
      acceptAudio: false,
      draining: false,
      speechTurnId: null,
      preroll: [],
      info: null,
    };
    this._session = session;
    engine.addEventListener("frame", (event) => this._onFrame(session, event.detail));
    engine.addEventListener("progress", () => this._onPlayed());
    engine.addEventListener("drained", () => this._onDrained(session));
    // The AudioContext is created synchronously here, inside the user's gesture.
    session.opened = engine.open();
    session.readyPromise = session.opened.then(() => this._connect(session));
    // Callers await these; an unhandled rejection before they do is not an error.
    session.opened.catch(() => {});
    session.readyPromise.catch(() => {});
    return session;
  }

  // ---- wallet --------------------------------------------------------------------------------

  _walletClient() {
    const origin = httpOrigin(this.server);
    if (!this._wallet || this._wallet.origin !== origin) {
      this._wallet = new WalletSignIn(origin);
      this._wallet.origin = origin;
      this._wallet.addEventListener("change", () => this._showWallet());
    }
    return this._wallet;
  }

  /** Show the wallet bar when this gateway asks for sign-in. */
  async _showWallet() {
    const wallet = this._walletClient();
    let info;
    try {
      info = await wallet.info();
    } catch (error) {
      this._showError(error.message);
      return;
    }
    const ui = this._ui;
    ui.wallet.hidden = !info;
    if (!info) return;
    const address = wallet.address;
    ui.who.textContent = address ? `Signed in as ${shortAddress(address)}` : "Sign in with your wallet to talk.";
    ui.connect.hidden = Boolean(address);
    ui.devnet.hidden = Boolean(address) || !info.devnet_wallet;
    ui.signout.hidden = !address;
    this.dataset.wallet = address || "";
  }

  async _signIn(kind) {
    const wallet = this._walletClient();
    this._clearError();
    try {
      if (kind === "devnet") await wallet.signInWithDevnetWallet();
      else await wallet.signInWithExtension();
    } catch (error) {
      this._showError(error instanceof SignInError ? error.message : "Sign-in did not complete.");
    }
  }

  async _signOut() {
    await this.stop();
    await this._walletClient().signOut();
  }

  /** The voice socket's URL: with a one-time ticket when this gateway asks for sign-in. */
  async _socketUrl() {
    const wallet = this._walletClient();
    if (!(await wallet.info())) return this.server;
    const url = new URL(this.server);
    url.searchParams.set("ticket", await wallet.ticket());
    return url.href;
  }

  async _connect(session) {
    const socketUrl = await this._socketUrl();
    return new Promise((resolve, reject) => {
      if (session !== this._session) {
        reject(new Error("the session was stopped"));
        return;
      }
      const ws = new WebSocket(socketUrl);
      ws.binaryType = "arraybuffer";
      session.ws = ws;
      session.resolveReady = resolve;
      session.rejectReady = reject;
      ws.onopen = () => {
        const start = { type: "start", protocol: PROTOCOL, language: "en", interim_results: true };
        const voice = this.getAttribute("voice");
        const replyMode = this.getAttribute("reply-mode");
        if (voice) start.voice = voice;
        if (replyMode) start.reply_mode = replyMode;
        this._send(session, start);
      };
      ws.onmessage = (event) => this._onSocketMessage(session, event.data);
      ws.onclose = (event) => this._onSocketClose(session, event);
    });
  }

  _send(session, message) {
    if (session.ws && session.ws.readyState === WebSocket.OPEN) {
      session.ws.send(JSON.stringify(message));
    }
  }

  _onFrame(session, { pcm, level }) {
    if (session !== this._session) return;
    this._showLevel(level);
    if (!session.ready) {
      session.preroll.push(pcm);
      if (session.preroll.length > PREROLL_FRAMES) session.preroll.shift();
      return;
    }
    if (session.ws.readyState === WebSocket.OPEN && session.ws.bufferedAmount < MAX_SOCKET_BACKLOG) {
      session.ws.send(pcm);
    }
  }

  _onSocketClose(session, event) {
    if (!session.ready) {
      // start() or sendText() is waiting for `ready` and reports the failure.
      session.rejectReady(new Error(`could not connect to ${this.server} (close code ${event.code})`));
      return;
    }
    if (session !== this._session || session.closing) return;
    const reason = event.reason ? `: ${event.reason}` : "";
    this._fail(new Error(`the connection closed (code ${event.code}${reason})`));
  }

  _fail(error) {
    const message = error && error.name === "NotAllowedError" ? "Microphone access was refused." : null;
    this._showError(message || (error && error.message) || String(error));
    this._setState("error");
    this.stop();
  }

  _baseState() {
    const session = this._session;
    if (!session || !session.ready) return this._state === "error" ? "error" : "idle";
    return this._engine && this._engine.capturing ? "listening" : "ready";
  }

  // ---- server messages -----------------------------------------------------------------------

  _onSocketMessage(session, data) {
    if (session !== this._session) return;
    if (typeof data !== "string") {
      if (session.acceptAudio) this._engine.play(data);
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    this.dispatchEvent(new CustomEvent("zgv-message", { detail: message, bubbles: true, composed: true }));
    const handler = this._handlers[message.type];
    if (handler) handler.call(this, session, message);
  }

  _handlers = {
    ready(session, message) {
      session.ready = true;
      session.info = message;
      this.dataset.sessionId = message.session_id || "";
      this._engine.configureOutput(message.output.sample_rate);
      for (const frame of session.preroll) session.ws.send(frame);
      session.preroll = [];
      this._setState(this._baseState());
      session.resolveReady(session);
    },
    user_speech_started(session, message) {
      this._turn(message.turn_id);
      this._ui.card.toggleAttribute("data-user-speaking", true);
      if (session.draining) {
        // The server finished sending, but the tail is still playing: the user talks over it.
        session.draining = false;
        this._stopPlayback(session, "barge_in");
      }
    },
    user_speech_stopped(session, message) {
      this._turn(message.turn_id);
      this._ui.card.toggleAttribute("data-user-speaking", false);
      if (!session.speaking) this._setState("thinking");
    },
    transcript(session, message) {
      this._setUserText(this._turn(message.turn_id), message.text, Boolean(message.final));
    },
    intent(session, message) {
      const turn = this._turn(message.turn_id);
      const confidence = typeof message.confidence === "number" ? ` ${message.confidence.toFixed(2)}` : "";
      this._chip(turn, `intent ${message.name}${confidence}`);
    },
    confirmation_required(session, message) {
      this._turn(message.turn_id);
      this._showConfirmation(message.summary, message.expires_in_s);
      this._setState("confirming");
    },
    tool_result(session, message) {
      const turn = this._turn(message.turn_id);
      const latency = typeof message.latency_ms === "number" ? ` ${Math.round(message.latency_ms)} ms` : "";
      const outcome = message.ok ? "ok" : `failed: ${message.error?.message || message.error?.code}`;
      this._chip(turn, `${message.server}.${message.tool} ${outcome}${latency}`, !message.ok);
    },
    reply_text(session, message) {
      const turn = this._turn(message.turn_id);
      if (!turn.bot) {
        turn.bot = this._line(turn, "bot", "Assistant");
        turn.node.insertBefore(turn.bot.line, turn.chips);
      }
      const text = turn.bot.text.textContent;
      turn.bot.text.textContent = text ? `${text} ${message.text}` : message.text;
      this._scrollLog();
      this._announce(message.text);
      if (message.final && this._state === "thinking" && this._replyMode(session) === "text") {
        this._setState(this._baseState());
      }
    },
    bot_speech_started(session, message) {
      this._turn(message.turn_id);
      session.speechTurnId = message.turn_id;
      this._clearConfirmation();
      session.speaking = true;
      session.draining = false;
      session.acceptAudio = true;
      this._engine.beginReply();
      this._ui.interrupt.hidden = false;
      this._setState("speaking");
    },
    bot_speech_stopped(session, message) {
      session.acceptAudio = false;
      if (message.reason === "completed") {
        if (session.speaking) {
          session.draining = true;
          this._engine.endReply();
        }
        return;
      }
      if (message.reason === "barge_in") {
        this._stopPlayback(session, "barge_in");
        return;
      }
      // interrupted (our own interrupt, already flushed) or stopped
      if (session.speaking) this._stopPlayback(session, null);
    },
    metrics(session, message) {
      this._showLatency(this._turn(message.turn_id), message.latency_ms || {});
      if (this._state === "thinking") this._setState(this._baseState());
    },
    error(session, message) {
      const text = `${message.message || "error"} (${message.code})`;
      if (message.fatal) {
        this._fail(new Error(text));
        return;
      }
      this._showError(text);
      if (this._state === "thinking" && !session.speaking) this._setState(this._baseState());
    },
  };

  _replyMode(session) {
    return this.getAttribute("reply-mode") || session.info?.reply_mode || "voice";
  }

  async _stopPlayback(session, reportReason) {
    session.speaking = false;
    session.draining = false;
    session.acceptAudio = false;
    this._ui.interrupt.hidden = true;
    if (this._state === "speaking") this._setState(this._baseState());
    const played = await this._engine.flush();
    this._onPlayed();
    if (reportReason) this._reportInterrupt(session, played, reportReason);
  }

  _reportInterrupt(session, playedMs, reason) {
    this._playedMs = playedMs;
    this.dataset.playedMs = String(playedMs);
    this._send(session, { type: "interrupt", played_ms: playedMs });
    const detail = { played_ms: playedMs, reason };
    this.dispatchEvent(new CustomEvent("zgv-interrupt", { detail, bubbles: true, composed: true }));
    const turn = this._turns.get(session.speechTurnId);
    if (turn) {
      turn.node.insertBefore(
        element("p", "note", `Interrupted after ${(playedMs / 1000).toFixed(1)} s of speech.`),
        turn.chips,
      );
    }
  }

  _onPlayed() {
    const engine = this._engine;
    if (!engine) return;
    this._playedSamples = engine.totalFrames;
    this.dataset.playedSamples = String(engine.totalFrames);
  }

  _onDrained(session) {
    this._onPlayed();
    if (session !== this._session || !session.draining) return;
    session.draining = false;
    session.speaking = false;
    this._playedMs = this._engine.playedMs;
    this.dataset.playedMs = String(this._playedMs);
    this._ui.interrupt.hidden = true;
    if (this._state === "speaking") this._setState(this._baseState());
  }

  // ---- view ----------------------------------------------------------------------------------

  _onMicClick() {
    if (this._session && this._session.capture) this.stop();
    else this.start();
  }

  _showMic(active) {
    // The label says what a press does; `data-active` switches the icon.
    this._ui.mic.toggleAttribute("data-active", active);
    this._ui.mic.setAttribute("aria-label", active ? "Stop talking" : "Start talking");
  }

  _setState(state) {
    const changed = state !== this._state;
    this._state = state;
    this.dataset.state = state;
    this._ui.card.dataset.state = state;
    this._ui.label.textContent = STATE_LABELS[state] || state;
    if (changed) {
      this.dispatchEvent(new CustomEvent("zgv-state", { detail: { state }, bubbles: true, composed: true }));
    }
  }

  _showLevel(level) {
    this._level = level;
    if (this._levelFrame) return;
    this._levelFrame = requestAnimationFrame(() => {
      this._levelFrame = 0;
      // Speech RMS is roughly 0.01-0.3; a square root spreads it over the ring's range.
      const shown = Math.min(1, Math.sqrt(this._level * 4));
      this._ui.mic.style.setProperty("--level", shown.toFixed(3));
    });
  }

  _newTurn(turnId) {
    const node = element("li", "turn");
    const chips = element("div", "chips");
    node.append(chips);
    const turn = { id: turnId, node, chips, user: null, bot: null };
    if (turnId) {
      node.dataset.turnId = turnId;
      this._turns.set(turnId, turn);
    }
    this._ui.log.append(node);
    while (this._ui.log.children.length > MAX_TURNS) {
      const oldest = this._ui.log.firstElementChild;
      this._turns.delete(oldest.dataset.turnId);
      oldest.remove();
    }
    this._scrollLog();
    return turn;
  }

  _turn(turnId) {
    const known = this._turns.get(turnId);
    if (known) return known;
    const typed = this._typedTurn;
    if (typed && turnId) {
      // The first message of a new turn after a typed question belongs to that question.
      this._typedTurn = null;
      typed.id = turnId;
      typed.node.dataset.turnId = turnId;
      this._turns.set(turnId, typed);
      return typed;
    }
    return this._newTurn(turnId);
  }

  _line(turn, kind, who) {
    const line = element("p", `line ${kind}`);
    const text = element("span", "text");
    line.append(element("span", "who", who), text);
    return { line, text };
  }

  _setUserText(turn, text, final) {
    if (!turn.user) {
      turn.user = this._line(turn, "user", "You");
      turn.node.prepend(turn.user.line);
    }
    turn.user.text.textContent = text;
    turn.user.text.classList.toggle("final", final);
    turn.user.text.classList.toggle("interim", !final);
    this._scrollLog();
  }

  _chip(turn, text, failed = false) {
    turn.chips.append(element("span", failed ? "chip failed" : "chip", text));
  }

  _showLatency(turn, latency) {
    turn.node.querySelector("details.latency")?.remove();
    for (const open of this._ui.log.querySelectorAll("details.latency[open]")) open.open = false;
    const details = element("details", "latency");
    details.open = true;
    const total = LATENCY_TOTALS.find(([key]) => typeof latency[key] === "number");
    details.append(
      element("summary", null, total ? `Latency: ${Math.round(latency[total[0]])} ms` : "Latency"),
    );
    const table = element("table");
    const known = new Set([...LATENCY_ROWS, ...LATENCY_TOTALS].map(([key]) => key));
    const extra = Object.keys(latency)
      .filter((key) => !known.has(key))
      .map((key) => [key, key.replace(/_ms$/, "").replaceAll("_", " ")]);
    for (const [key, label] of [...LATENCY_ROWS, ...extra, ...LATENCY_TOTALS]) {
      if (typeof latency[key] !== "number") continue;
      const row = element("tr", LATENCY_TOTALS.some(([k]) => k === key) ? "total" : null);
      const header = element("th", null, label);
      header.scope = "row";
      row.append(header, element("td", null, `${Math.round(latency[key])} ms`));
      table.append(row);
    }
    details.append(table);
    turn.node.append(details);
    this._scrollLog();
  }

  _scrollLog() {
    this._ui.log.scrollTop = this._ui.log.scrollHeight;
  }

  _showConfirmation(summary, expiresInS) {
    this._clearConfirmation();
    this._ui.summary.textContent = summary;
    this._ui.confirm.hidden = false;
    const deadline = Date.now() + (Number(expiresInS) || 0) * 1000;
    const tick = () => {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      this._ui.expires.textContent = left > 0 ? `Expires in ${left} s.` : "This request has expired.";
      if (left === 0) {
        clearInterval(this._confirmTimer);
        this._confirmTimer = 0;
      }
    };
    if (expiresInS) {
      tick();
      this._confirmTimer = setInterval(tick, 1000);
    } else {
      this._ui.expires.textContent = "";
    }
    this._ui.confirm.querySelector(".do-confirm").focus();
  }

  _clearConfirmation() {
    clearInterval(this._confirmTimer);
    this._confirmTimer = 0;
    this._ui.confirm.hidden = true;
  }

  _answerConfirmation(type) {
    const session = this._session;
    this._clearConfirmation();
    if (!session) return;
    this._send(session, { type });
    this._setState("thinking");
    this._ui.mic.focus();
  }

  _announce(text) {
    const line = element("p", null, text);
    this._ui.announcer.append(line);
    while (this._ui.announcer.children.length > 3) this._ui.announcer.firstElementChild.remove();
  }

  _showError(text) {
    this._ui.error.textContent = text;
    this._ui.error.hidden = false;
  }

  _clearError() {
    this._ui.error.hidden = true;
    this._ui.error.textContent = "";
  }
}

if (!customElements.get("zg-voice")) customElements.define("zg-voice", ZgVoiceElement);

export { ZgVoiceElement };
