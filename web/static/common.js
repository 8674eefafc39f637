/*
 * Shared helpers for the hub's pages (ES module, no dependencies).
 *
 * Everything that puts text on the page goes through text nodes: message text, names and
 * phone numbers come from strangers and must never be parsed as HTML.
 */
import { formatDate, formatDateTime, formatTime, t } from "/static/i18n.js";

/** An error from the REST API: `message` is the server's `error` text. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || t("common.request-failed", { status }));
    this.status = status;
    this.body = body || {};
    this.field = this.body.field;
  }
}

/**
 * Call the JSON API on this origin (the session cookie goes along by itself).
 * A 401 sends the browser to the login page unless `noRedirect` is set.
 */
export async function api(method, path, body, { noRedirect = false, signal } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" }, signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, { error: t("common.unreachable") });
  }
  let data = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
  }
  if (response.status === 401 && !noRedirect) {
    goToLogin();
    throw new ApiError(401, data);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export function goToLogin() {
  if (location.pathname !== "/login") location.replace("/login");
}

/**
 * Build an element. `attrs` keys: class, text, dataset (object), style (string), on<Event>
 * (function, added with addEventListener), anything else as an attribute (false/null skip).
 * Children: nodes, or strings (inserted as text nodes), arrays are flattened.
 */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "style") node.setAttribute("style", value);
      else if (key.startsWith("on") && typeof value === "function") {
        node.addEventListener(key.slice(2).toLowerCase(), value);
      } else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    }
  }
  appendChildren(node, children);
  return node;
}

function appendChildren(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendChildren(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

export function $(id) {
  return document.getElementById(id);
}

/** Replace a node's children with the given ones (strings become text). */
export function setChildren(node, ...children) {
  node.replaceChildren();
  appendChildren(node, children);
}

/** A random id for idempotent requests; crypto.randomUUID needs a secure context. */
export function uuid() {
  if (window.crypto && typeof crypto.randomUUID === "function") {
    try {
      return crypto.randomUUID();
    } catch (_) {
      /* fall through */
    }
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Exponential backoff with jitter: 0.5 s doubling up to 10 s, each delay in [50 %, 100 %]. */
export class Backoff {
  constructor(base = 500, max = 10000) {
    this.base = base;
    this.max = max;
    this.attempt = 0;
  }
  next() {
    const ceiling = Math.min(this.max, this.base * 2 ** this.attempt);
    this.attempt += 1;
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }
  reset() {
    this.attempt = 0;
  }
}

/** A page-relative WebSocket path as an absolute ws:/wss: URL of this page's host. */
export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

/**
 * A WebSocket to the hub that opens again by itself, with backoff, until stopped.
 *
 * - `url()` gives the path for each attempt (a client that resumes puts its last seq in it);
 * - `onMessage(msg)` gets every JSON message of the current connection; a `ready` also resets
 *   the backoff;
 * - `onOpen()` and `onClose(event)` follow the current connection; `onClose` returning false
 *   stops reconnecting (a revoked credential: code 4401);
 * - `minDelay()` is the least time in ms before the next attempt.
 * Events of a connection that has been replaced or dropped are ignored.
 */
export class LiveSocket {
  constructor({ url, onMessage, onOpen = () => {}, onClose = () => true, backoff = new Backoff(), minDelay = () => 0 }) {
    Object.assign(this, { url, onMessage, onOpen, onClose, backoff, minDelay });
    this.ws = null;
    this.timer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  /** Close for good (no reconnect). */
  stop(code = 1000, reason = "") {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(code, reason);
  }

  /**
   * Give up on the current connection now and open a new one at once.
   *
   * For a connection found dead (a missed pong): `close()` starts the closing handshake, and
   * on a dead link the browser fires `close` only when that times out, which can take
   * minutes. The old socket is forgotten, so its late events are ignored; `onClose` gets a
   * close-like event with `code`, and the next attempt waits only for `minDelay()`.
   */
  drop(code = 4000, reason = "") {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    try {
      ws.close(code, reason);
    } catch (_) {
      /* already closing */
    }
    if (this.onClose({ code, reason, wasClean: false, dropped: true }) === false || this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), Math.max(0, this.minDelay()));
  }

  /** Send a JSON message; false when not connected. */
  send(payload) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(payload));
    return true;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    let ws;
    try {
      ws = new WebSocket(socketUrl(this.url()));
    } catch (_) {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws === this.ws) this.onOpen();
    });
    ws.addEventListener("message", (e) => {
      if (ws !== this.ws) return;
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch (_) {
        return;
      }
      if (msg && msg.type === "ready") this.backoff.reset();
      this.onMessage(msg);
    });
    ws.addEventListener("close", (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (this.onClose(e) === false || this.stopped || this.ws) return;
      this.retry();
    });
  }

  retry() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), Math.max(this.backoff.next(), this.minDelay()));
  }
}

// Dates and times are written in the page's language (i18n.js): "14:03" in Polish, not "2:03 PM".
const timeFormat = { format: formatTime };
const dateFormat = { format: formatDate };
const fullFormat = { format: formatDateTime };

function parseDate(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "14:03" today, "3 Mar" otherwise. */
export function shortTime(iso) {
  const d = parseDate(iso);
  if (!d) return "";
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return timeFormat.format(d);
  return dateFormat.format(d);
}

/** "14:03" today, "3 Mar 14:03" otherwise. */
export function messageTime(iso) {
  const d = parseDate(iso);
  if (!d) return "";
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return timeFormat.format(d);
  return `${dateFormat.format(d)} ${timeFormat.format(d)}`;
}

export function fullTime(iso) {
  const d = parseDate(iso);
  return d ? fullFormat.format(d) : "";
}

export function formatSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function parseTime(iso) {
  const d = parseDate(iso);
  return d ? d.getTime() : 0;
}

let toastTimer = null;
/** A short message at the bottom of the page (role=alert so screen readers say it). */
export function toast(text, kind = "error") {
  let box = document.getElementById("toast");
  if (!box) {
    box = h("div", { id: "toast", class: "toast", role: "alert", hidden: true });
    document.body.appendChild(box);
  }
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.hidden = true;
  }, 5000);
}

const ICONS = {
  // Stroke icons drawn on a 24x24 grid.
  paperclip: "M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5",
  chat: "M21 11.5a8.4 8.4 0 0 1-9 8.4 8.9 8.9 0 0 1-3.8-.9L3 21l1.9-5.2A8.4 8.4 0 0 1 12 3a8.4 8.4 0 0 1 9 8.5z",
};

/** A small inline SVG icon (decorative: hidden from screen readers). */
export function icon(name, size = 16) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name] || "");
  svg.appendChild(path);
  return svg;
}

/**
 * The account's live socket for a page that follows events (Services, Campaigns): reconnects with
 * backoff, pings while connected, and goes to the login page when the credential is revoked (4401).
 * `onReady()` runs on every `ready` (after a reconnect the page re-reads what changed meanwhile);
 * `onEvent(msg)` gets every other message; `setConnection("online" | "down")` shows the state.
 */
export function pageSocket({ onReady, onEvent, setConnection, pingEveryMs = 25000 }) {
  let ping = null;
  const socket = new LiveSocket({
    url: () => "/ws",
    onMessage: (msg) => {
      if (msg.type !== "ready") {
        onEvent(msg);
        return;
      }
      setConnection("online");
      clearInterval(ping);
      ping = setInterval(() => socket.send({ type: "ping" }), pingEveryMs);
      onReady();
    },
    onClose: (e) => {
      clearInterval(ping);
      if (e.code === 4401) {
        goToLogin();
        return false;
      }
      setConnection("down");
      return true;
    },
    backoff: new Backoff(500, 10000),
  });
  socket.start();
  return socket;
}
