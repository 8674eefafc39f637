/*
 * The campaigns page's list: every campaign of the account, newest first, with its status and
 * counts. `campaign.progress` events (campaigns.js) update a row in place; a campaign the list
 * does not know yet makes it load again.
 */
import { $, api, fullTime, h, setChildren, shortTime } from "/static/common.js";

// Every text this script puts on the page (one place, for a translation).
export const T = {
  status: {
    draft: "Draft",
    scheduled: "Scheduled",
    running: "Running",
    paused: "Paused",
    waiting: "Waiting for the sending window",
    done: "Done",
    cancelled: "Cancelled",
  },
  progress: (done, total) => `${done} of ${total}`,
  progressTitle: (c) =>
    `queued ${c.queued}, sent ${c.sent}, delivered ${c.delivered}, failed ${c.failed}, skipped ${c.skipped}`,
  replies: (n) => (n === 1 ? "1 reply" : `${n} replies`),
  open: (name) => `Open campaign ${name}`,
};

const state = { campaigns: new Map(), order: [], rows: new Map(), onOpen: () => {} };

/** A campaign's status as a pill (also used by the campaign's own view). */
export function statusPill(status) {
  return h("span", { class: `cp-status cp-status-${status}`, dataset: { status } }, T.status[status] || status);
}

/** How far a campaign is: recipients no longer queued, of all recipients. */
export function processed(counts) {
  const c = counts || {};
  return Math.max(0, (c.recipients || 0) - (c.queued || 0));
}

function progressCell(campaign) {
  const counts = campaign.counts || {};
  const total = counts.recipients || 0;
  const done = processed(counts);
  const pct = total ? Math.round((done / total) * 100) : 0;
  return h(
    "td",
    { class: "cp-row-progress", title: T.progressTitle(counts) },
    h("span", { class: "cp-row-count" }, T.progress(done, total)),
    h("span", { class: "cp-bar cp-bar-small", "aria-hidden": "true" }, h("span", { class: "cp-bar-fill", style: `width:${pct}%` })),
  );
}

function row(campaign) {
  const counts = campaign.counts || {};
  const open = () => state.onOpen(campaign.id);
  const link = h("a", { href: `#${campaign.id}`, class: "cp-row-name", "aria-label": T.open(campaign.name) }, campaign.name);
  return h(
    "tr",
    { class: "cp-row", dataset: { campaignId: campaign.id, status: campaign.status }, onClick: (e) => {
      if (e.target.closest("a")) return;
      open();
    } },
    h("td", null, link),
    h("td", null, statusPill(campaign.status)),
    h("td", { class: "cp-row-sender" }, (campaign.sender && campaign.sender.label) || ""),
    progressCell(campaign),
    h("td", { class: "cp-row-replies" }, T.replies(counts.replied || 0)),
    h("td", null, h("time", { datetime: campaign.created_at || "", title: fullTime(campaign.created_at) }, shortTime(campaign.created_at))),
  );
}

function renderRow(id) {
  const campaign = state.campaigns.get(id);
  const fresh = row(campaign);
  const old = state.rows.get(id);
  if (old && old.parentNode) old.replaceWith(fresh);
  state.rows.set(id, fresh);
  markCurrent();
}

function render() {
  state.rows.clear();
  const rows = state.order.map((id) => {
    const r = row(state.campaigns.get(id));
    state.rows.set(id, r);
    return r;
  });
  setChildren($("campaigns"), rows);
  $("campaigns-empty").hidden = rows.length > 0;
  markCurrent();
}

/** Highlight the campaign the URL opens. */
export function markCurrent() {
  const current = location.hash.slice(1);
  for (const [id, r] of state.rows) r.classList.toggle("cp-row-current", id === current);
}

export function initList({ onOpen }) {
  state.onOpen = onOpen;
}

export async function loadList() {
  const campaigns = await api("GET", "/api/campaigns");
  state.campaigns = new Map(campaigns.map((c) => [c.id, c]));
  state.order = campaigns.map((c) => c.id);
  render();
}

/** A campaign created or changed on this page (its full payload). */
export function upsertCampaign(campaign) {
  const known = state.campaigns.has(campaign.id);
  state.campaigns.set(campaign.id, campaign);
  if (!known) {
    state.order.unshift(campaign.id);
    render();
  } else {
    renderRow(campaign.id);
  }
}

/** A `campaign.progress` event; false when the campaign is not listed (load the list again). */
export function applyProgress(data) {
  const campaign = state.campaigns.get(data.campaign_id);
  if (!campaign) return false;
  state.campaigns.set(data.campaign_id, {
    ...campaign,
    status: data.status || campaign.status,
    counts: data.counts || campaign.counts,
    next_send_at: data.next_send_at === undefined ? campaign.next_send_at : data.next_send_at,
  });
  renderRow(data.campaign_id);
  return true;
}
