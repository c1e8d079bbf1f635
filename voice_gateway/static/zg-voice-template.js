// The markup and styles of <zg-voice>'s shadow root. Kept inside the module (not a stylesheet
// link) so an embedding page shows the component styled on the first paint.

const MIC_ICON = `
<svg class="icon icon-mic" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
  <rect x="9" y="3" width="6" height="11" rx="3"></rect>
  <path d="M6 11a6 6 0 0 0 12 0M12 17v4M9 21h6"></path>
</svg>
<svg class="icon icon-stop" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
  <rect x="7" y="7" width="10" height="10" rx="1.5"></rect>
</svg>`;

const STYLES = `
:host {
  --zgv-accent: #4f46e5;
  --zgv-listening: #059669;
  --zgv-thinking: #d97706;
  --zgv-speaking: #2563eb;
  --zgv-confirming: #7c3aed;
  --zgv-error: #dc2626;
  --zgv-text: #111827;
  --zgv-muted: #6b7280;
  --zgv-surface: #ffffff;
  --zgv-border: #e5e7eb;
  --zgv-soft: #f3f4f6;
  display: block;
  max-width: 44rem;
  color: var(--zgv-text);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
.card {
  background: var(--zgv-surface);
  border: 1px solid var(--zgv-border);
  border-radius: 16px;
  padding: 1.25rem;
  box-shadow: 0 1px 3px rgb(0 0 0 / 0.06), 0 8px 24px rgb(0 0 0 / 0.04);
  display: grid;
  gap: 1rem;
}
.top { display: flex; align-items: center; gap: 1.25rem; }
.mic {
  --level: 0;
  flex: none;
  width: 88px;
  height: 88px;
  border-radius: 50%;
  border: none;
  background: var(--state-color);
  color: #fff;
  cursor: pointer;
  display: grid;
  place-items: center;
  box-shadow: 0 0 0 calc(4px + var(--level) * 18px) color-mix(in srgb, var(--state-color) 22%, transparent);
  transition: background-color 0.2s, box-shadow 0.08s linear;
}
.mic:hover { filter: brightness(1.08); }
.mic:focus-visible, button:focus-visible, input:focus-visible {
  outline: 3px solid var(--zgv-accent);
  outline-offset: 3px;
}
.mic .icon { width: 40px; height: 40px; fill: none; stroke: currentColor; stroke-width: 2;
  stroke-linecap: round; stroke-linejoin: round; }
.mic .icon-stop { display: none; fill: currentColor; }
.mic[data-active] .icon-mic { display: none; }
.mic[data-active] .icon-stop { display: block; }
.status { display: grid; gap: 0.25rem; min-width: 0; }
.state { display: inline-flex; align-items: center; gap: 0.5rem; font-weight: 600; font-size: 1.1rem; }
.dot { width: 12px; height: 12px; border-radius: 50%; background: var(--state-color); flex: none; }
.hint { color: var(--zgv-muted); font-size: 0.9rem; margin: 0; }
.card[data-state="listening"] { --state-color: var(--zgv-listening); }
.card[data-state="thinking"] { --state-color: var(--zgv-thinking); }
.card[data-state="speaking"] { --state-color: var(--zgv-speaking); }
.card[data-state="confirming"] { --state-color: var(--zgv-confirming); }
.card[data-state="error"] { --state-color: var(--zgv-error); }
.card { --state-color: var(--zgv-accent); }
.card[data-state="thinking"] .dot, .card[data-state="connecting"] .dot,
.card[data-user-speaking] .dot { animation: pulse 1s ease-in-out infinite; }
@keyframes pulse { 50% { opacity: 0.3; } }
@media (prefers-reduced-motion: reduce) {
  .dot { animation: none !important; }
  .mic { transition: none; }
}
.actions { margin-left: auto; display: flex; gap: 0.5rem; }
button.secondary, .ask button, .confirm button {
  font: inherit;
  border-radius: 10px;
  padding: 0.5rem 1rem;
  border: 1px solid var(--zgv-border);
  background: var(--zgv-soft);
  color: var(--zgv-text);
  cursor: pointer;
}
button.primary, .ask button {
  background: var(--zgv-accent);
  border-color: var(--zgv-accent);
  color: #fff;
}
.confirm {
  border: 2px solid var(--zgv-confirming);
  border-radius: 12px;
  padding: 0.75rem 1rem;
  display: grid;
  gap: 0.5rem;
  background: color-mix(in srgb, var(--zgv-confirming) 6%, var(--zgv-surface));
}
.confirm p { margin: 0; }
.confirm .summary { font-weight: 600; }
.confirm .expires { color: var(--zgv-muted); font-size: 0.9rem; }
.confirm .buttons { display: flex; gap: 0.5rem; }
.wallet { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem; font-size: 0.95rem; }
.wallet .who { flex: 1 1 12rem; }
.log {
  list-style: none;
  margin: 0;
  padding: 0;
  display: grid;
  gap: 0.75rem;
  max-height: 28rem;
  overflow-y: auto;
}
.log:empty::before {
  content: "Ask about the 0G chain: “what is the latest block”, “what is my balance”.";
  color: var(--zgv-muted);
}
.turn { border-top: 1px solid var(--zgv-border); padding-top: 0.75rem; display: grid; gap: 0.35rem; }
.turn:first-child { border-top: none; padding-top: 0; }
.line { margin: 0; display: grid; grid-template-columns: 5.5rem 1fr; gap: 0.5rem; }
.who { color: var(--zgv-muted); font-size: 0.85rem; padding-top: 0.1rem; }
.user .text.interim { color: var(--zgv-muted); font-style: italic; }
.user .text.final { color: var(--zgv-text); }
.bot .text { color: var(--zgv-text); font-weight: 500; }
.note { color: var(--zgv-muted); font-size: 0.85rem; margin-left: 6rem; }
.chips { display: flex; flex-wrap: wrap; gap: 0.35rem; margin-left: 6rem; }
.chip {
  font: 0.78rem/1.4 ui-monospace, SFMono-Regular, Menlo, monospace;
  background: var(--zgv-soft);
  border-radius: 999px;
  padding: 0.1rem 0.55rem;
  color: #374151;
}
.chip.failed { background: #fee2e2; color: #991b1b; }
details.latency { margin-left: 6rem; font-size: 0.85rem; }
details.latency summary { cursor: pointer; color: var(--zgv-muted); }
table { border-collapse: collapse; margin-top: 0.25rem; }
th, td { padding: 0.1rem 0.75rem 0.1rem 0; text-align: left; font-weight: normal; }
td { font-variant-numeric: tabular-nums; text-align: right; }
th { color: var(--zgv-muted); }
tr.total th, tr.total td { font-weight: 600; color: var(--zgv-text); }
.ask { display: flex; gap: 0.5rem; }
.ask input {
  flex: 1;
  min-width: 0;
  font: inherit;
  padding: 0.55rem 0.75rem;
  border: 1px solid var(--zgv-border);
  border-radius: 10px;
  color: var(--zgv-text);
  background: var(--zgv-surface);
}
.error { margin: 0; color: var(--zgv-error); font-size: 0.95rem; }
.visually-hidden {
  position: absolute;
  width: 1px;
  height: 1px;
  overflow: hidden;
  clip: rect(0 0 0 0);
  white-space: nowrap;
}
[hidden] { display: none !important; }
`;

export const TEMPLATE = `
<style>${STYLES}</style>
<section class="card" data-state="idle" part="card" aria-label="Voice assistant">
  <div class="top">
    <button class="mic" type="button" aria-label="Start talking">${MIC_ICON}</button>
    <div class="status">
      <span class="state" role="status" aria-live="polite"><span class="dot"></span><span class="label"></span></span>
      <p class="hint">Press the microphone and ask a question. Esc stops a reply.</p>
    </div>
    <div class="actions">
      <button class="secondary interrupt" type="button" hidden>Stop speaking</button>
    </div>
  </div>
  <div class="wallet" role="group" aria-label="Wallet" hidden>
    <span class="who">Sign in with your wallet to talk.</span>
    <button class="secondary connect" type="button">Connect wallet</button>
    <button class="secondary devnet" type="button" hidden
      title="A public development key of the local devnet: never use it on a real network">Use devnet wallet (test key)</button>
    <button class="secondary signout" type="button" hidden>Sign out</button>
  </div>
  <div class="confirm" role="group" aria-label="Confirmation needed" hidden>
    <p class="summary"></p>
    <p class="expires"></p>
    <div class="buttons">
      <button class="primary do-confirm" type="button">Confirm</button>
      <button class="secondary do-cancel" type="button">Cancel</button>
    </div>
  </div>
  <ol class="log" aria-label="Conversation"></ol>
  <form class="ask">
    <label class="visually-hidden" for="zgv-question">Type a question</label>
    <input id="zgv-question" name="question" type="text" maxlength="2000" autocomplete="off"
      placeholder="Or type a question…">
    <button type="submit">Send</button>
  </form>
  <p class="error" role="alert" hidden></p>
  <div class="visually-hidden announcer" aria-live="polite"></div>
</section>
`;
