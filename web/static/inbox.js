/*
 * The agent inbox: conversation list, thread, replies, all kept live over the /ws socket.
 *
 * Real-time consistency:
 *  - Durable events (message.created, message.status, conversation.updated) carry an account
 *    sequence number. `rt.lastSeq` is the highest seq applied; `rt.holes` the numbers below it
 *    not received yet (an event recorded a moment late, or a number never used); `rt.seen`
 *    the seqs applied, so a replayed event is never applied twice.
 *  - A reconnect opens /ws?since=lastSeq&missing=<holes> and the server replays exactly what
 *    was missed.
 *  - A live event past a gap triggers {"type":"resume"} with the holes; a hole still empty
 *    after a minute was a number never used and is forgotten.
 *  - {"type":"reset"} (too far behind) reloads everything over REST.
 *  - Applying is idempotent: messages are keyed by id, statuses only move forward, a
 *    conversation snapshot only replaces an older one (by its version).
 */
import {
  $,
  api,
  Backoff,
  fullTime,
  goToLogin,
  h,
  icon,
  LiveSocket,
  parseTime,
  setChildren,
  shortTime,
  socketUrl,
  toast,
  uuid,
} from "/static/common.js";
import { t, tn, tOr } from "/static/i18n.js";
import { Attachments } from "/static/inbox-attach.js";
import { bulkCheckbox, bulkLabelsChanged, initBulk, syncBulk } from "/static/inbox-bulk.js";
import { initCanned } from "/static/inbox-canned.js";
import { foundByText, initContact, matchSnippet, refreshContact, rememberMatches, sendBlocked, showContact } from "/static/inbox-contact.js";
import { handBack, handoverPill, renderHandoverBar } from "/static/inbox-handover.js";
import {
  campaignChip,
  renderMessage as renderMessageNode,
  renderStatus as renderMessageStatus,
} from "/static/inbox-messages.js";
import { initLabels, labelChips, renderThreadLabels } from "/static/inbox-labels.js";
import { initQueue, initSnooze, loadQueue, queuePresence, queueTrack, renderSnooze, statusMatches } from "/static/inbox-queue.js";
import { initNotes, loadNotes, noteMode, onMention, sendNote, showNote } from "/static/inbox-notes.js";
import { parseSearch, searchMatches } from "/static/inbox-search.js";
import { initViews, viewsFiltersChanged } from "/static/inbox-views.js";

const PAGE_SIZE = 50;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_SHOW_MS = 5000;
const REPLY_ACK_TIMEOUT_MS = 8000;
const PING_EVERY_MS = 25000;
const PONG_TIMEOUT_MS = 10000;
const DURABLE = new Set(["message.created", "message.status", "conversation.updated", "note.created"]);
const STATUS_RANK = { received: -1, queued: 0, sending: 1, sent: 2, delivered: 3, undelivered: 3, failed: 3 };

const state = {
  me: null,
  agents: new Map(), // id -> {id, name, email, role}
  conversations: new Map(), // id -> Conversation payload
  rows: new Map(), // id -> <li>
  filters: { status: "open", assignee: "", unread: false, search: "", label: "", number_id: "" },
  listHasMore: false,
  selectedId: null,
  stickyId: null, // the opened conversation stays listed while it changes, until the filters change
  messages: new Map(), // id -> Message (open conversation)
  bubbles: new Map(), // id -> element
  statuses: new Map(), // message id -> best status seen (status events may precede the message)
  threadHasMore: false,
  threadToken: 0,
  drafts: new Map(),
  typing: new Map(), // agent_id -> {name, conversation_id, timer}
  online: new Map(), // agent_id -> name
  sending: false,
  lastTypingSent: 0,
};

const rt = {
  socket: null,
  get ws() {
    return this.socket ? this.socket.ws : null;
  },
  ready: false,
  lastSeq: null,
  seen: new Set(),
  holes: new Map(), // seq -> when it was first missed (ms)
  fullReload: true,
  syncing: false,
  buffer: [],
  pausedUntil: 0,
  gapTimer: null,
  resuming: false,
  resumeTimer: null,
  pending: new Map(), // request_id -> {resolve, reject, timer}
  pingTimer: null,
  pongTimer: null,
  connects: 0,
  lastReady: null,
  lastUrl: null,
  everReady: false,
};

const el = {
  inbox: $("inbox"),
  banner: $("connection-banner"),
  list: $("conversation-list"),
  listEmpty: $("list-empty"),
  loadMore: $("load-more"),
  threadEmpty: $("thread-empty"),
  threadView: $("thread-view"),
  thread: $("thread"),
  contact: $("thread-contact"),
  number: $("thread-number"),
  status: $("thread-status"),
  assign: $("assign-select"),
  statusToggle: $("status-toggle"),
  loadOlder: $("load-older"),
  typing: $("typing-indicator"),
  replyForm: $("reply-form"),
  replyText: $("reply-text"),
  replySend: $("reply-send"),
  counter: $("segment-counter"),
  filterStatus: $("filter-status"),
  filterAssignee: $("filter-assignee"),
  filterUnread: $("filter-unread"),
  filterSearch: $("filter-search"),
  filterLabel: $("filter-label"),
  filterNumber: $("filter-number"),
  searchHint: $("search-hint"),
  presence: $("presence"),
  handover: { bar: $("handover-bar"), by: $("handover-by"), note: $("handover-note"), button: $("handback") },
};

const attachments = new Attachments({
  form: $("reply-form"),
  list: $("attach-list"),
  limits: $("attach-limits"),
  error: $("attach-error"),
  button: $("attach-button"),
  input: $("attach-input"),
}, () => updateCounter());

// ---------------------------------------------------------------- conversations

function contactLabel(conv) {
  return (conv.contact && (conv.contact.name || conv.contact.phone)) || t("in.unknown");
}

function agentName(id) {
  const agent = id && state.agents.get(id);
  return agent ? agent.name : null;
}

function matchesFilters(conv) {
  const f = state.filters;
  if (!statusMatches(conv, f.status)) return false;
  if (f.assignee === "me" && conv.assignee_id !== state.me.id) return false;
  if (f.assignee === "unassigned" && conv.assignee_id) return false;
  if (f.assignee && f.assignee !== "me" && f.assignee !== "unassigned" && conv.assignee_id !== f.assignee) return false;
  if (f.label && !(conv.labels || []).includes(f.label)) return false;
  if (f.number_id && conv.number_id !== f.number_id) return false;
  if (f.unread && !(conv.unread > 0)) return false;
  // Found by the hub by a word of a message's text (not only by its name or number).
  return searchMatches(conv, parseSearch(f.search)) || foundByText(conv);
}

function compareConversations(a, b) {
  const ta = parseTime(a.last_message_at);
  const tb = parseTime(b.last_message_at);
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Keep the newer of two snapshots of one conversation. Returns true when `conv` was taken. */
function upsertConversation(conv) {
  const old = state.conversations.get(conv.id);
  if (old && (conv.version || 0) < (old.version || 0)) return false;
  state.conversations.set(conv.id, conv);
  return true;
}

function renderRow(conv) {
  let row = state.rows.get(conv.id);
  if (!row) {
    // A plain list item (a click anywhere opens it); its name is the button for the keyboard, so the
    // row's checkbox is not nested in another control (docs/accessibility.md).
    row = h("li", {
      class: "conv-row",
      dataset: { conversationId: conv.id },
      onclick: () => openConversation(conv.id),
    });
    state.rows.set(conv.id, row);
  }
  const last = conv.last_message;
  const snippet = h("span", { class: "conv-snippet" });
  if (!last) {
    snippet.textContent = t("in.no-messages-yet");
  } else {
    if (last.direction === "out") snippet.appendChild(document.createTextNode(`${t("in.you")} `));
    if (last.has_media) snippet.appendChild(icon("paperclip", 13));
    snippet.appendChild(document.createTextNode(last.text || (last.has_media ? ` ${t("in.attachment")}` : "")));
  }
  const assignee = agentName(conv.assignee_id);
  const badge = h("span", { class: "unread-badge", "aria-label": tn("in.unread-messages", conv.unread || 0) }, String(conv.unread || 0));
  badge.hidden = !(conv.unread > 0);
  setChildren(
    row,
    h(
      "div",
      { class: "conv-top" },
      bulkCheckbox(conv, contactLabel(conv)),
      h("button", { type: "button", class: "conv-phone" }, contactLabel(conv)),
      h("time", { class: "conv-time", datetime: conv.last_message_at || "", title: fullTime(conv.last_message_at) }, shortTime(conv.last_message_at)),
    ),
    h(
      "div",
      { class: "conv-bottom" },
      // Found by a word of a message's text: that message, the words marked (inbox-contact.js).
      matchSnippet(conv, searchedWords()) || snippet,
      badge,
    ),
    h(
      "div",
      { class: "conv-meta" },
      h("span", { class: `status-pill status-${conv.status}` }, tOr(`in.pill.${conv.status}`, conv.status)),
      // Handed over by a bot or an agent: a human should answer (docs/websocket-api.md, Bots).
      handoverPill(conv),
      labelChips(conv),
      campaignChip(conv.campaign),
      assignee ? h("span", { class: "conv-assignee" }, `→ ${assignee}`) : null,
      h("span", { class: "conv-number" }, t("in.via", { number: conv.number })),
    ),
  );
  row.classList.toggle("unread", conv.unread > 0);
  row.classList.toggle("active", conv.id === state.selectedId);
  row.setAttribute("aria-current", conv.id === state.selectedId ? "true" : "false");
  return row;
}

let listRenderQueued = false;
function renderList() {
  if (listRenderQueued) return;
  listRenderQueued = true;
  queueMicrotask(() => {
    listRenderQueued = false;
    renderListNow();
  });
}

function renderListNow() {
  const visible = [...state.conversations.values()]
    .filter((c) => matchesFilters(c) || (c.id === state.selectedId && c.id === state.stickyId))
    .sort(compareConversations);
  const keep = new Set(visible.map((c) => c.id));
  for (const [id, row] of state.rows) {
    if (!keep.has(id)) {
      row.remove();
      state.rows.delete(id);
    }
  }
  let cursor = el.list.firstElementChild;
  for (const conv of visible) {
    const row = renderRow(conv);
    if (row !== cursor) el.list.insertBefore(row, cursor);
    else cursor = cursor.nextElementSibling;
  }
  el.listEmpty.hidden = visible.length > 0;
  el.loadMore.hidden = !state.listHasMore;
  syncBulk();
  const unread = [...state.conversations.values()].reduce((n, c) => n + (c.unread > 0 ? 1 : 0), 0);
  document.title = unread ? t("in.title-unread", { n: unread }) : t("in.title");
}

function searchedWords() {
  const search = parseSearch(state.filters.search);
  return search.kind === "name" ? search.words : null;
}

function listQuery(before) {
  const q = new URLSearchParams();
  const f = state.filters;
  if (f.status) q.set("status", f.status);
  if (f.assignee) q.set("assignee", f.assignee);
  if (f.unread) q.set("unread", "true");
  if (f.label) q.set("label", f.label);
  if (f.number_id) q.set("number_id", f.number_id);
  const search = parseSearch(f.search);
  if (search.kind === "phone" || search.kind === "name") q.set("q", f.search.trim());
  q.set("limit", String(PAGE_SIZE));
  if (before) q.set("before", before);
  return q.toString();
}

let listToken = 0;
async function loadConversations({ more = false } = {}) {
  const token = ++listToken;
  let before = null;
  if (more) {
    const shown = [...state.conversations.values()].filter(matchesFilters).sort(compareConversations);
    const last = shown[shown.length - 1];
    before = last && last.last_message_at;
    if (!before) return;
  }
  const rows = await api("GET", `/api/conversations?${listQuery(before)}`);
  if (token !== listToken) return;
  for (const conv of rows) upsertConversation(conv);
  rememberMatches(rows, more);
  state.listHasMore = rows.length >= PAGE_SIZE;
  renderList();
  if (state.selectedId) renderThreadHeader();
}

// ---------------------------------------------------------------- thread

function statusOf(message) {
  const cached = state.statuses.get(message.id);
  if (cached && (STATUS_RANK[cached] ?? 0) > (STATUS_RANK[message.status] ?? 0)) return cached;
  return message.status;
}

function noteStatus(messageId, status) {
  const old = state.statuses.get(messageId);
  if (!old || (STATUS_RANK[status] ?? 0) > (STATUS_RANK[old] ?? 0)) state.statuses.set(messageId, status);
}

function renderStatus(node, message) {
  renderMessageStatus(node, message, statusOf(message));
}

function renderMessage(message) {
  return renderMessageNode(message, statusOf(message));
}

function nearBottom() {
  const t = el.thread;
  return t.scrollHeight - t.scrollTop - t.clientHeight < 80;
}

function scrollToBottom() {
  el.thread.scrollTop = el.thread.scrollHeight;
}

/** Add a message of the open conversation (or update its status); safe to repeat. */
function upsertMessage(message) {
  if (message.conversation_id !== state.selectedId) return;
  const existing = state.messages.get(message.id);
  if (existing) {
    noteStatus(message.id, message.status);
    if ((message.status_history || []).length > (existing.status_history || []).length) {
      existing.status_history = message.status_history;
    }
    const node = state.bubbles.get(message.id);
    const statusNode = node && node.querySelector(".message-status");
    if (statusNode) renderStatus(statusNode, existing);
    return;
  }
  const stick = nearBottom();
  state.messages.set(message.id, message);
  const node = renderMessage(message);
  state.bubbles.set(message.id, node);
  // Keep the thread in seq order: walk back from the end (new messages go last).
  let after = el.thread.lastElementChild;
  while (after && Number(after.dataset.seq) > message.seq) after = after.previousElementSibling;
  el.thread.insertBefore(node, after ? after.nextElementSibling : el.thread.firstElementChild);
  if (stick || message.direction === "out") scrollToBottom();
  const img = node.querySelectorAll("img");
  img.forEach((i) => i.addEventListener("load", () => { if (nearBottom() || stick) scrollToBottom(); }, { once: true }));
}

function applyStatus(data) {
  noteStatus(data.message_id, data.status);
  const message = state.messages.get(data.message_id);
  if (!message) return;
  if (!(message.status_history || []).some((s) => s.status === data.status)) {
    message.status_history = [...(message.status_history || []), { status: data.status, at: data.at, detail: data.detail }];
  }
  const node = state.bubbles.get(data.message_id);
  const statusNode = node && node.querySelector(".message-status");
  if (statusNode) renderStatus(statusNode, message);
}

function renderAssignOptions() {
  const options = [h("option", { value: "" }, t("in.unassigned"))];
  for (const agent of state.agents.values()) {
    options.push(h("option", { value: agent.id }, agent.id === state.me.id ? t("in.agent-you", { name: agent.name }) : agent.name));
  }
  setChildren(el.assign, options);
}

function renderThreadHeader() {
  const conv = state.conversations.get(state.selectedId);
  if (!conv) return;
  el.contact.textContent = contactLabel(conv);
  el.contact.title = conv.contact.phone;
  el.number.textContent = t("in.via", { number: conv.number });
  el.status.textContent = tOr(`in.pill.${conv.status}`, conv.status);
  el.status.className = `status-pill status-${conv.status}`;
  const assignee = conv.assignee_id || "";
  if (assignee && !el.assign.querySelector(`option[value="${CSS.escape(assignee)}"]`)) {
    el.assign.appendChild(h("option", { value: assignee }, t("in.unknown-agent")));
  }
  el.assign.value = assignee;
  el.assign.dataset.assignee = assignee;
  el.statusToggle.textContent = conv.status === "closed" ? t("in.reopen") : t("in.close");
  el.statusToggle.dataset.action = conv.status === "closed" ? "open" : "closed";
  renderHandoverBar(conv, el.handover);
  renderSnooze(conv);
  renderThreadLabels(conv);
}

function setView(view) {
  el.inbox.dataset.view = view;
}

async function openConversation(id, { fromHash = false } = {}) {
  if (state.selectedId && state.selectedId !== id) state.drafts.set(state.selectedId, el.replyText.value);
  const changed = state.selectedId !== id;
  state.selectedId = id;
  state.stickyId = id;
  if (!fromHash && location.hash !== `#c=${id}`) history.replaceState(null, "", `#c=${id}`);
  setView("thread");
  el.threadEmpty.hidden = true;
  el.threadView.hidden = false;
  if (changed) {
    el.replyText.value = state.drafts.get(id) || "";
    updateCounter();
    clearTypingIndicator();
  }
  attachments.open(id);
  renderList();
  if (!state.conversations.has(id)) {
    try {
      upsertConversation(await api("GET", `/api/conversations/${encodeURIComponent(id)}`));
    } catch (err) {
      toast(err.message);
      closeThread();
      return;
    }
    renderList();
  }
  renderThreadHeader();
  showContact(state.conversations.get(id));
  renderTyping();
  if (!changed && state.messages.size) {
    markRead(id);
    return;
  }
  await loadThread(id);
  markRead(id);
  if (!matchMedia("(max-width: 760px)").matches) el.replyText.focus({ preventScroll: true });
}

function closeThread() {
  state.selectedId = null;
  state.messages.clear();
  state.bubbles.clear();
  el.thread.replaceChildren();
  el.threadView.hidden = true;
  el.threadEmpty.hidden = false;
  showContact(null);
  history.replaceState(null, "", location.pathname);
  setView("list");
  renderList();
}

async function loadThread(id) {
  const token = ++state.threadToken;
  state.messages.clear();
  state.bubbles.clear();
  el.thread.replaceChildren();
  el.thread.setAttribute("aria-busy", "true");
  el.loadOlder.hidden = true;
  try {
    const rows = await api("GET", `/api/conversations/${encodeURIComponent(id)}/messages?limit=${PAGE_SIZE}`);
    if (token !== state.threadToken || state.selectedId !== id) return;
    for (const message of rows) upsertMessage(message);
    state.threadHasMore = rows.length >= PAGE_SIZE;
    el.loadOlder.hidden = !state.threadHasMore;
    await loadNotes(id, state.threadHasMore && rows.length ? Math.min(...rows.map((m) => m.seq)) : null, null);
    scrollToBottom();
  } catch (err) {
    if (token === state.threadToken) toast(err.message);
  } finally {
    if (token === state.threadToken) el.thread.removeAttribute("aria-busy");
  }
}

async function loadOlder() {
  const id = state.selectedId;
  const first = [...state.messages.values()].reduce((min, m) => (min === null || m.seq < min ? m.seq : min), null);
  if (!id || first === null) return;
  const height = el.thread.scrollHeight;
  el.loadOlder.disabled = true;
  try {
    const rows = await api("GET", `/api/conversations/${encodeURIComponent(id)}/messages?limit=${PAGE_SIZE}&before_seq=${first}`);
    if (state.selectedId !== id) return;
    for (const message of rows) upsertMessage(message);
    state.threadHasMore = rows.length >= PAGE_SIZE;
    el.loadOlder.hidden = !state.threadHasMore;
    await loadNotes(id, state.threadHasMore && rows.length ? Math.min(...rows.map((m) => m.seq)) : null, first);
    el.thread.scrollTop = el.thread.scrollHeight - height;
  } catch (err) {
    toast(err.message);
  } finally {
    el.loadOlder.disabled = false;
  }
}

let readInFlight = null;
function markRead(id) {
  const conv = state.conversations.get(id);
  if (!conv || !(conv.unread > 0) || readInFlight === id) return;
  readInFlight = id;
  api("POST", `/api/conversations/${encodeURIComponent(id)}/read`)
    .then((updated) => {
      if (upsertConversation(updated)) renderList();
    })
    .catch((err) => toast(err.message))
    .finally(() => {
      if (readInFlight === id) readInFlight = null;
    });
}

// ---------------------------------------------------------------- typing & presence

function clearTypingIndicator() {
  el.typing.textContent = "";
}

function renderTyping() {
  const names = [];
  for (const t of state.typing.values()) {
    if (t.conversation_id === state.selectedId) names.push(t.name.split(/\s+/)[0] || t.name);
  }
  if (!names.length) el.typing.textContent = "";
  else if (names.length === 1) el.typing.textContent = t("in.typing-one", { name: names[0] });
  else el.typing.textContent = t("in.typing-many", { names: names.join(", ") });
}

function onTyping(data) {
  if (!data || data.agent_id === state.me.id) return;
  const old = state.typing.get(data.agent_id);
  if (old) clearTimeout(old.timer);
  const timer = setTimeout(() => {
    state.typing.delete(data.agent_id);
    renderTyping();
  }, TYPING_SHOW_MS);
  state.typing.set(data.agent_id, { name: data.agent_name || t("in.someone"), conversation_id: data.conversation_id, timer });
  renderTyping();
}

function stopTyping(agentId) {
  const t = state.typing.get(agentId);
  if (!t) return;
  clearTimeout(t.timer);
  state.typing.delete(agentId);
  renderTyping();
}

function renderPresence() {
  const items = [...state.online.entries()].map(([id, name]) =>
    h("li", { class: "presence-item", title: t("in.is-online", { name }), dataset: { agentId: id } },
      h("span", { class: "presence-dot", "aria-hidden": "true" }), name.split(/\s+/)[0] || name));
  setChildren(el.presence, items);
}

function onPresence(data) {
  if (!data) return;
  if (data.state === "online") state.online.set(data.agent_id, data.agent_name);
  else if (data.agent_id !== state.me.id) state.online.delete(data.agent_id);
  renderPresence();
  queuePresence(data);
}

// ---------------------------------------------------------------- applying events

function apply(event) {
  switch (event.type) {
    case "message.created": {
      const message = event.data;
      if (event.conversation && upsertConversation(event.conversation)) renderList();
      queueTrack(event.conversation);
      if (message.conversation_id === state.selectedId) {
        upsertMessage(message);
        if (event.conversation && message.conversation_id === state.selectedId) renderThreadHeader();
        if (message.direction === "in" && document.visibilityState === "visible") markRead(message.conversation_id);
        if (message.direction === "in") refreshContact(message.conversation_id); // an opt-out word?
      }
      if (message.direction === "out" && message.author && message.author.id) stopTyping(message.author.id);
      break;
    }
    case "message.status":
      if (event.data.conversation_id === state.selectedId) applyStatus(event.data);
      else noteStatus(event.data.message_id, event.data.status);
      break;
    case "conversation.updated":
      queueTrack(event.data);
      if (upsertConversation(event.data)) {
        renderList();
        if (event.data.id === state.selectedId) renderThreadHeader();
      }
      break;
    case "note.created":
      showNote(event.data);
      break;
    default:
      break;
  }
}

async function reloadAll() {
  rt.syncing = true;
  rt.buffer = [];
  try {
    await loadConversations();
    if (state.selectedId) {
      const id = state.selectedId;
      try {
        upsertConversation(await api("GET", `/api/conversations/${encodeURIComponent(id)}`));
        renderThreadHeader();
        await loadThread(id);
      } catch (err) {
        toast(err.message);
      }
    }
  } catch (err) {
    toast(err.message);
  } finally {
    rt.syncing = false;
    const buffered = rt.buffer;
    rt.buffer = [];
    for (const event of buffered) apply(event);
  }
}

const HOLE_TTL_MS = 60000;
const MAX_HOLES = 500;

function onDurable(event) {
  if (typeof event.seq !== "number") return;
  if (rt.seen.has(event.seq)) return;
  rt.seen.add(event.seq);
  if (rt.lastSeq !== null) {
    if (event.seq > rt.lastSeq) {
      const now = Date.now();
      for (let s = Math.max(rt.lastSeq + 1, event.seq - MAX_HOLES); s < event.seq; s += 1) {
        if (!rt.seen.has(s)) rt.holes.set(s, now);
      }
      rt.lastSeq = event.seq;
      if (rt.ready && rt.holes.size) scheduleGapCheck();
    } else {
      rt.holes.delete(event.seq);
    }
  }
  if (rt.syncing) rt.buffer.push(event);
  else apply(event);
}

/** The holes still worth asking for, oldest first; expired ones are forgotten. */
function currentHoles() {
  const now = Date.now();
  for (const [seq, at] of rt.holes) if (now - at > HOLE_TTL_MS) rt.holes.delete(seq);
  const holes = [...rt.holes.keys()].sort((x, y) => x - y);
  return holes.slice(-MAX_HOLES);
}

function scheduleGapCheck() {
  if (rt.gapTimer || rt.resuming) return;
  // Events can arrive slightly out of order; give the missing one a moment before resuming.
  rt.gapTimer = setTimeout(() => {
    rt.gapTimer = null;
    const missing = currentHoles();
    if (!rt.ready || rt.resuming || rt.lastSeq === null || !missing.length) return;
    rt.resuming = true;
    send({ type: "resume", since: rt.lastSeq, missing });
    clearTimeout(rt.resumeTimer);
    rt.resumeTimer = setTimeout(() => {
      rt.resuming = false;
    }, 10000);
  }, 500);
}

function pruneSeen() {
  if (rt.lastSeq === null || rt.seen.size < 2000) return;
  for (const seq of rt.seen) if (seq < rt.lastSeq - 1000) rt.seen.delete(seq);
}

// ---------------------------------------------------------------- the socket

function setConnection(stateName) {
  document.body.dataset.connection = stateName;
  el.banner.hidden = stateName !== "down";
}

function send(payload) {
  return rt.socket !== null && rt.socket.send(payload);
}

/** Send a request over the socket and wait for its ack/error (by request_id). */
function request(payload, timeoutMs) {
  return new Promise((resolve, reject) => {
    const requestId = uuid();
    const timer = setTimeout(() => {
      rt.pending.delete(requestId);
      reject(Object.assign(new Error(t("in.no-answer")), { transport: true }));
    }, timeoutMs);
    rt.pending.set(requestId, { resolve, reject, timer });
    if (!send({ ...payload, request_id: requestId })) {
      clearTimeout(timer);
      rt.pending.delete(requestId);
      reject(Object.assign(new Error(t("in.not-connected")), { transport: true }));
    }
  });
}

function failPending() {
  for (const [id, p] of rt.pending) {
    clearTimeout(p.timer);
    p.reject(Object.assign(new Error(t("in.connection-lost")), { transport: true }));
    rt.pending.delete(id);
  }
}

function connect() {
  rt.socket = new LiveSocket({
    url: socketPath,
    onMessage: onSocketMessage,
    onClose: onSocketClose,
    backoff: new Backoff(500, 10000),
    minDelay: () => rt.pausedUntil - Date.now(),
  });
  rt.socket.start();
}

/** Where the next connection goes: resuming after the last seq applied, with the holes below it. */
function socketPath() {
  const since = !rt.fullReload && rt.lastSeq !== null ? rt.lastSeq : null;
  let query = "";
  if (since !== null) {
    const missing = currentHoles();
    query = `?since=${since}` + (missing.length ? `&missing=${missing.join(",")}` : "");
  }
  const path = `/ws${query}`;
  rt.lastUrl = socketUrl(path);
  rt.connects += 1;
  return path;
}

function onSocketMessage(msg) {
  if (DURABLE.has(msg.type)) {
    onDurable(msg);
    return;
  }
  switch (msg.type) {
    case "ready": {
      rt.ready = true;
      rt.everReady = true;
      rt.lastReady = msg;
      setConnection("online");
      startHeartbeat();
      if (state.me) {
        state.online.clear();
        for (const agent of msg.online || []) state.online.set(agent.agent_id, agent.agent_name);
        state.online.set(state.me.id, state.me.name);
        renderPresence();
        loadQueue();
      }
      if (rt.fullReload || rt.lastSeq === null) {
        rt.fullReload = false;
        rt.lastSeq = msg.seq;
        rt.seen.clear();
        rt.holes.clear();
        reloadAll();
      } else {
        pruneSeen();
      }
      break;
    }
    case "resumed":
      rt.resuming = false;
      clearTimeout(rt.resumeTimer);
      pruneSeen();
      break;
    case "reset":
      rt.fullReload = true;
      if (rt.ready && rt.ws) rt.ws.close(4000, "reset");
      break;
    case "typing":
      onTyping(msg.data);
      break;
    case "presence":
      onPresence(msg.data);
      break;
    case "mention":
      onMention(msg.data);
      break;
    case "ack": {
      const p = rt.pending.get(msg.request_id);
      if (p) {
        clearTimeout(p.timer);
        rt.pending.delete(msg.request_id);
        p.resolve(msg);
      }
      break;
    }
    case "error": {
      const p = msg.request_id && rt.pending.get(msg.request_id);
      if (p) {
        clearTimeout(p.timer);
        rt.pending.delete(msg.request_id);
        p.reject(new Error(msg.error || t("in.refused")));
      } else if (msg.error && msg.error !== "not authenticated") {
        toast(msg.error);
      }
      break;
    }
    case "pong":
      clearTimeout(rt.pongTimer);
      rt.pongTimer = null;
      break;
    default:
      break;
  }
}

function onSocketClose(event) {
  rt.ready = false;
  rt.resuming = false;
  clearTimeout(rt.gapTimer);
  rt.gapTimer = null;
  stopHeartbeat();
  failPending();
  if (event.code === 4401) {
    goToLogin();
    return false;
  }
  setConnection("down");
  return true;
}

const heartbeat = { every: PING_EVERY_MS, pongTimeout: PONG_TIMEOUT_MS };

function startHeartbeat() {
  stopHeartbeat();
  rt.pingTimer = setInterval(() => {
    if (!send({ type: "ping" })) return;
    // A pong still awaited keeps its deadline: a new ping does not extend it.
    if (rt.pongTimer) return;
    rt.pongTimer = setTimeout(() => {
      // No answer: the connection is dead even if the browser has not noticed. Do not wait
      // for its close event (minutes on a dead link): show it and reconnect now.
      if (rt.socket) rt.socket.drop(4000, "no pong");
    }, heartbeat.pongTimeout);
  }, heartbeat.every);
}

function stopHeartbeat() {
  clearInterval(rt.pingTimer);
  clearTimeout(rt.pongTimer);
  rt.pingTimer = null;
  rt.pongTimer = null;
}

// ---------------------------------------------------------------- composer

function updateCounter() {
  const text = el.replyText.value;
  const c = window.countSegments ? window.countSegments(text) : null;
  if (!c) {
    el.counter.textContent = "";
    return;
  }
  const files = attachments.ids().length;
  // With files the reply goes as one MMS, whatever the length of its text.
  el.counter.textContent = files
    ? `MMS · ${tn("in.files", files)}${text ? ` · ${c.encoding}` : ""}`
    : t("in.segments-left", { segments: c.segments, remaining: c.remaining, encoding: c.encoding });
  el.counter.dataset.segments = String(c.segments);
  el.counter.dataset.encoding = c.encoding;
  el.counter.classList.toggle("warn", c.segments > 3);
  el.counter.title = t(c.encoding === "GSM-7" ? "in.units-gsm" : "in.units-utf16", { units: c.units, per: c.perSegment });
}

async function sendReply() {
  const id = state.selectedId;
  const text = el.replyText.value;
  if (!id || state.sending) return;
  if (noteMode()) {
    if (await sendNote(id)) {
      state.drafts.delete(id);
      updateCounter();
    }
    return;
  }
  if (attachments.busy()) {
    toast(t("in.wait-uploads"));
    return;
  }
  const media = attachments.ids();
  if (!text.trim() && !media.length) {
    el.replyText.focus();
    return;
  }
  if (sendBlocked()) {
    toast(sendBlocked());
    return;
  }
  state.sending = true;
  el.replySend.disabled = true;
  el.replySend.textContent = t("in.sending");
  // One client_id per reply: if the socket dies after the hub stored it, the REST retry
  // carries the same id and the hub answers with the stored message instead of sending again.
  const clientId = uuid();
  try {
    let sent = false;
    if (rt.ready) {
      try {
        await request({ type: "reply", conversation_id: id, text, client_id: clientId, media }, REPLY_ACK_TIMEOUT_MS);
        sent = true;
      } catch (err) {
        if (!err.transport) throw err;
      }
    }
    if (!sent) {
      const message = await api("POST", `/api/conversations/${encodeURIComponent(id)}/messages`, { text, client_id: clientId, media });
      upsertMessage(message);
    }
    rt.lastSendVia = sent ? "socket" : "rest";
    if (el.replyText.value === text) el.replyText.value = "";
    if (state.selectedId === id) attachments.clear();
    state.drafts.delete(id);
    updateCounter();
  } catch (err) {
    toast(err.message || t("in.send-failed"));
  } finally {
    state.sending = false;
    el.replySend.disabled = Boolean(sendBlocked());
    el.replySend.textContent = t("in.send");
    if (state.selectedId === id) el.replyText.focus({ preventScroll: true });
  }
}

function onComposerInput() {
  updateCounter();
  const now = Date.now();
  if (state.selectedId && el.replyText.value && now - state.lastTypingSent >= TYPING_SEND_EVERY_MS) {
    if (send({ type: "typing", conversation_id: state.selectedId })) state.lastTypingSent = now;
  }
}

// ---------------------------------------------------------------- actions

async function changeAssignee() {
  const id = state.selectedId;
  if (!id) return;
  const value = el.assign.value || null;
  el.assign.disabled = true;
  try {
    const conv = await api("POST", `/api/conversations/${encodeURIComponent(id)}/assign`, { agent_id: value });
    if (upsertConversation(conv)) renderList();
  } catch (err) {
    toast(err.message);
  } finally {
    el.assign.disabled = false;
    renderThreadHeader();
  }
}

async function toggleStatus() {
  const id = state.selectedId;
  if (!id) return;
  const target = el.statusToggle.dataset.action || "closed";
  el.statusToggle.disabled = true;
  try {
    const conv = await api("POST", `/api/conversations/${encodeURIComponent(id)}/status`, { status: target });
    if (upsertConversation(conv)) renderList();
  } catch (err) {
    toast(err.message);
  } finally {
    el.statusToggle.disabled = false;
    renderThreadHeader();
  }
}

async function giveBackToBot() {
  const id = state.selectedId;
  if (!id) return;
  el.handover.button.disabled = true;
  try {
    if (upsertConversation(await handBack(id))) renderList();
  } catch (err) {
    toast(err.message);
  } finally {
    el.handover.button.disabled = false;
    renderThreadHeader();
  }
}

let filterTimer = null;
function onFiltersChanged(debounce, byHand = true) {
  if (byHand) viewsFiltersChanged();
  state.filters = {
    status: el.filterStatus.value,
    assignee: el.filterAssignee.value,
    unread: el.filterUnread.checked,
    search: el.filterSearch.value,
    label: el.filterLabel.value,
    number_id: el.filterNumber.value,
  };
  const search = parseSearch(state.filters.search);
  el.searchHint.textContent = search.kind === "short" ? t(search.need === "digits" ? "in.search-digits" : "in.search-letters", { n: search.min }) : "";
  el.searchHint.hidden = search.kind !== "short";
  state.stickyId = null;
  renderList();
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => loadConversations().catch((err) => toast(err.message)), debounce ? 250 : 0);
}

function bindUi() {
  // Log out: the shared top bar (topbar.js).
  el.filterStatus.addEventListener("change", () => onFiltersChanged(false));
  el.filterAssignee.addEventListener("change", () => onFiltersChanged(false));
  el.filterUnread.addEventListener("change", () => onFiltersChanged(false));
  el.filterSearch.addEventListener("input", () => onFiltersChanged(true));
  el.filterLabel.addEventListener("change", () => onFiltersChanged(false));
  el.filterNumber.addEventListener("change", () => onFiltersChanged(false));
  el.loadMore.addEventListener("click", () => loadConversations({ more: true }).catch((err) => toast(err.message)));
  el.loadOlder.addEventListener("click", loadOlder);
  el.assign.addEventListener("change", changeAssignee);
  el.statusToggle.addEventListener("click", toggleStatus);
  el.handover.button.addEventListener("click", giveBackToBot);
  $("thread-back").addEventListener("click", closeThread);
  el.replyForm.addEventListener("submit", (e) => {
    e.preventDefault();
    sendReply();
  });
  el.replyText.addEventListener("input", onComposerInput);
  el.replyText.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      sendReply();
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.selectedId) markRead(state.selectedId);
  });
  window.addEventListener("hashchange", () => {
    const id = hashConversation();
    if (id && id !== state.selectedId) openConversation(id, { fromHash: true });
  });
}

/** What the inbox's feature modules (labels, bulk actions, views) may do to the page. */
const bridge = {
  /** Take a conversation snapshot an API call answered with. */
  upsert(conv) {
    if (!upsertConversation(conv)) return;
    renderList();
    if (conv.id === state.selectedId) renderThreadHeader();
  },
  /** The labels' names or colours changed: draw rows and header again. */
  labelsChanged() {
    bulkLabelsChanged();
    renderList();
    if (state.selectedId) renderThreadHeader();
  },
  filters() {
    return { ...state.filters };
  },
  /** Show the list with these filters (a saved view); the search box is left as it is. */
  setFilters(f) {
    el.filterStatus.value = f.status;
    el.filterAssignee.value = f.assignee;
    el.filterUnread.checked = f.unread;
    el.filterLabel.value = f.label;
    el.filterNumber.value = f.number_id;
    onFiltersChanged(false, false);
  },
};

function hashConversation() {
  const m = /^#c=([0-9a-fA-F]{24})$/.exec(location.hash);
  return m ? m[1] : null;
}

// Test and debugging hooks (nothing secret: the page's own state).
window.__hub = {
  get socket() {
    return rt.ws;
  },
  get lastSeq() {
    return rt.lastSeq;
  },
  get lastReady() {
    return rt.lastReady;
  },
  get lastUrl() {
    return rt.lastUrl;
  },
  get connects() {
    return rt.connects;
  },
  get lastSendVia() {
    return rt.lastSendVia;
  },
  /** Ping every `every` ms and give up `pongTimeout` ms after an unanswered ping (from now). */
  heartbeat(every, pongTimeout) {
    Object.assign(heartbeat, { every, pongTimeout });
    if (rt.ready) startHeartbeat();
  },
  /** Do not reconnect for `ms` milliseconds (from now). */
  pauseReconnect(ms) {
    rt.pausedUntil = Date.now() + ms;
  },
};

async function main() {
  bindUi();
  updateCounter();
  let me;
  try {
    me = await api("GET", "/api/me");
  } catch (err) {
    if (err.status !== 401) toast(err.message);
    return;
  }
  state.me = me;
  for (const agent of me.agents || []) state.agents.set(agent.id, agent);
  $("account-name").textContent = me.account_name || "";
  $("agent-name").textContent = me.name;
  $("agent-avatar").textContent = (me.name || "?").trim().charAt(0).toUpperCase();
  renderAssignOptions();
  initSnooze(() => state.selectedId);
  initContact();
  initQueue(me);
  initLabels(me, bridge);
  initBulk(me, bridge);
  initViews(me, bridge);
  initNotes({ me, agents: state.agents, selected: () => state.selectedId, thread: el.thread, text: el.replyText, form: el.replyForm, send: el.replySend });
  initCanned({ me, selected: () => state.selectedId, text: el.replyText, actions: el.replyForm.querySelector(".composer-actions"), onChange: onComposerInput });
  state.online.set(me.id, me.name);
  renderPresence();
  connect();
  const id = hashConversation();
  if (id) openConversation(id, { fromHash: true });
  // Show something even if the socket cannot connect at first.
  setTimeout(() => {
    if (!rt.everReady) loadConversations().catch((err) => toast(err.message));
  }, 3000);
}

main();
