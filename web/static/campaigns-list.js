/*
 * The campaigns page's list: every campaign of the account, newest first, with its status and
 * counts. `campaign.progress` events (campaigns.js) update a row in place; a campaign the list
 * does not know yet makes it load again.
 */
import { $, api, fullTime, h, setChildren, shortTime } from "/static/common.js";
import { t, tn, tOr } from "/static/i18n.js";

const state = { campaigns: new Map(), order: [], rows: new Map(), onOpen: () => {} };

/** A campaign's status as a pill (also used by the campaign's own view). */
export function statusPill(status) {
  return h("span", { class: `cp-status cp-status-${status}`, dataset: { status } }, tOr(`cp.status.${status}`, status));
}

/** A campaign's sender in the page's language ("2WAY pool", a number as the hub labels it). */
export function senderLabel(sender) {
  if (!sender) return "";
  if (sender.kind === "2way") return t("cp.kind.2way");
  if (sender.kind === "eco") return t("cp.kind.eco");
  if (sender.kind === "name" && sender.name) return t("cp.sender-label-name", { name: sender.name });
  return sender.label || "";
}

/** What the sender's kind means, from the common dictionary's number types (a tooltip). */
export function senderExplained(sender) {
  if (!sender) return "";
  if (sender.kind === "2way") return t("numtype.2WAY");
  if (sender.kind === "eco") return t("numtype.ECO+");
  if (sender.kind === "name") return t("cp.kind.name-help");
  const type = String(sender.label || "").split(" ")[0];
  return tOr(`numtype.${type}`, "");
}

/** How far a campaign is: recipients no longer queued, of all recipients. */
export function processed(counts) {
  const c = counts || {};
  return Math.max(0, (c.recipients || 0) - (c.queued || 0));
}

function progressNumbers(counts) {
  const out = {};
  for (const key of ["queued", "sent", "delivered", "failed", "skipped"]) out[key] = counts[key] || 0;
  return out;
}

function progressCell(campaign) {
  const counts = campaign.counts || {};
  const total = counts.recipients || 0;
  const done = processed(counts);
  const pct = total ? Math.round((done / total) * 100) : 0;
  return h(
    "td",
    { class: "cp-row-progress", title: t("cp.list-progress-title", progressNumbers(counts)) },
    h("span", { class: "cp-row-count" }, t("cp.list-progress", { done, total })),
    h("span", { class: "cp-bar cp-bar-small", "aria-hidden": "true" }, h("span", { class: "cp-bar-fill", style: `width:${pct}%` })),
  );
}

function row(campaign) {
  const counts = campaign.counts || {};
  const open = () => state.onOpen(campaign.id);
  const link = h("a", { href: `#${campaign.id}`, class: "cp-row-name", "aria-label": t("cp.open", { name: campaign.name }) }, campaign.name);
  return h(
    "tr",
    { class: "cp-row", dataset: { campaignId: campaign.id, status: campaign.status }, onClick: (e) => {
      if (e.target.closest("a")) return;
      open();
    } },
    h("td", null, link),
    h("td", null, statusPill(campaign.status)),
    h("td", { class: "cp-row-sender", title: senderExplained(campaign.sender) }, senderLabel(campaign.sender)),
    progressCell(campaign),
    h("td", { class: "cp-row-replies" }, tn("cp.replies-n", counts.replied || 0)),
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
