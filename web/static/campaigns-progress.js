/*
 * One campaign, live: its counts and progress bar (moved by `campaign.progress` events, see
 * campaigns.js), delivery and reply rates, start/pause/resume/cancel for admins, the recipients
 * page by page (GET /api/campaigns/{id}/recipients) and the CSV report.
 */
import { $, api, fullTime, h, setChildren } from "/static/common.js";
import { processed, senderExplained, senderLabel, statusPill } from "/static/campaigns-list.js";
import { reasonText } from "/static/campaigns-reasons.js";
import { formatNumber, locale, t, tn, tOr } from "/static/i18n.js";

// The texts are in web/static/i18n/<lang>-campaigns.js (keys cp.*); these are the codes they follow.
const EXCLUDED = ["opted_out", "blocked", "duplicates", "invalid"];
const RECIPIENT_STATUSES = ["queued", "sent", "delivered", "failed", "skipped"];
const HEAD = ["phone", "name", "status", "sender", "sent", "delivered", "reply"];
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

// A sentence with a time in it ("Created {time}"): the text around the <time> element as the language orders it.
function timed(key, iso) {
  const [before, after = ""] = t(key, { time: "\u0000" }).split("\u0000");
  return [before, timeNode(iso), after];
}

function scheduleLine(schedule) {
  const w = schedule.window;
  const rate = schedule.rate_per_minute;
  return t("cp.schedule-line", {
    window: w ? t("cp.window", { from: w.from, to: w.to, tz: w.tz }) : t("cp.no-window"),
    rate: rate ? t("cp.rate-at-most", { n: formatNumber(rate) }) : t("cp.rate-gateway"),
  });
}

function percent(x) {
  if (x === null || x === undefined) return "—";
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(x);
}

function cost(segments, units) {
  const text = tn("cp.segments-n", segments);
  return units === null || units === undefined ? text : t("cp.cost-line", { segments: text, units: tn("cp.units-n", units) });
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
          text: t(`cp.action.${action}`),
          onClick: () => act(action),
        }),
      );
    }
  }
  actions.push(
    h("a", { class: "btn btn-ghost", id: "campaign-report", href: `/api/campaigns/${encodeURIComponent(c.id)}/report.csv`, download: "" }, t("cp.report")),
  );
  setChildren($("progress-actions"), actions);
}

function whenLine(c) {
  const parts = [];
  if (c.created_at) parts.push(timed("cp.when-created", c.created_at));
  if (c.started_at) parts.push(", ", timed("cp.when-started-at", c.started_at));
  if (c.finished_at) parts.push(", ", timed("cp.when-finished", c.finished_at));
  if (c.status === "scheduled" && c.schedule && c.schedule.start_at) parts.push(" · ", timed("cp.when-starts", c.schedule.start_at));
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
      h("strong", { title: senderExplained(c.sender) }, t("cp.sender-line", { label: senderLabel(c.sender) })),
      " — ",
      h("span", { id: "campaign-replies", dataset: { replies: c.replies || "" } }, c.replies ? tOr(`cp.replies.${c.replies}`, "") : ""),
    ),
    whenLine(c),
    h("p", { class: "fw-meta" }, scheduleLine(schedule)),
    c.status === "waiting" && c.next_send_at
      ? h("p", { class: "cp-stale", id: "campaign-waiting" }, t("cp.waiting", { time: fullTime(c.next_send_at) }))
      : null,
    c.status === "paused" && c.paused_reason ? h("p", { class: "cp-stale", id: "campaign-paused" }, t("cp.paused-by", { reason: reasonText(c.paused_reason) })) : null,
    h(
      "div",
      { class: "cp-progress" },
      h(
        "div",
        {
          class: "cp-bar",
          id: "campaign-bar",
          role: "progressbar",
          "aria-label": t("cp.progress-label"),
          "aria-valuemin": "0",
          "aria-valuemax": String(total),
          "aria-valuenow": String(done),
        },
        h("span", { class: "cp-bar-fill", style: `width:${pct}%` }),
      ),
      h("p", { class: "fw-meta", id: "campaign-progress-text" }, t("cp.progress", { done: formatNumber(done), total: formatNumber(total), pct })),
    ),
    h(
      "ul",
      { class: "cp-counts", id: "campaign-counts" },
      COUNT_KEYS.map((key) =>
        h(
          "li",
          { class: `cp-count cp-count-${key}`, dataset: { count: key, value: String(counts[key] || 0) } },
          h("span", { class: "cp-count-value" }, formatNumber(counts[key] || 0)),
          h("span", { class: "cp-count-label" }, t(`cp.count.${key}`)),
        ),
      ),
    ),
    h(
      "div",
      { class: "cp-facts" },
      h(
        "p",
        { id: "campaign-rates" },
        h("span", null, `${t("cp.delivery-rate")}: `, h(
          "strong",
          { dataset: { rate: "delivery" } },
          // Sends with a text sender name ask for no delivery reports: nothing to rate.
          c.sender && c.sender.kind === "name" ? t("cp.no-reports") : percent(c.rates && c.rates.delivery),
        )),
        " · ",
        h("span", null, `${t("cp.reply-rate")}: `, h("strong", { dataset: { rate: "reply" } }, percent(c.rates && c.rates.reply))),
      ),
      h("p", { id: "campaign-cost" }, cost(c.segments_total || 0, c.units_total)),
      h(
        "p",
        { class: "fw-meta", id: "campaign-excluded" },
        t("cp.excluded-built", { list: EXCLUDED.map((k) => t(`cp.built.${k}`, { n: formatNumber(excluded[k] || 0) })).join(", ") }),
      ),
    ),
    h(
      "details",
      { class: "cp-text-box" },
      h("summary", null, t("cp.text-title")),
      h("div", { class: "cp-sample-text" }, c.text || ""),
      (c.media || []).length
        ? h("p", { class: "fw-help cp-small", id: "campaign-media", dataset: { files: String(c.media.length) } }, t("cp.media", { files: c.media.map((f) => `${f.filename || f.mime} (${f.mime})`).join(", ") }))
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
      h("span", { class: `cp-rstatus cp-rstatus-${r.status}` }, tOr(`cp.rstatus.${r.status}`, r.status)),
      r.reason ? h("div", { class: "cp-muted cp-small" }, reasonText(r.reason)) : null,
      r.opted_out ? h("div", { class: "cp-muted cp-small" }, t("cp.opted-out")) : null,
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
  $("recipients-page").textContent = t("cp.page", { n: state.page + 1 });
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
    h("option", { value: "" }, t("cp.filter-all")),
    RECIPIENT_STATUSES.map((value) => h("option", { value }, t(`cp.rstatus.${value}`))),
  );
  return h(
    "div",
    { class: "cp-sub" },
    h(
      "div",
      { class: "fw-card-head" },
      h("h3", null, t("cp.recipients-title")),
      h("div", { class: "fw-actions" }, h("label", { class: "visually-hidden", for: "recipients-status" }, t("cp.filter")), filter),
    ),
    h(
      "div",
      { class: "cp-table-wrap" },
      h(
        "table",
        { class: "fw-table cp-recipients" },
        h("thead", null, h("tr", null, HEAD.map((key) => h("th", null, t(`cp.head-${key}`))))),
        h("tbody", { id: "recipients" }),
      ),
    ),
    h("p", { id: "recipients-empty", class: "list-empty", hidden: true }, t("cp.no-recipients")),
    h(
      "div",
      { class: "cp-pager" },
      h("button", {
        id: "recipients-prev",
        class: "btn btn-small",
        type: "button",
        text: t("cp.previous"),
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
        text: t("cp.next"),
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
  if (action === "cancel" && !window.confirm(t("cp.confirm-cancel", { name: c.name }))) return;
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
    setChildren($("progress-body"), h("p", { class: "form-error" }, err.status === 404 ? t("cp.not-found") : err.message));
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
