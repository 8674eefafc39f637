/*
 * The phone simulator: be a customer's phone texting the hub's simulator numbers.
 *
 * Bubbles carry data-direction from the phone's point of view: "out" = this phone sent it
 * (the API's direction "in"), "in" = the hub sent it to this phone (the API's "out").
 */
import { $, api, Backoff, formatSize, h, icon, LiveSocket, messageTime, setChildren, toast } from "/static/common.js";
import { t, tn, tOr } from "/static/i18n.js";

const DEFAULT_PHONE = "+48600700800";
const PHONE_KEY = "sim.phone";
const TO_KEY = "sim.to";

const el = {
  phone: $("sim-phone"),
  to: $("sim-to"),
  thread: $("sim-thread"),
  text: $("sim-text"),
  file: $("sim-file"),
  files: $("sim-files"),
  send: $("sim-send"),
  form: $("sim-form"),
  status: $("sim-status"),
  peer: $("sim-peer"),
  peerLabel: $("sim-peer-label"),
  notice: $("sim-notice"),
};

const state = {
  phone: "",
  numbers: [],
  messages: new Map(), // key -> {key, mine, peer, text, media, at}
  files: [],
  sending: false,
};

let socket = null;

function storage(key, value) {
  try {
    if (value === undefined) return localStorage.getItem(key);
    localStorage.setItem(key, value);
  } catch (_) {
    /* private mode */
  }
  return null;
}

function normalisePhone(raw) {
  return String(raw || "").replace(/[\s().-]/g, "");
}

function messageKey(id) {
  // The socket sends the provider id "sim-<message id>"; history uses the message id.
  return String(id || "").replace(/^sim-/, "");
}

function currentPeer() {
  return el.to.value;
}

function addMessage(m) {
  const old = state.messages.get(m.key);
  if (old) {
    Object.assign(old, m);
    return false;
  }
  state.messages.set(m.key, m);
  return true;
}

function render() {
  const peer = currentPeer();
  const number = state.numbers.find((n) => n.e164 === peer);
  el.peer.textContent = peer || t("sim.no-number");
  el.peerLabel.textContent = number ? [number.label, number.account].filter(Boolean).join(" · ") : "";
  const rows = [...state.messages.values()].filter((m) => m.peer === peer).sort((a, b) => a.at - b.at);
  const nodes = rows.map((m) =>
    h(
      "div",
      { class: "sim-message", dataset: { direction: m.mine ? "out" : "in", id: m.key } },
      m.text ? h("div", { class: "sim-text" }, m.text) : null,
      m.mediaUrls && m.mediaUrls.length
        ? h("div", { class: "sim-media-list" }, m.mediaUrls.map(mediaPreview))
        : m.media ? h("div", { class: "sim-media" }, icon("paperclip", 13), ` ${m.media}`) : null,
      h("div", { class: "sim-meta" }, messageTime(new Date(m.at).toISOString())),
    ),
  );
  if (!nodes.length) nodes.push(h("p", { class: "sim-empty" }, t("sim.empty")));
  setChildren(el.thread, nodes);
  el.thread.scrollTop = el.thread.scrollHeight;
}

// The hub sends a received MMS's files as signed links (docs/mms.md): shown as pictures, or as a
// link when the file is audio or video (the image fails to load).
function mediaPreview(url) {
  const link = h("a", { class: "sim-media", href: url, target: "_blank", rel: "noopener noreferrer" });
  const img = h("img", { class: "sim-media-image", src: url, alt: t("sim.mms-attachment") });
  img.addEventListener("error", () => setChildren(link, icon("paperclip", 13), ` ${t("sim.attachment")}`));
  link.appendChild(img);
  return link;
}

function noticeFrom(peer) {
  if (peer === currentPeer()) return;
  setChildren(
    el.notice,
    t("sim.new-from", { peer }),
    h("button", {
      type: "button",
      class: "btn btn-link",
      onclick: () => {
        el.to.value = peer;
        storage(TO_KEY, peer);
        el.notice.hidden = true;
        render();
      },
    }, t("sim.show")),
  );
  el.notice.hidden = false;
}

async function loadNumbers() {
  try {
    state.numbers = await api("GET", "/simulator/api/numbers", undefined, { noRedirect: true });
  } catch (err) {
    toast(err.message);
    state.numbers = [];
  }
  const saved = storage(TO_KEY);
  setChildren(
    el.to,
    state.numbers.map((n) => h("option", { value: n.e164, title: tOr(`numtype.${n.type}`, n.type) }, n.label ? `${n.e164} — ${n.label}` : `${n.e164} (${n.type})`)),
  );
  if (saved && state.numbers.some((n) => n.e164 === saved)) el.to.value = saved;
}

let historyToken = 0;
async function loadHistory() {
  const phone = state.phone;
  const token = ++historyToken;
  try {
    const rows = await api("GET", `/simulator/api/messages?phone=${encodeURIComponent(phone)}`, undefined, { noRedirect: true });
    if (token !== historyToken) return;
    for (const r of rows) {
      const mine = r.direction === "in";
      addMessage({
        key: messageKey(r.id),
        mine,
        peer: mine ? r.recipient : r.sender,
        text: r.text,
        media: typeof r.media === "number" ? (r.media ? tn("sim.attachments", r.media) : "") : mediaLabel(r.media),
        mediaUrls: Array.isArray(r.media_urls) ? r.media_urls : [],
        at: Date.parse(r.created_at) || Date.now(),
      });
    }
    render();
  } catch (err) {
    // An invalid number is already reported by the socket's close reason.
    if (token === historyToken && err.status !== 400) toast(err.message);
  }
}

function mediaLabel(media) {
  if (!Array.isArray(media) || !media.length) return "";
  return tn("sim.attachments", media.length);
}

function setStatus(kind, text) {
  el.status.dataset.state = kind;
  el.status.textContent = text;
}

function connect() {
  if (socket) socket.stop();
  socket = null;
  if (!state.phone) return;
  const phone = state.phone;
  setStatus("connecting", t("sim.connecting"));
  socket = new LiveSocket({
    url: () => `/simulator/ws?phone=${encodeURIComponent(phone)}`,
    onMessage: (msg) => {
      if (msg.type === "ready") {
        setStatus("online", t("sim.connected-as", { phone }));
        loadHistory(); // anything sent while the socket was down
      } else if (msg.type === "sms") {
        const added = addMessage({
          key: messageKey(msg.id),
          mine: false,
          peer: msg.sender,
          text: msg.text || "",
          media: mediaLabel(msg.media),
          mediaUrls: Array.isArray(msg.media) ? msg.media : [],
          at: Date.now(),
        });
        if (added) {
          render();
          noticeFrom(msg.sender);
        }
      }
    },
    onClose: (e) => {
      if (e.code === 1008) {
        setStatus("down", e.reason || t("sim.invalid-phone"));
        return false;
      }
      setStatus("down", t("sim.reconnecting"));
      return true;
    },
    backoff: new Backoff(500, 10000),
  });
  socket.start();
}

function setPhone(raw) {
  const phone = normalisePhone(raw) || DEFAULT_PHONE;
  if (phone === state.phone) return;
  state.phone = phone;
  storage(PHONE_KEY, phone);
  state.messages.clear();
  render();
  connect();
  loadHistory();
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve({ data: url.slice(url.indexOf(",") + 1), content_type: file.type || null, filename: file.name });
    };
    reader.onerror = () => reject(reader.error || new Error(t("sim.unreadable")));
    reader.readAsDataURL(file);
  });
}

function renderFiles() {
  setChildren(
    el.files,
    state.files.map((file, i) =>
      h("span", { class: "sim-file-chip" }, `${file.name} (${formatSize(file.size)})`,
        h("button", {
          type: "button",
          class: "chip-remove",
          "aria-label": t("sim.remove-file", { name: file.name }),
          onclick: () => {
            state.files.splice(i, 1);
            renderFiles();
          },
        }, "×"))),
  );
}

async function send() {
  if (state.sending) return;
  setPhone(el.phone.value); // typed but not yet committed
  const text = el.text.value;
  const to = currentPeer();
  if (!to) {
    toast(t("sim.pick-number"));
    return;
  }
  if (!text.trim() && !state.files.length) {
    el.text.focus();
    return;
  }
  state.sending = true;
  el.send.disabled = true;
  try {
    const media = await Promise.all(state.files.map(readFile));
    const body = { from: state.phone, to, text, media };
    const result = await api("POST", "/simulator/api/messages", body, { noRedirect: true });
    addMessage({
      key: messageKey(result.message_id || result.accepted),
      mine: true,
      peer: to,
      text,
      media: mediaLabel(media),
      at: Date.now(),
    });
    el.text.value = "";
    state.files = [];
    el.file.value = "";
    renderFiles();
    autosize();
    render();
  } catch (err) {
    toast(err.message || t("sim.send-failed"));
  } finally {
    state.sending = false;
    el.send.disabled = false;
    el.text.focus();
  }
}

function autosize() {
  el.text.style.height = "auto";
  el.text.style.height = `${Math.min(el.text.scrollHeight, 120)}px`;
}

function bind() {
  el.form.addEventListener("submit", (e) => {
    e.preventDefault();
    send();
  });
  el.text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  el.text.addEventListener("input", autosize);
  let phoneTimer = null;
  el.phone.addEventListener("change", () => setPhone(el.phone.value));
  el.phone.addEventListener("input", () => {
    clearTimeout(phoneTimer);
    phoneTimer = setTimeout(() => setPhone(el.phone.value), 500);
  });
  el.to.addEventListener("change", () => {
    storage(TO_KEY, el.to.value);
    el.notice.hidden = true;
    render();
  });
  el.file.addEventListener("change", () => {
    state.files.push(...el.file.files);
    el.file.value = "";
    renderFiles();
  });
}

async function main() {
  bind();
  el.phone.value = storage(PHONE_KEY) || DEFAULT_PHONE;
  await loadNumbers();
  setPhone(el.phone.value);
}

main();
