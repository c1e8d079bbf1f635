// Wallet sign-in for <zg-voice>: Sign-In with Ethereum against the gateway, tokens kept in memory
// only (never in storage a script could read later), and a one-time ticket for each voice socket.
//
// Two wallets: a browser extension (EIP-1193 `personal_sign`), or on a local devnet the gateway's
// built-in development wallet, which signs with a public test key and says so.

const JSON_HEADERS = { "Content-Type": "application/json" };

export class SignInError extends Error {}

export class WalletSignIn extends EventTarget {
  /** @param {string} base the gateway's HTTP origin, e.g. "http://127.0.0.1:8080" */
  constructor(base) {
    super();
    this._base = base;
    this._info = undefined; // undefined: not asked yet; null: this gateway has no sign-in
    this._tokens = null;
  }

  /** What the gateway says of sign-in, or null when it does not ask for it. */
  async info() {
    if (this._info !== undefined) return this._info;
    const response = await fetch(this._url("/v1/auth/info"));
    if (response.status === 404) {
      this._info = null;
    } else if (response.ok) {
      const body = await response.json();
      this._info = body.sign_in ? body : null;
    } else {
      throw new SignInError(`the gateway did not say how to sign in (${response.status})`);
    }
    return this._info;
  }

  /** The signed-in wallet address, or null. */
  get address() {
    return this._tokens ? this._tokens.address : null;
  }

  /** Whether a browser wallet extension (EIP-1193) is present. */
  get hasExtension() {
    return typeof window !== "undefined" && Boolean(window.ethereum && window.ethereum.request);
  }

  /** Sign in with the browser's wallet extension. Call from a user gesture. */
  async signInWithExtension() {
    if (!this.hasExtension) throw new SignInError("No wallet extension was found in this browser.");
    const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
    if (!accounts || !accounts.length) throw new SignInError("The wallet shared no account.");
    const { message } = await this._post("/v1/auth/message", { address: accounts[0] });
    const signature = await window.ethereum.request({
      method: "personal_sign",
      params: [toHex(message), accounts[0]],
    });
    await this._verify(message, signature);
  }

  /** Sign in with the gateway's devnet wallet (a public test key; devnet only). */
  async signInWithDevnetWallet() {
    const wallet = await this._get("/v1/auth/devnet-wallet");
    const { message } = await this._post("/v1/auth/message", { address: wallet.address });
    const { signature } = await this._post("/v1/auth/devnet-wallet/sign", { message });
    await this._verify(message, signature);
  }

  /** Forget the tokens here and end the session at the gateway. */
  async signOut() {
    const tokens = this._tokens;
    this._setTokens(null);
    if (tokens) {
      await fetch(this._url("/v1/auth/logout"), {
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify({ refresh_token: tokens.refresh_token }),
      }).catch(() => {});
    }
  }

  /** A one-time ticket for the next voice socket (refreshing the access token once if needed). */
  async ticket() {
    if (!this._tokens) throw new SignInError("Sign in with your wallet first.");
    let response = await this._ticketRequest();
    if (response.status === 401) {
      await this._refresh();
      response = await this._ticketRequest();
    }
    if (!response.ok) {
      if (response.status === 401) this._setTokens(null);
      throw new SignInError("Your sign-in has ended; sign in again.");
    }
    return (await response.json()).ticket;
  }

  // ---- internals -------------------------------------------------------------------------------

  _url(path) {
    return new URL(path, this._base).href;
  }

  async _get(path) {
    const response = await fetch(this._url(path));
    if (!response.ok) throw new SignInError(await errorText(response));
    return response.json();
  }

  async _post(path, body) {
    const response = await fetch(this._url(path), {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new SignInError(await errorText(response));
    return response.json();
  }

  async _verify(message, signature) {
    const response = await fetch(this._url("/v1/auth/verify"), {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify({ message, signature }),
    });
    if (!response.ok) throw new SignInError("Sign-in was refused.");
    this._setTokens(await response.json());
  }

  async _refresh() {
    const tokens = this._tokens;
    const response = await fetch(this._url("/v1/auth/refresh"), {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify({ refresh_token: tokens.refresh_token }),
    });
    this._setTokens(response.ok ? await response.json() : null);
  }

  _ticketRequest() {
    return fetch(this._url("/v1/auth/ws-ticket"), {
      method: "POST",
      headers: { Authorization: `Bearer ${this._tokens.access_token}` },
    });
  }

  _setTokens(tokens) {
    this._tokens = tokens;
    this.dispatchEvent(new CustomEvent("change", { detail: { address: this.address } }));
  }
}

function toHex(text) {
  const bytes = new TextEncoder().encode(text);
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch {
    // not JSON: fall through to the status
  }
  return `the gateway answered ${response.status}`;
}

/** "0x1234…abcd": an address as people read it. */
export function shortAddress(address) {
  return address ? `${address.slice(0, 6)}…${address.slice(-4)}` : "";
}
