/*
 * A billboard or chat screen (full screen, read-only). The link's token is in the URL fragment
 * (never sent in a request line or a Referer by the browser); it opens /ws/display, which sends
 * a snapshot or replays what was missed, then live events. On a dropped connection the screen
 * reconnects with backoff and resumes from the last sequence number it saw, so nothing is
 * missed and nothing shows twice.
 *
 * Every text from texters goes into text nodes; nothing is parsed as HTML.
 */
import { Backoff, h, LiveSocket, setChildren } from "/static/common.js";
import { fitWall, keepFitted } from "/static/screen-fit.js";
import { t, useLanguage } from "/static/i18n.js";

const PING_EVERY_MS = 25000;
const QUIET_MS = 20000;
const CYCLE_EVERY_MS = 8000;
const POOL = 50;

const token = decodeURIComponent(location.hash.slice(1));
const wall = document.getElementById("screen-wall");
const resultsBox = document.getElementById("screen-results");
const body = document.body;

const state = {
  seq: null, // the last sequence number seen: the resume point
  seen: new Set(), // seqs applied (a repeat or a replayed live event is skipped)
  base: 0, // the snapshot's seq: no holes are looked for below it
  messages: new Map(), // item id -> payload, in arrival order
  pool: [], // recent approved messages for when the room is quiet
  config: null,
  socket: null,
  revoked: false,
  restart: false, // reconnect at once, without `since` (after a settings change)
  lastArrival: Date.now(),
  cycleIndex: 0,
  reconnects: 0,
};

function mediaUrl(url) {
  return `${url}?token=${encodeURIComponent(token)}`;
}

function applyConfig(config) {
  state.config = config;
  // The screen's own words follow its setting, not the browser of whoever opened it.
  useLanguage(config.language || "pl");
  const root = document.documentElement.style;
  root.setProperty("--bg", config.background);
  root.setProperty("--fg", config.foreground);
  root.setProperty("--accent", config.accent);
  body.dataset.mode = config.mode;
  document.title = config.title;
  document.getElementById("screen-title").textContent = config.title;
  const cta = config.keyword ? `${config.keyword.toUpperCase()} → ${config.number}` : `SMS → ${config.number}`;
  document.getElementById("screen-cta").textContent = cta;
  const logo = document.getElementById("screen-logo");
  if (config.logo_url) {
    logo.src = `${mediaUrl(config.logo_url)}&v=${Date.now()}`;
    logo.hidden = false;
  } else {
    logo.hidden = true;
  }
  render(true);
}

function attachment(x) {
  if (x.kind === "image") return h("img", { class: "wall-media", src: mediaUrl(x.url), alt: "" });
  if (x.kind !== "video") return null;
  // A wall has no one to press play: muted (browsers autoplay only muted video), looping, inline.
  const video = h("video", { class: "wall-media", src: mediaUrl(x.url), preload: "auto" });
  video.muted = true;
  video.defaultMuted = true;
  video.loop = true;
  video.autoplay = true;
  video.playsInline = true;
  return video;
}

function card(m, cycled = false) {
  const who = m.author === "host" ? m.nick || t("scr.host") : m.nick ? `${m.nick}` : m.sender;
  return h(
    "article",
    {
      class: `wall-card${m.author === "host" ? " host" : ""}${cycled ? " cycled" : ""}`,
      dataset: { itemId: m.id },
    },
    state.config && state.config.mode === "chat" ? h("span", { class: "wall-nick", text: who }) : null,
    m.media.map(attachment),
    m.text ? h("p", { class: "wall-text", text: m.text }) : null,
    state.config && state.config.mode !== "chat" ? h("span", { class: "wall-from", text: who }) : null,
  );
}

function visible() {
  const config = state.config || { lifetime_s: 300, max_shown: 8 };
  const oldest = Date.now() - config.lifetime_s * 1000;
  const all = [...state.messages.values()].filter((m) => m.shownAt >= oldest);
  return all.slice(-config.max_shown);
}

let rendered = null;

function render(force = false) {
  const shown = visible();
  const quiet = !shown.length && state.config && state.config.cycle_when_quiet && state.pool.length;
  const cycled = quiet ? state.pool[state.cycleIndex % state.pool.length] : null;
  // Redraw only when what shows changed: a redraw restarts the arrival animation.
  const key = cycled ? `cycle:${cycled.id}` : shown.map((m) => m.id).join(",");
  if (key === rendered && !force) return;
  rendered = key;
  if (shown.length) setChildren(wall, shown.map((m) => card(m)));
  // The room is quiet: bring back recent approved messages one at a time.
  else if (cycled) setChildren(wall, card(cycled, true));
  else setChildren(wall, h("p", { class: "wall-empty", text: t("scr.empty") }));
  fitWall(wall, mode());
}

function mode() {
  return state.config ? state.config.mode : "billboard";
}

keepFitted(wall, mode);

function addMessage(m, live = true) {
  if (state.messages.has(m.id)) return;
  // A live message's lifetime counts from its arrival here, so a screen whose clock is off still
  // shows it; a snapshot's messages count from when the hub received them.
  m.shownAt = live ? Date.now() : Date.parse(m.at) || Date.now();
  state.messages.set(m.id, m);
  state.pool = state.pool.filter((p) => p.id !== m.id).concat([m]).slice(-POOL);
  // Keep memory bounded: a screen may run for days.
  while (state.messages.size > 200) state.messages.delete(state.messages.keys().next().value);
  state.lastArrival = Date.now();
}

function removeMessage(id) {
  state.messages.delete(id);
  state.pool = state.pool.filter((p) => p.id !== id);
}

function renderResults(results) {
  if (!results) {
    resultsBox.hidden = true;
    return;
  }
  resultsBox.hidden = false;
  setChildren(
    resultsBox,
    h("h2", { class: "results-title", text: results.name }),
    results.questions.map((q) =>
      h(
        "div",
        { class: "results-q", dataset: { questionId: q.id } },
        h("div", { text: q.text }),
        q.answers.map((a) => {
          const fill = h("div", { class: "bar-fill" });
          fill.style.width = `${q.total ? Math.round((100 * a.count) / q.total) : 0}%`;
          return h(
            "div",
            { class: "bar", dataset: { answer: a.answer, count: String(a.count) } },
            h("div", { class: "bar-label" }, h("span", { text: a.answer }), h("span", { text: String(a.count) })),
            h("div", { class: "bar-track" }, fill),
          );
        }),
      ),
    ),
  );
}

// Seqs below the newest one seen that never arrived: an event whose number was taken first may be
// stored after a later one. A resume asks for them too (most are numbers never used, and cost nothing).
function missing() {
  if (state.seq === null) return [];
  const holes = [];
  for (let s = state.seq - 1; s > state.base && holes.length < 200; s -= 1) {
    if (!state.seen.has(s)) holes.push(s);
  }
  return holes;
}

function note(seq) {
  if (typeof seq !== "number" || seq <= 0) return true;
  if (state.seen.has(seq)) return false;
  state.seen.add(seq);
  if (state.seq === null || seq > state.seq) state.seq = seq;
  if (state.seen.size > 5000) {
    // A screen may run for days: forget old seqs (and stop looking for holes that old).
    state.base = state.seq - 1000;
    for (const s of state.seen) if (s <= state.base) state.seen.delete(s);
  }
  body.dataset.seq = String(state.seq);
  return true;
}

function handle(msg) {
  switch (msg.type) {
    case "snapshot":
      state.messages.clear();
      state.seen.clear();
      state.seq = msg.seq;
      state.base = msg.seq; // everything up to here is in the snapshot
      body.dataset.seq = String(msg.seq);
      msg.messages.forEach((m) => addMessage(m, false));
      renderResults(msg.results);
      applyConfig(msg.config);
      break;
    case "ready":
      body.dataset.connection = "online";
      body.dataset.replayed = String(msg.replayed);
      break;
    case "display.message":
      if (note(msg.seq)) {
        addMessage(msg.data);
        render();
      }
      break;
    case "display.removed":
      if (note(msg.seq)) {
        removeMessage(msg.data.id);
        render();
      }
      break;
    case "display.results":
      if (note(msg.seq)) renderResults(msg.data);
      break;
    case "display.config":
      if (note(msg.seq)) {
        applyConfig(msg.data);
        // Masking or the word list may have changed: start over from a fresh snapshot, whose
        // senders are labelled by the new settings.
        state.seq = null;
        state.restart = true;
        if (state.socket && state.socket.ws) state.socket.ws.close();
      }
      break;
    case "display.closed":
      state.revoked = true;
      showError(t("scr.revoked"));
      break;
    case "error":
      showError(msg.error);
      break;
    default:
      break;
  }
}

function showError(text) {
  const box = document.getElementById("screen-error");
  box.textContent = text;
  box.hidden = false;
}

function connect() {
  if (!token) {
    showError(t("scr.no-token"));
    return;
  }
  let ping = null;
  state.socket = new LiveSocket({
    url: () => {
      let url = `/ws/display?token=${encodeURIComponent(token)}`;
      if (state.seq !== null) {
        url += `&since=${state.seq}`;
        const holes = missing();
        if (holes.length) url += `&missing=${holes.join(",")}`;
      }
      body.dataset.connection = "connecting";
      return url;
    },
    onOpen: () => {
      ping = setInterval(() => state.socket.send({ type: "ping" }), PING_EVERY_MS);
    },
    onMessage: (msg) => {
      try {
        handle(msg);
      } catch (err) {
        console.warn("bad screen event", err);
      }
    },
    onClose: (e) => {
      clearInterval(ping);
      body.dataset.connection = "offline";
      if (state.revoked || e.code === 4401) {
        state.revoked = true;
        if (e.code === 4401) showError(t("scr.invalid"));
        return false;
      }
      if (state.restart) {
        state.restart = false;
        state.socket.connect();
        return false;
      }
      state.reconnects += 1;
      body.dataset.reconnects = String(state.reconnects);
      return true;
    },
    backoff: new Backoff(1000, 15000),
  });
  state.socket.start();
}

// Expire old messages (checked every second), and when the room is quiet move on to the next
// recent message every CYCLE_EVERY_MS.
let lastCycle = Date.now();
setInterval(() => {
  const now = Date.now();
  if (now - state.lastArrival > QUIET_MS && now - lastCycle >= CYCLE_EVERY_MS) {
    state.cycleIndex += 1;
    lastCycle = now;
  }
  render();
}, 1000);

// A test (or an operator's console) can drop the connection to see the screen resume.
window.hubScreen = { drop: () => state.socket && state.socket.ws && state.socket.ws.close(), state };

connect();
