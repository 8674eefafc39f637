/*
 * Bulk actions in the inbox list: a checkbox on each row (shift-click selects a range), "select
 * all" for the rows shown, and one request (POST /api/conversations/bulk) that assigns, closes,
 * reopens, labels or unlabels them. The hub changes each conversation as its own button would
 * and reports each id, so a partial failure is shown without undoing the rest.
 */
import { $, api, h, setChildren, toast } from "/static/common.js";
import { t, tn } from "/static/i18n.js";
import { allLabels, fillLabelSelect } from "/static/inbox-labels.js";

const selected = new Set();
let anchor = null; // the last row clicked without shift: where a shift-click range starts
let bridge = null;

function shownIds() {
  return [...document.querySelectorAll("#conversation-list .conv-row")].map((row) => row.dataset.conversationId);
}

function setChecked(id, on) {
  if (on) selected.add(id);
  else selected.delete(id);
  const box = document.querySelector(`#conversation-list .conv-row[data-conversation-id="${CSS.escape(id)}"] .bulk-check`);
  if (box) box.checked = on;
}

function onCheck(e, id) {
  e.stopPropagation();
  const on = e.target.checked;
  if (e.shiftKey && anchor && anchor !== id) {
    const ids = shownIds();
    const from = ids.indexOf(anchor);
    const to = ids.indexOf(id);
    if (from >= 0 && to >= 0) {
      for (const rowId of ids.slice(Math.min(from, to), Math.max(from, to) + 1)) setChecked(rowId, on);
    }
  } else {
    setChecked(id, on);
    anchor = id;
  }
  renderBar();
}

/** The checkbox at the start of a list row. */
export function bulkCheckbox(conv, label) {
  return h("input", {
    type: "checkbox",
    class: "bulk-check",
    checked: selected.has(conv.id),
    "aria-label": t("in.select-one", { name: label }),
    onclick: (e) => onCheck(e, conv.id),
    // Space and Enter on the box are its own, not the row's (which opens the conversation).
    onkeydown: (e) => e.stopPropagation(),
  });
}

/** After the list is drawn: forget rows no longer shown, update the bar. */
export function syncBulk() {
  const shown = new Set(shownIds());
  for (const id of [...selected]) if (!shown.has(id)) selected.delete(id);
  if (anchor && !shown.has(anchor)) anchor = null;
  renderBar();
}

function renderBar() {
  const all = $("bulk-all");
  if (!all) return;
  const shown = shownIds();
  const n = selected.size;
  all.checked = n > 0 && n === shown.length;
  all.indeterminate = n > 0 && n < shown.length;
  all.disabled = shown.length === 0;
  $("bulk-count").textContent = n ? tn("in.selected-n", n) : t("in.select");
  $("bulk-actions").hidden = n === 0;
}

async function run(action, extra = {}) {
  const ids = [...selected];
  if (!ids.length) return;
  const buttons = document.querySelectorAll("#bulk-actions button, #bulk-actions select");
  buttons.forEach((b) => (b.disabled = true));
  try {
    const out = await api("POST", "/api/conversations/bulk", { ids, action, ...extra });
    for (const item of out.results) {
      if (item.ok) {
        selected.delete(item.id);
        bridge.upsert(item.conversation);
      }
    }
    if (out.failed) {
      const first = out.results.find((r) => !r.ok);
      toast(t("in.bulk-failed", { failed: out.failed, total: ids.length, error: first.error }));
    } else {
      toast(tn("in.conversations-changed", out.done), "ok");
    }
  } catch (err) {
    toast(err.message);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    syncBulk();
  }
}

/** Refill the bar's label choice (after the labels change). */
export function bulkLabelsChanged() {
  const select = $("bulk-label");
  if (select) fillLabelSelect(select, t("in.label-choose"));
  const has = allLabels().length > 0;
  for (const id of ["bulk-label", "bulk-label-add", "bulk-label-remove"]) {
    const node = $(id);
    if (node) node.hidden = !has;
  }
}

/** Start the bar. `me`: /api/me (its agents fill the assign choice); `b`: the inbox bridge. */
export function initBulk(me, b) {
  bridge = b;
  const assign = $("bulk-assign");
  setChildren(
    assign,
    h("option", { value: "" }, t("in.assign-to")),
    h("option", { value: "__none__" }, t("in.unassigned")),
    (me.agents || []).map((a) => h("option", { value: a.id }, a.id === me.id ? `${a.name} (you)` : a.name)),
  );
  assign.addEventListener("change", () => {
    const value = assign.value;
    assign.value = "";
    if (value) run("assign", { agent_id: value === "__none__" ? null : value });
  });
  $("bulk-all").addEventListener("change", (e) => {
    const on = e.target.checked;
    for (const id of shownIds()) setChecked(id, on);
    anchor = null;
    renderBar();
  });
  $("bulk-close").addEventListener("click", () => run("close"));
  $("bulk-reopen").addEventListener("click", () => run("reopen"));
  const label = () => $("bulk-label").value;
  $("bulk-label-add").addEventListener("click", () => (label() ? run("label", { label_id: label() }) : toast(t("in.choose-label"))));
  $("bulk-label-remove").addEventListener("click", () => (label() ? run("unlabel", { label_id: label() }) : toast(t("in.choose-label"))));
  $("bulk-clear").addEventListener("click", () => {
    for (const id of [...selected]) setChecked(id, false);
    renderBar();
  });
  bulkLabelsChanged();
  renderBar();
}
