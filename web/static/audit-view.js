/*
 * An audit log table, shared by the operator page (every account) and the services page (the
 * admin's own account): one row per change, newest first, with who made it and what it changed
 * written compactly (`name: Gamma → Gamma Kraków`), and an "Older" button that fetches the next
 * page by the last entry's id. Values are shown as text, never as markup.
 */
import { $, api, fullTime, h, messageTime, setChildren, toast } from "/static/common.js";
import { t } from "/static/i18n.js";

export const PAGE_SIZE = 50;
const LONG = 80;

function valueText(v) {
  if (v === null || v === undefined || v === "") return "—";
  if (Array.isArray(v)) return v.length ? v.map(valueText).join(", ") : "—";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

const clip = (text) => (text.length > LONG ? `${text.slice(0, LONG - 1)}…` : text);

/** The changed fields: `field: before → after`; a creation or deletion lists its fields' values. */
export function changeLines(before, after) {
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])];
  return keys.map((k) => {
    if (!before) return `${k}: ${clip(valueText(after[k]))}`;
    if (!after) return `${k}: ${clip(valueText(before[k]))} → ${t("audit.deleted")}`;
    return `${k}: ${clip(valueText(before[k]))} → ${clip(valueText(after[k]))}`;
  });
}

function actorText(actor) {
  if (actor.kind === "cli") return actor.name || t("audit.cli");
  const who = actor.name || actor.email || actor.id || actor.kind;
  return actor.kind === "token" ? t("audit.token", { who }) : who;
}

function entryRow(e, accountName) {
  const lines = changeLines(e.before, e.after);
  const full = JSON.stringify({ before: e.before, after: e.after });
  return h(
    "tr",
    { class: "audit-row", dataset: { id: e.id, action: e.action, accountId: e.account_id || "" } },
    h("td", { class: "audit-when", "data-label": t("audit.when"), text: messageTime(e.at), title: fullTime(e.at) }),
    h("td", { class: "audit-actor", "data-label": t("audit.who"), text: actorText(e.actor), title: e.actor.email || "" }),
    h("td", { class: "audit-action", "data-label": t("audit.action") }, h("code", { text: e.action })),
    // The id's tail tells entries apart; the whole id is in the title (and in the CSV).
    h("td", { class: "audit-target", "data-label": t("audit.target"), title: e.target_id || "", text: e.target_id ? `${e.target_type} …${e.target_id.slice(-6)}` : e.target_type }),
    h("td", { class: "audit-account", "data-label": t("audit.account"), text: accountName(e.account_id) }),
    h(
      "td",
      { class: "audit-change", "data-label": t("audit.change"), title: full },
      h("div", { class: "audit-lines" }, lines.map((line) => h("div", { class: "audit-line", text: line }))),
    ),
  );
}

/**
 * A paged audit table. `ids`: the element ids of its tbody, "Older" button and empty note;
 * `path(before)`: the API path of a page; `accountName(id)`: how to name an entry's account.
 */
export function auditView(ids, path, accountName = (id) => id || "") {
  const view = { entries: [], last: null };
  let request = 0;

  async function fetchPage(before) {
    const mine = ++request;
    const rows = await api("GET", path(before));
    if (mine !== request) return; // a newer filter's answer wins
    view.entries = before ? view.entries.concat(rows) : rows;
    view.last = rows.length ? rows[rows.length - 1].id : view.last;
    $(ids.list).dataset.query = path(null); // which filters the rows answer
    setChildren($(ids.list), view.entries.map((e) => entryRow(e, accountName)));
    $(ids.older).hidden = rows.length < PAGE_SIZE;
    $(ids.empty).hidden = view.entries.length > 0;
  }

  $(ids.older).addEventListener("click", () => fetchPage(view.last).catch((err) => toast(err.message)));
  return { reload: () => fetchPage(null) };
}

/** The query string of the filters (empty values left out), with `before` and the page size. */
export function auditQuery(filters, before, limit = PAGE_SIZE) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
  if (before) q.set("before", before);
  if (limit) q.set("limit", String(limit));
  return q.toString();
}

/** Point a "Download CSV" link at `csvPath` with the filters (every matching entry, no paging). */
export function setCsvLink(linkId, csvPath, filters) {
  $(linkId).href = `${csvPath}?${auditQuery(filters, null, 0)}`;
}

/** A date input's day as an instant: its local midnight (`nextDay`: the following midnight). */
export function dayStart(value, nextDay = false) {
  if (!value) return null;
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d + (nextDay ? 1 : 0)).toISOString();
}
