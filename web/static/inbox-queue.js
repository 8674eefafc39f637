/*
 * Capacity routing and snooze in the inbox (docs/inbox.md, "Capacity routing and snooze").
 *
 * Admins see the queue live: the waiting conversations (how long each waits, flagged past the
 * account's threshold) and the agents (open / capacity, online). The panel loads GET /api/queue
 * once per connection and then follows the socket's conversation payloads and presence events;
 * a local timer only re-counts the waiting times. Every agent can snooze the open conversation.
 */
import { $, api, h, parseTime, setChildren, toast } from "/static/common.js";
import { locale, t, tn } from "/static/i18n.js";

const TICK_MS = 15000;

const q = {
  enabled: false,
  threshold: 0,
  autoAssign: false,
  versions: new Map(),
  waiting: new Map(), // conversation id -> conversation payload
  agents: new Map(), // agent id -> {id, name, capacity, online, open: Set}
  timer: null,
  loading: null, // the load in flight
  again: false, // asked to load again while one was in flight
  pending: null, // events that came during a load: applied after its snapshot
};

/** Whether a conversation belongs in the list for the status filter (snoozed ones only under "snoozed"). */
export function statusMatches(conv, status) {
  if (status === "snoozed") return Boolean(conv.snoozed_until);
  if (!status) return true;
  if (conv.status !== status) return false;
  return status === "closed" || !conv.snoozed_until;
}

// ---------------------------------------------------------------- the admins' queue panel

/** Start the panel for admins (a no-op for agents). */
export async function initQueue(me) {
  if (!me || me.role !== "admin") return;
  q.enabled = true;
  $("queue-panel").hidden = false;
  $("queue-auto").addEventListener("change", saveSettings);
  $("queue-threshold").addEventListener("change", saveSettings);
  await loadQueue();
  clearInterval(q.timer);
  q.timer = setInterval(renderQueue, TICK_MS);
}

/**
 * Read the queue afresh (at start and after each reconnect: events missed meanwhile are in it).
 * One load at a time; events that arrive during a load are applied after its snapshot, in the order
 * they came, so a snapshot read before a change cannot hide the change's event.
 */
export function loadQueue() {
  if (!q.enabled) return Promise.resolve();
  if (q.loading) {
    q.again = true;
    return q.loading;
  }
  q.loading = (async () => {
    do {
      q.again = false;
      q.pending = [];
      let view;
      try {
        view = await api("GET", "/api/queue");
      } catch (err) {
        q.pending = null;
        toast(err.message);
        return;
      }
      q.threshold = view.waiting_threshold_minutes;
      q.autoAssign = view.auto_assign;
      q.waiting.clear();
      q.agents.clear();
      q.versions.clear();
      for (const w of view.waiting) {
        q.waiting.set(w.conversation.id, w.conversation);
        q.versions.set(w.conversation.id, w.conversation.version || 0);
      }
      for (const a of view.agents) q.agents.set(a.id, { ...a, open: new Set(a.open_ids) });
      $("queue-auto").checked = q.autoAssign;
      if (document.activeElement !== $("queue-threshold")) $("queue-threshold").value = String(q.threshold);
      const came = q.pending;
      q.pending = null;
      for (const apply of came) apply();
      renderQueue();
    } while (q.again);
  })().finally(() => {
    q.loading = null;
  });
  return q.loading;
}

/** Follow a conversation payload (message.created's `conversation`, conversation.updated's data). */
export function queueTrack(conv) {
  if (!q.enabled || !conv) return;
  if (q.pending) {
    q.pending.push(() => queueTrack(conv));
    return;
  }
  if ((q.versions.get(conv.id) ?? -1) > (conv.version || 0)) return;
  q.versions.set(conv.id, conv.version || 0);
  for (const agent of q.agents.values()) agent.open.delete(conv.id);
  q.waiting.delete(conv.id);
  const agent = conv.assignee_id && q.agents.get(conv.assignee_id);
  if (agent && conv.status !== "closed") agent.open.add(conv.id);
  if (conv.status === "open" && !conv.assignee_id && conv.waiting_since && !conv.snoozed_until) {
    q.waiting.set(conv.id, conv);
  }
  renderQueue();
}

export function queuePresence(data) {
  if (!q.enabled || !data) return;
  if (q.pending) {
    q.pending.push(() => queuePresence(data));
    return;
  }
  const agent = q.agents.get(data.agent_id);
  if (!agent) return;
  agent.online = data.state === "online";
  renderQueue();
}

function waitedText(ms) {
  const minutes = Math.floor(ms / 60000);
  if (minutes < 1) return t("in.under-a-minute");
  if (minutes < 60) return t("in.minutes", { m: minutes });
  return t("in.hours-minutes", { h: Math.floor(minutes / 60), m: minutes % 60 });
}

function renderQueue() {
  if (!q.enabled) return;
  const now = Date.now();
  const waiting = [...q.waiting.values()].sort((a, b) => parseTime(a.waiting_since) - parseTime(b.waiting_since));
  const late = (conv) => q.threshold > 0 && now - parseTime(conv.waiting_since) >= q.threshold * 60000;
  const lateCount = waiting.filter(late).length;
  $("queue-summary-count").textContent = lateCount
    ? t("in.waiting-late", { waiting: tn("in.waiting-n", waiting.length), late: tn("in.too-long-n", lateCount) })
    : tn("in.waiting-n", waiting.length);
  setChildren(
    $("queue-waiting"),
    waiting.length
      ? waiting.map((conv) =>
          h(
            "li",
            { class: late(conv) ? "queue-item queue-late" : "queue-item", dataset: { conversationId: conv.id } },
            h("a", { href: `#c=${conv.id}`, class: "queue-contact" }, conv.contact.name || conv.contact.phone),
            h("span", { class: "queue-wait" }, waitedText(now - parseTime(conv.waiting_since))),
            late(conv) ? h("span", { class: "queue-flag" }, t("in.waiting-too-long")) : null,
          ),
        )
      : [h("li", { class: "queue-none" }, t("in.nobody-waits"))],
  );
  renderAgents();
}

const agentRows = new Map(); // agent id -> {row, dot, state, load, input}: kept, so an input keeps its focus

function agentRow(id) {
  let r = agentRows.get(id);
  if (r) return r;
  const agent = q.agents.get(id);
  r = {
    dot: h("span", { class: "presence-dot", "aria-hidden": "true" }),
    name: h("span", { class: "queue-agent-name" }),
    state: h("span", { class: "visually-hidden" }),
    load: h("span", { class: "queue-load", title: t("in.load-title") }),
    input: h("input", {
      id: `cap-${id}`,
      class: "queue-capacity",
      type: "number",
      min: "0",
      max: "1000",
      step: "1",
      value: String(agent.capacity),
      onchange: (e) => saveCapacity(id, e.target),
    }),
  };
  r.label = h("label", { class: "visually-hidden", for: `cap-${id}` });
  r.row = h("li", { class: "queue-agent", dataset: { agentId: id } }, r.dot, r.name, r.state, r.load, r.label, r.input);
  agentRows.set(id, r);
  return r;
}

function renderAgents() {
  const list = $("queue-agents");
  for (const [id, r] of agentRows) {
    if (!q.agents.has(id)) {
      r.row.remove();
      agentRows.delete(id);
    }
  }
  const rows = [];
  for (const agent of q.agents.values()) {
    const r = agentRow(agent.id);
    r.dot.className = agent.online ? "presence-dot" : "presence-dot presence-off";
    r.name.textContent = agent.name;
    r.state.textContent = agent.online ? t("in.online") : t("in.offline");
    r.load.textContent = `${agent.open.size}/${agent.capacity}`;
    r.label.textContent = t("in.capacity-of", { name: agent.name });
    if (document.activeElement !== r.input) r.input.value = String(agent.capacity);
    rows.push(r.row);
  }
  // Re-inserted only when the order changed: moving a row would take the focus from its input.
  if (rows.length !== list.children.length || rows.some((row, i) => list.children[i] !== row)) {
    setChildren(list, rows);
  }
}

async function saveCapacity(id, input) {
  const value = Number(input.value);
  try {
    const saved = await api("PUT", `/api/agents/${encodeURIComponent(id)}/capacity`, { capacity: value });
    const agent = q.agents.get(id);
    if (agent) agent.capacity = saved.capacity;
  } catch (err) {
    toast(err.message);
    const agent = q.agents.get(id);
    if (agent) input.value = String(agent.capacity);
  }
  renderQueue();
}

async function saveSettings() {
  const body = {
    auto_assign: $("queue-auto").checked,
    waiting_threshold_minutes: Number($("queue-threshold").value || 0),
  };
  try {
    const saved = await api("PATCH", "/api/queue/settings", body);
    q.autoAssign = saved.auto_assign;
    q.threshold = saved.waiting_threshold_minutes;
  } catch (err) {
    toast(err.message);
    $("queue-auto").checked = q.autoAssign;
    $("queue-threshold").value = String(q.threshold);
  }
  renderQueue();
}

// ---------------------------------------------------------------- snooze

const snoozeFormat = new Intl.DateTimeFormat(locale(), {
  weekday: "short",
  hour: "2-digit",
  minute: "2-digit",
});

/** Wire the Snooze button and its menu; `selected()` gives the open conversation's id. */
export function initSnooze(selected) {
  const button = $("snooze-toggle");
  const menu = $("snooze-menu");
  const close = () => {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
  };
  button.addEventListener("click", () => {
    menu.hidden = !menu.hidden;
    button.setAttribute("aria-expanded", String(!menu.hidden));
    if (!menu.hidden) menu.querySelector("button:not([hidden])").focus();
  });
  menu.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      close();
      button.focus();
    }
  });
  const send = async (path, body) => {
    const id = selected();
    if (!id) return;
    close();
    try {
      await api("POST", `/api/conversations/${encodeURIComponent(id)}/${path}`, body);
    } catch (err) {
      toast(err.message);
    }
  };
  $("snooze-1h").addEventListener("click", () => send("snooze", { preset: "1h" }));
  $("snooze-tomorrow").addEventListener("click", () => send("snooze", { preset: "tomorrow" }));
  $("snooze-wake").addEventListener("click", () => send("unsnooze"));
  $("snooze-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("snooze-at").value;
    const at = value ? new Date(value) : null;
    if (!at || Number.isNaN(at.getTime())) {
      toast(t("in.choose-date-time"));
      return;
    }
    send("snooze", { until: at.toISOString() });
  });
}

/** The button's label for the open conversation: "Snooze", or when it wakes. */
export function renderSnooze(conv) {
  const button = $("snooze-toggle");
  const snoozed = Boolean(conv && conv.snoozed_until);
  button.textContent = snoozed ? t("in.snoozed-until", { when: snoozeFormat.format(new Date(conv.snoozed_until)) }) : t("in.snooze");
  button.disabled = Boolean(conv && conv.status === "closed");
  $("snooze-wake").hidden = !snoozed;
}
