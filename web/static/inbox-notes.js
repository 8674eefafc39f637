/*
 * Private notes in the thread and @mentions (docs/inbox.md, "Notes and mentions").
 *
 *  - The composer has a Reply / Note switch; a note goes to POST /api/conversations/{id}/notes and is
 *    never sent to the contact. In the thread it sits among the messages by its seq, on yellow.
 *  - In a note, "@" opens the account's agents; the picked ones are sent as `mentions`.
 *  - A `mention` event (only this agent's sockets get it) adds an entry to the bell in the top bar
 *    and, with the tab in the background and permission given, a desktop notification.
 */
import { api, fullTime, h, messageTime, setChildren, toast, uuid } from "/static/common.js";
import { t, tn } from "/static/i18n.js";
import { Picker } from "/static/inbox-picker.js";

const NOTES_PAGE = 200;
const MENTION_TRIGGER = /(^|\s)@([^\s@]{0,30})$/;

const ctx = {
  me: null,
  agents: new Map(),
  selected: () => null,
  thread: null,
  text: null,
  form: null,
  send: null,
  mode: "reply",
  picked: new Map(), // agent id -> name, for the note being written
  shown: new Map(), // note id -> element (open conversation)
  mentions: [], // newest first
  unseen: 0,
};
const el = {};

// ---------------------------------------------------------------- the thread

function nearBottom() {
  const t = ctx.thread;
  return t.scrollHeight - t.scrollTop - t.clientHeight < 80;
}

/** The note's text with its @mentions of known agents marked. */
function noteText(note) {
  const names = (note.mentions || []).map((id) => ctx.agents.get(id)).filter(Boolean).map((a) => a.name);
  const node = h("div", { class: "msg-text" });
  if (!names.length) {
    node.textContent = note.text;
    return node;
  }
  const escaped = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).sort((a, b) => b.length - a.length);
  const pattern = new RegExp(`@(?:${escaped.join("|")}|${escaped.map((n) => n.split(/\s+/)[0]).join("|")})`, "giu");
  let last = 0;
  for (const m of note.text.matchAll(pattern)) {
    if (m.index > last) node.appendChild(document.createTextNode(note.text.slice(last, m.index)));
    node.appendChild(h("span", { class: "note-mention" }, m[0]));
    last = m.index + m[0].length;
  }
  if (last < note.text.length) node.appendChild(document.createTextNode(note.text.slice(last)));
  return node;
}

function renderNote(note) {
  const author = (note.author && note.author.name) || t("in.agent");
  return h(
    "div",
    { class: "msg msg-note", dataset: { noteId: note.id, seq: String(note.seq) } },
    h(
      "div",
      { class: "bubble note-bubble", role: "note", "aria-label": t("in.note-by", { name: author }) },
      h("div", { class: "note-head" }, h("span", { class: "note-label" }, t("in.note")), h("span", { class: "note-author" }, author)),
      noteText(note),
      h("div", { class: "msg-meta" }, h("time", { datetime: note.created_at, title: fullTime(note.created_at) }, messageTime(note.created_at)), ` · ${t("in.note-only-agents")}`),
    ),
  );
}

/** Put a note of the open conversation in the thread, in seq order; safe to repeat. */
export function showNote(note) {
  if (!ctx.thread || note.conversation_id !== ctx.selected()) return;
  const existing = ctx.shown.get(note.id);
  if (existing && existing.isConnected) return;
  const stick = nearBottom();
  const node = renderNote(note);
  ctx.shown.set(note.id, node);
  let after = ctx.thread.lastElementChild;
  while (after && Number(after.dataset.seq) > note.seq) after = after.previousElementSibling;
  ctx.thread.insertBefore(node, after ? after.nextElementSibling : ctx.thread.firstElementChild);
  if (stick || (note.author && note.author.id === ctx.me.id)) ctx.thread.scrollTop = ctx.thread.scrollHeight;
}

/** Load the notes of a conversation with seq in (afterSeq, beforeSeq); null: no bound. */
export async function loadNotes(conversationId, afterSeq, beforeSeq) {
  const q = new URLSearchParams({ limit: String(NOTES_PAGE) });
  if (afterSeq !== null && afterSeq !== undefined) q.set("after_seq", String(afterSeq));
  if (beforeSeq !== null && beforeSeq !== undefined) q.set("before_seq", String(beforeSeq));
  try {
    const rows = await api("GET", `/api/conversations/${encodeURIComponent(conversationId)}/notes?${q}`);
    for (const note of rows) showNote(note);
  } catch (err) {
    toast(err.message);
  }
}

// ---------------------------------------------------------------- the composer

export function noteMode() {
  return ctx.mode === "note";
}

function setMode(mode) {
  ctx.mode = mode;
  document.body.dataset.composer = mode;
  ctx.form.classList.toggle("composer-note", mode === "note");
  el.reply.setAttribute("aria-pressed", mode === "reply" ? "true" : "false");
  el.note.setAttribute("aria-pressed", mode === "note" ? "true" : "false");
  ctx.text.placeholder =
    mode === "note" ? t("in.note-placeholder") : ctx.replyPlaceholder;
  ctx.send.textContent = mode === "note" ? t("in.add-note") : t("in.send");
  if (mode === "reply") mentionPicker.close();
}

/** Store the composer's text as a note of the open conversation. Returns true when stored. */
export async function sendNote(conversationId) {
  const text = ctx.text.value;
  if (!text.trim()) {
    ctx.text.focus();
    return false;
  }
  const mentions = [...ctx.picked.keys()];
  ctx.send.disabled = true;
  try {
    const note = await api("POST", `/api/conversations/${encodeURIComponent(conversationId)}/notes`, {
      text,
      mentions,
      client_id: uuid(),
    });
    showNote(note);
    if (ctx.text.value === text) ctx.text.value = "";
    ctx.picked.clear();
    return true;
  } catch (err) {
    toast(err.message || t("in.note-failed"));
    return false;
  } finally {
    ctx.send.disabled = false;
    ctx.send.textContent = t("in.add-note");
  }
}

let mentionPicker = null;

function onMentionInput() {
  if (ctx.mode !== "note") return;
  const m = MENTION_TRIGGER.exec(ctx.text.value.slice(0, ctx.text.selectionStart));
  if (!m) {
    mentionPicker.close();
    return;
  }
  const q = m[2].toLowerCase();
  const agents = [...ctx.agents.values()].filter(
    (a) => a.id !== ctx.me.id && a.name.toLowerCase().split(/\s+/).some((part) => part.startsWith(q)),
  );
  mentionPicker.show(agents.map((a) => ({ key: a.id, title: a.name, detail: a.email || "", agent: a })));
}

function insertMention(item) {
  const t = ctx.text;
  const caret = t.selectionStart;
  const before = t.value.slice(0, caret);
  const m = MENTION_TRIGGER.exec(before);
  const start = m ? caret - m[2].length - 1 : caret;
  const tag = `@${item.agent.name} `;
  t.value = before.slice(0, start) + tag + t.value.slice(caret);
  const at = start + tag.length;
  t.setSelectionRange(at, at);
  ctx.picked.set(item.agent.id, item.agent.name);
  t.focus();
}

// ---------------------------------------------------------------- mentions

function renderMentions() {
  el.count.textContent = String(ctx.unseen);
  el.count.hidden = ctx.unseen === 0;
  el.bell.setAttribute("aria-label", ctx.unseen ? tn("in.mentions-new", ctx.unseen) : t("in.mentions"));
  const items = ctx.mentions.map((m) =>
    h(
      "li",
      { class: "mention-item" },
      h(
        "a",
        { href: `#c=${m.conversation_id}`, onclick: () => closeMentions() },
        h("span", { class: "mention-who" }, `${(m.by && m.by.name) || t("in.someone")} · ${m.contact}`),
        h("span", { class: "mention-text" }, m.text),
        h("time", { datetime: m.at, title: fullTime(m.at) }, messageTime(m.at)),
      ),
    ),
  );
  setChildren(el.list, items.length ? items : [h("li", { class: "mention-none" }, t("in.no-mentions"))]);
}

function closeMentions() {
  el.panel.hidden = true;
  el.bell.setAttribute("aria-expanded", "false");
}

function toggleMentions() {
  const open = el.panel.hidden;
  el.panel.hidden = !open;
  el.bell.setAttribute("aria-expanded", open ? "true" : "false");
  if (open) {
    ctx.unseen = 0;
    renderMentions();
    // Asked on a click (browsers want a gesture): desktop notifications for later mentions.
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
  }
}

/** A `mention` event for this agent. */
export function onMention(data) {
  if (!data || ctx.mentions.some((m) => m.note_id === data.note_id)) return;
  ctx.mentions.unshift(data);
  ctx.mentions.length = Math.min(ctx.mentions.length, 50);
  if (el.panel.hidden) ctx.unseen += 1;
  renderMentions();
  if (document.visibilityState === "hidden" && "Notification" in window && Notification.permission === "granted") {
    const n = new Notification(t("in.mentioned-you", { name: (data.by && data.by.name) || t("in.someone") }), {
      body: `${data.contact}: ${data.text}`,
      tag: `mention-${data.note_id}`,
    });
    n.onclick = () => {
      window.focus();
      location.hash = `#c=${data.conversation_id}`;
      n.close();
    };
  }
}

function buildBell() {
  el.count = h("span", { class: "mention-count", hidden: true });
  el.bell = h(
    "button",
    { id: "mentions-toggle", class: "btn btn-ghost mention-bell", type: "button", "aria-haspopup": "true", "aria-expanded": "false", "aria-controls": "mentions-panel", onclick: toggleMentions },
    "@",
    el.count,
  );
  el.list = h("ul", { id: "mentions-list", class: "mention-list", "aria-label": t("in.mentions") });
  el.panel = h("div", { id: "mentions-panel", class: "mention-panel", hidden: true }, h("h2", { class: "mention-title" }, t("in.mentions")), el.list);
  const wrap = h("div", { class: "mentions" }, el.bell, el.panel);
  const presence = document.getElementById("presence");
  presence.insertAdjacentElement("afterend", wrap);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !el.panel.hidden) closeMentions();
  });
}

function buildSwitch() {
  el.reply = h("button", { type: "button", class: "mode-btn", "aria-pressed": "true", onclick: () => setMode("reply") }, t("in.mode-reply"));
  el.note = h("button", { type: "button", class: "mode-btn", "aria-pressed": "false", title: t("in.mode-note-title"), onclick: () => setMode("note") }, t("in.note"));
  const group = h("div", { id: "composer-mode", class: "composer-mode", role: "group", "aria-label": t("in.mode-group") }, el.reply, el.note);
  ctx.form.insertBefore(group, ctx.form.firstChild);
}

/** Build the note switch and the mentions bell. `agents` is the page's id → agent map. */
export function initNotes({ me, agents, selected, thread, text, form, send }) {
  Object.assign(ctx, { me, agents, selected, thread, text, form, send, replyPlaceholder: text.placeholder });
  buildSwitch();
  buildBell();
  mentionPicker = new Picker(text, { label: t("in.mention-picker"), onPick: insertMention, empty: t("in.mention-none") });
  text.addEventListener("input", onMentionInput);
  renderMentions();
  api("GET", "/api/mentions")
    .then((rows) => {
      for (const m of rows.reverse()) if (!ctx.mentions.some((x) => x.note_id === m.note_id)) ctx.mentions.unshift(m);
      renderMentions();
    })
    .catch(() => {});
}
