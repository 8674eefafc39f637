/*
 * The operator page's usage: a month's billable totals per account (outbound SMS by segments,
 * MMS, paid forwards to phones), the month as CSV, and each account's limits: a monthly segment
 * cap, a prepaid balance, and top-ups.
 */
import { $, api, h, setChildren, toast } from "/static/common.js";
import { labelCells, optionalInt, showError, submitting } from "/static/operator-shared.js";
import { t } from "/static/i18n.js";

const state = { rows: [], editing: null, onChange: () => {} };

/** This month as YYYY-MM, in Warsaw time as the hub counts months. */
export function currentMonth() {
  const parts = new Intl.DateTimeFormat("en", { timeZone: "Europe/Warsaw", year: "numeric", month: "2-digit" }).formatToParts(new Date());
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part("year")}-${part("month")}`;
}

/** A month's usage rows, or null when this hub has no usage figures (an older hub: 404). */
export async function fetchUsage(month) {
  try {
    return await api("GET", `/api/operator/usage?month=${encodeURIComponent(month)}`);
  } catch (err) {
    if (err.status === 404 || err.status === 405) return null;
    throw err;
  }
}

const orNone = (value, none) => (value === null || value === undefined ? none : String(value));

function kinds(u) {
  const list = Object.entries(u.by_kind || {}).sort(([a], [b]) => a.localeCompare(b));
  return list.length ? list.map(([kind, n]) => `${kind} ${n}`).join(" · ") : "—";
}

function usageRow(u) {
  return h(
    "tr",
    { class: "usage-row", dataset: { accountId: u.account_id, slug: u.slug } },
    h("td", { class: "usage-account" }, h("strong", { text: u.name }), h("code", { class: "op-slug", text: u.slug })),
    h("td", { class: "usage-sms", text: String(u.sms_messages) }),
    h("td", { class: "usage-sms-segments", text: String(u.sms_segments) }),
    h("td", { class: "usage-mms", text: String(u.mms) }),
    h("td", { class: "usage-forward", text: String(u.forward_segments) }),
    h("td", { class: "usage-total" }, h("strong", { text: String(u.total_segments) })),
    h("td", { class: "usage-units", text: String(u.units) }),
    h("td", { class: "usage-kinds", text: kinds(u) }),
    h("td", { class: "usage-limit", text: orNone(u.limit_monthly_segments, t("op.none")) }),
    h("td", { class: "usage-balance", text: orNone(u.balance_units, "—") }),
    h(
      "td",
      { class: "cell-actions" },
      h("button", { class: "btn btn-ghost", type: "button", text: t("op.limits"), "aria-label": t("op.limits-of", { name: u.name }), onClick: () => openLimits(u.account_id) }),
    ),
  );
}

export async function loadUsage() {
  const month = $("usage-month").value || currentMonth();
  $("usage-csv").href = `/api/operator/usage.csv?month=${encodeURIComponent(month)}`;
  $("usage-csv").setAttribute("download", `usage-${month}.csv`);
  const rows = await fetchUsage(month);
  const missing = rows === null;
  $("usage-unavailable").hidden = !missing;
  $("usage-unavailable").textContent = missing ? t("op.usage-not-counted") : "";
  $("usage-csv").hidden = missing;
  state.rows = rows || [];
  setChildren($("usage-list"), state.rows.map(usageRow));
  labelCells($("usage-list"));
  $("usage-empty").hidden = missing || state.rows.length > 0;
  document.body.dataset.usageMonth = month;
}

function openLimits(accountId) {
  const u = state.rows.find((r) => r.account_id === accountId);
  if (!u) return;
  state.editing = accountId;
  showError($("limits-error"), null);
  showError($("topup-error"), null);
  $("limits-title").textContent = t("op.limits-of", { name: u.name });
  $("limit-segments").value = orNone(u.limit_monthly_segments, "");
  $("limit-balance").value = orNone(u.balance_units, "");
  $("topup-units").value = "";
  $("limits-form").dataset.accountId = accountId;
  $("limits-form").hidden = false;
  $("limit-segments").focus();
}

async function afterChange() {
  await loadUsage();
  await state.onChange();
}

async function saveLimits(event) {
  event.preventDefault();
  const body = { monthly_segments: optionalInt($("limit-segments")), balance_units: optionalInt($("limit-balance")) };
  const done = await submitting($("limits-submit"), $("limits-error"), () =>
    api("PATCH", `/api/operator/accounts/${state.editing}/limits`, body),
  );
  if (done) {
    toast(t("op.limits-saved"), "ok");
    await afterChange();
  }
}

async function topUp() {
  const done = await submitting($("topup-submit"), $("topup-error"), () =>
    api("POST", `/api/operator/accounts/${state.editing}/top-up`, { units: optionalInt($("topup-units")) ?? 0 }),
  );
  if (done) {
    toast(t("op.topped-up"), "ok");
    await afterChange();
    openLimits(state.editing);
  }
}

/** `onChange` runs after limits change (the accounts table shows them too). */
export function initUsage(onChange) {
  state.onChange = onChange;
  $("usage-month").value = currentMonth();
  $("usage-month").addEventListener("change", () => loadUsage().catch((err) => toast(err.message)));
  $("limits-form").addEventListener("submit", saveLimits);
  $("topup-submit").addEventListener("click", topUp);
  $("limits-close").addEventListener("click", () => {
    state.editing = null;
    $("limits-form").hidden = true;
  });
}
