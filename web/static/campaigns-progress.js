/*
 * One campaign, live: its counts and progress bar (moved by `campaign.progress` events, see
 * campaigns.js), delivery and reply rates, start/pause/resume/cancel for admins, the recipients
 * page by page (GET /api/campaigns/{id}/recipients) and the CSV report.
 */
import { $, api, fullTime, h, setChildren } from "/static/common.js";
import { processed, statusPill } from "/static/campaigns-list.js";

// Every text this script puts on the page (one place, for a translation).
export const T = {
  counts: {
    recipients: "Recipients",
    queued: "Queued",
    sent: "Sent",
    delivered: "Delivered",
    failed: "Failed",
    skipped: "Skipped",
    replied: "Replied",
    opted_out: "Opted out",
  },
  replies: {
    guaranteed: "Replies come back to this campaign and recipient (2WAY pool).",
    best_effort: "Replies are matched best-effort (ECO+): some may not be tied to this campaign.",
    none: "No replies are possible (sender name).",
    number: "Replies arrive in the number's conversations in the inbox.",
  },
  sender: (label) => `Sender: ${label}`,
  created: "Created ",
  started: ", started ",
  finished: ", finished ",
  startsAt: " · starts ",
  waiting: (t) => `Outside its sending window: goes on ${t}.`,
  pausedBy: (reason) => `Paused by the hub: ${reason}`,
  window: (w) => `Sends between ${w.from} and ${w.to} (${w.tz})`,
  noWindow: "Sends at any hour",
  rate: (n) => (n ? `at most ${n} per minute` : "at the gateway's rate"),
  progress: (done, total, pct) => `${done} of ${total} processed (${pct}%)`,
  progressLabel: "Campaign progress",
  rates: "Rates",
  deliveryRate: "Delivery rate",
  replyRate: "Reply rate",
  noReports: "not reported for a sender name",
  percent: (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 1000) / 10}%`),
  excludedTitle: "Left out when the audience was built",
  excluded: { opted_out: "opted out", blocked: "blocked", duplicates: "duplicates", invalid: "invalid" },
  cost: (segments, units) => `${segments} SMS segments${units === null || units === undefined ? "" : ` · ${units} units`}`,
  textTitle: "Message",
  media: (files) => `MMS with ${files.map((f) => `${f.filename || f.mime} (${f.mime})`).join(", ")}`,
  actions: { start: "Start", pause: "Pause", resume: "Resume", cancel: "Cancel campaign" },
  confirmCancel: (name) => `Cancel the campaign “${name}”? Messages not sent yet will not be sent.`,
  report: "Export CSV report",
  recipientsTitle: "Recipients",
  filter: "Status",
  filterAll: "All",
  recipientStatus: { queued: "Queued", sent: "Sent", delivered: "Delivered", failed: "Failed", skipped: "Skipped" },
  head: ["Phone", "Name", "Status", "Sender", "Sent", "Delivered", "Reply"],
  optedOut: "opted out",
  noRecipients: "No recipients with this status.",
  page: (n) => `Page ${n}`,
  previous: "Previous",
  next: "Next",
  notFound: "This campaign does not exist (or belongs to another account).",
};

const COUNT_KEYS = ["recipients", "queued", "sent", "delivered", "failed", "skipped", "replied", "opted_out"];
const ACTIONS = {
  start: ["draft"],
  pause: ["scheduled", "running", "waiting"],
  resume: ["paused"],
  cancel: ["draft", "scheduled", "running", "waiting", "paused"],
};
const REFRESH_MS = 1000;

const state = {
  admin: false,
  campaign: null,
  pages: [null], // cursors: pages[i] is the `after` of page i
  page: 0,
  next: null,
  status: "",
  timer: null,
  lastRefresh: 0,
  token: 0,
  onChange: () => {},
};

// ---------------------------------------------------------------- summary

function timeNode(iso) {
  return h("time", { datetime: iso, title: fullTime(iso) }, fullTime(iso));
}

function renderHead() {
  const c = state.campaign;
  setChildren($("progress-title"), h("span", null, c.name), " ", statusPill(c.status));
  const actions = [];
  if (state.admin) {
    for (const [action, allowed] of Object.entries(ACTIONS)) {
      if (!allowed.includes(c.status)) continue;
      actions.push(
        h("button", {
          class: `btn ${action === "cancel" ? "btn-danger" : action === "start" ? "btn-primary" : ""}`,
          type: "button",
          id: `campaign-${action}`,
          dataset: { action },
          text: T.actions[action],
          onClick: () => act(action),
        }),
      );
    }
  }
  actions.push(
    h("a", { class: "btn btn-ghost", id: "campaign-report", href: `/api/campaigns/${encodeURIComponent(c.id)}/report.csv`, download: "" }, T.report),
  );
  setChildren($("progress-actions"), actions);
}

function whenLine(c) {
  const parts = [];
  if (c.created_at) parts.push([T.created, timeNode(c.created_at)]);
  if (c.started_at) parts.push([T.started, timeNode(c.started_at)]);
  if (c.finished_at) parts.push([T.finished, timeNode(c.finished_at)]);
  if (c.status === "scheduled" && c.schedule && c.schedule.start_at) parts.push([T.startsAt, timeNode(c.schedule.start_at)]);
  return h("p", { class: "fw-meta" }, parts);
}

function renderSummary() {
  const c = state.campaign;
  const counts = c.counts || {};
  const total = counts.recipients || 0;
  const done = processed(counts);
  const pct = total ? Math.round((done / total) * 100) : 0;
  const schedule = c.schedule || {};
  const excluded = c.excluded || {};
  setChildren(
    $("progress-summary"),
    h(
      "p",
      { class: "cp-sender-line" },
      h("strong", null, T.sender((c.sender && c.sender.label) || "")),
      " — ",
      h("span", { id: "campaign-replies", dataset: { replies: c.replies || "" } }, T.replies[c.replies] || ""),
    ),
    whenLine(c),
    h("p", { class: "fw-meta" }, `${schedule.window ? T.window(schedule.window) : T.noWindow}, ${T.rate(schedule.rate_per_minute)}.`),
    c.status === "waiting" && c.next_send_at
      ? h("p", { class: "cp-stale", id: "campaign-waiting" }, T.waiting(fullTime(c.next_send_at)))
      : null,
    c.status === "paused" && c.paused_reason ? h("p", { class: "cp-stale", id: "campaign-paused" }, T.pausedBy(c.paused_reason)) : null,
    h(
      "div",
      { class: "cp-progress" },
      h(
        "div",
        {
          class: "cp-bar",
          id: "campaign-bar",
          role: "progressbar",
          "aria-label": T.progressLabel,
          "aria-valuemin": "0",
          "aria-valuemax": String(total),
          "aria-valuenow": String(done),
        },
        h("span", { class: "cp-bar-fill", style: `width:${pct}%` }),
      ),
      h("p", { class: "fw-meta", id: "campaign-progress-text" }, T.progress(done, total, pct)),
    ),
    h(
      "ul",
      { class: "cp-counts", id: "campaign-counts" },
      COUNT_KEYS.map((key) =>
        h(
          "li",
          { class: `cp-count cp-count-${key}`, dataset: { count: key, value: String(counts[key] || 0) } },
          h("span", { class: "cp-count-value" }, String(counts[key] || 0)),
          h("span", { class: "cp-count-label" }, T.counts[key]),
        ),
      ),
    ),
    h(
      "div",
      { class: "cp-facts" },
      h(
        "p",
        { id: "campaign-rates" },
        h("span", null, `${T.deliveryRate}: `, h(
          "strong",
          { dataset: { rate: "delivery" } },
          // Sends with a text sender name ask for no delivery reports: nothing to rate.
          c.sender && c.sender.kind === "name" ? T.noReports : T.percent(c.rates && c.rates.delivery),
        )),
        " · ",
        h("span", null, `${T.replyRate}: `, h("strong", { dataset: { rate: "reply" } }, T.percent(c.rates && c.rates.reply))),
      ),
      h("p", { id: "campaign-cost" }, T.cost(c.segments_total || 0, c.units_total)),
      h(
        "p",
        { class: "fw-meta", id: "campaign-excluded" },
        `${T.excludedTitle}: `,
        Object.keys(T.excluded)
          .map((k) => `${excluded[k] || 0} ${T.excluded[k]}`)
          .join(", "),
      ),
    ),
    h(
      "details",
      { class: "cp-text-box" },
      h("summary", null, T.textTitle),
      h("div", { class: "cp-sample-text" }, c.text || ""),
      (c.media || []).length
        ? h("p", { class: "fw-help cp-small", id: "campaign-media", dataset: { files: String(c.media.length) } }, T.media(c.media))
        : null,
    ),
  );
}

function render() {
  $("progress-card").dataset.status = state.campaign.status;
  renderHead();
  renderSummary();
}

// ---------------------------------------------------------------- recipients

function recipientRow(r) {
  return h(
    "tr",
    { dataset: { phone: r.phone, status: r.status } },
    h("td", { class: "cp-nowrap" }, r.phone),
    h("td", null, r.name || ""),
    h(
      "td",
      null,
      h("span", { class: `cp-rstatus cp-rstatus-${r.status}` }, T.recipientStatus[r.status] || r.status),
      r.reason ? h("div", { class: "cp-muted cp-small" }, r.reason) : null,
      r.opted_out ? h("div", { class: "cp-muted cp-small" }, T.optedOut) : null,
    ),
    h("td", { class: "cp-nowrap" }, r.sender || ""),
    h("td", null, r.sent_at ? timeNode(r.sent_at) : ""),
    h("td", null, r.delivered_at ? timeNode(r.delivered_at) : ""),
    h("td", { class: "cp-reply" }, r.reply_text || ""),
  );
}

async function loadRecipients() {
  const c = state.campaign;
  if (!c) return;
  const token = ++state.token;
  const params = new URLSearchParams({ limit: "50" });
  if (state.status) params.set("status", state.status);
  const after = state.pages[state.page];
  if (after) params.set("after", after);
  const page = await api("GET", `/api/campaigns/${encodeURIComponent(c.id)}/recipients?${params}`);
  if (token !== state.token || !state.campaign || state.campaign.id !== c.id) return;
  state.next = page.next;
  setChildren($("recipients"), page.items.map(recipientRow));
  $("recipients-empty").hidden = page.items.length > 0;
  $("recipients-page").textContent = T.page(state.page + 1);
  $("recipients-prev").disabled = state.page === 0;
  $("recipients-next").disabled = !page.next;
}

function recipientsSection() {
  const filter = h(
    "select",
    {
      id: "recipients-status",
      onChange: (e) => {
        state.status = e.target.value;
        state.pages = [null];
        state.page = 0;
        loadRecipients().catch(() => {});
      },
    },
    h("option", { value: "" }, T.filterAll),
    Object.entries(T.recipientStatus).map(([value, label]) => h("option", { value }, label)),
  );
  return h(
    "div",
    { class: "cp-sub" },
    h(
      "div",
      { class: "fw-card-head" },
      h("h3", null, T.recipientsTitle),
      h("div", { class: "fw-actions" }, h("label", { class: "visually-hidden", for: "recipients-status" }, T.filter), filter),
    ),
    h(
      "div",
      { class: "cp-table-wrap" },
      h(
        "table",
        { class: "fw-table cp-recipients" },
        h("thead", null, h("tr", null, T.head.map((t) => h("th", null, t)))),
        h("tbody", { id: "recipients" }),
      ),
    ),
    h("p", { id: "recipients-empty", class: "list-empty", hidden: true }, T.noRecipients),
    h(
      "div",
      { class: "cp-pager" },
      h("button", {
        id: "recipients-prev",
        class: "btn btn-small",
        type: "button",
        text: T.previous,
        disabled: true,
        onClick: () => {
          if (state.page === 0) return;
          state.page -= 1;
          loadRecipients().catch(() => {});
        },
      }),
      h("span", { id: "recipients-page", class: "cp-muted" }),
      h("button", {
        id: "recipients-next",
        class: "btn btn-small",
        type: "button",
        text: T.next,
        disabled: true,
        onClick: () => {
          if (!state.next) return;
          state.pages[state.page + 1] = state.next;
          state.page += 1;
          loadRecipients().catch(() => {});
        },
      }),
    ),
  );
}

// ---------------------------------------------------------------- actions and live

async function act(action) {
  const c = state.campaign;
  if (action === "cancel" && !window.confirm(T.confirmCancel(c.name))) return;
  for (const b of document.querySelectorAll("#progress-actions button")) b.disabled = true;
  try {
    setCampaign(await api("POST", `/api/campaigns/${encodeURIComponent(c.id)}/${action}`));
  } catch (err) {
    $("progress-error").textContent = err.message;
    $("progress-error").hidden = false;
    renderHead();
    return;
  }
  $("progress-error").hidden = true;
  loadRecipients().catch(() => {});
}

function setCampaign(campaign) {
  state.campaign = campaign;
  render();
  state.onChange(campaign);
}

/** Read the campaign and its recipients page again, at most once a second (events come in bursts). */
function scheduleRefresh() {
  if (state.timer) return;
  const wait = Math.max(0, state.lastRefresh + REFRESH_MS - Date.now());
  state.timer = setTimeout(async () => {
    state.timer = null;
    state.lastRefresh = Date.now();
    const c = state.campaign;
    if (!c) return;
    try {
      const fresh = await api("GET", `/api/campaigns/${encodeURIComponent(c.id)}`);
      if (state.campaign && state.campaign.id === fresh.id) setCampaign(fresh);
      await loadRecipients();
    } catch (_) {
      /* the next event or reconnect tries again */
    }
  }, wait);
}

/**
 * The rates as the hub gives them (hub/api/campaigns.py): delivered of those the gateway took or
 * failed, replied of those sent; shown at once with an event's counts, read again just after.
 */
function ratesOf(counts) {
  const handed = counts.sent + counts.delivered + counts.failed;
  const sent = counts.sent + counts.delivered;
  return {
    delivery: handed ? counts.delivered / handed : null,
    reply: sent ? counts.replied / sent : null,
  };
}

/** A `campaign.progress` event: counts and status at once, the rest read again shortly. */
export function applyProgress(data) {
  const c = state.campaign;
  if (!c || c.id !== data.campaign_id) return;
  const counts = data.counts || c.counts;
  state.campaign = {
    ...c,
    status: data.status || c.status,
    counts,
    rates: ratesOf(counts),
    next_send_at: data.next_send_at === undefined ? c.next_send_at : data.next_send_at,
  };
  render();
  scheduleRefresh();
}

/** After a reconnect: whatever changed meanwhile. */
export function refresh() {
  if (state.campaign) scheduleRefresh();
}

export function initProgress({ admin, onChange }) {
  state.admin = admin;
  state.onChange = onChange;
}

/** Open campaign `id` (from the URL's hash). */
export async function showCampaign(id) {
  clearTimeout(state.timer);
  state.timer = null;
  state.campaign = null;
  state.pages = [null];
  state.page = 0;
  state.status = "";
  const card = $("progress-card");
  card.hidden = false;
  card.dataset.campaignId = id;
  setChildren($("progress-actions"));
  let campaign;
  try {
    campaign = await api("GET", `/api/campaigns/${encodeURIComponent(id)}`);
  } catch (err) {
    setChildren($("progress-title"));
    setChildren($("progress-body"), h("p", { class: "form-error" }, err.status === 404 ? T.notFound : err.message));
    return;
  }
  if (card.dataset.campaignId !== id) return;
  setChildren(
    $("progress-body"),
    h("p", { id: "progress-error", class: "form-error", role: "alert", hidden: true }),
    h("div", { id: "progress-summary" }),
    recipientsSection(),
  );
  state.campaign = campaign;
  render();
  await loadRecipients();
}

export function hideCampaign() {
  clearTimeout(state.timer);
  state.timer = null;
  state.campaign = null;
  $("progress-card").hidden = true;
  delete $("progress-card").dataset.campaignId;
}
