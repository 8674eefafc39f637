/*
 * The operator page's accounts: the list with each account's status and segments this month;
 * create one with its first admin; rename, suspend (with the reason the account is shown),
 * reactivate, and add an admin or agent (export and deletion: operator-account-data.js).
 */
import { $, api, h, setChildren, toast } from "/static/common.js";
import { fillAccountData, resetAccountData } from "/static/operator-account-data.js";
import { accounts, labelCells, setAccounts, showError, submitting } from "/static/operator-shared.js";
import { currentMonth, fetchUsage } from "/static/operator-usage.js";
import { t, tn } from "/static/i18n.js";

let editing = null; // the id of the account in the editor

function statusCell(a) {
  if (a.suspended) {
    return h(
      "td",
      { class: "op-status op-suspended", title: a.suspended_reason || "" },
      h("span", { class: "status-pill op-pill-suspended", text: t("op.pill-suspended") }),
      " ",
      h("span", { class: "op-reason", text: a.suspended_reason || "" }),
    );
  }
  return h("td", { class: "op-status" }, h("span", { class: "status-pill op-pill-active", text: a.operator ? t("op.pill-operator") : t("op.pill-active") }));
}

function accountRow(a, usage) {
  const used = usage ? usage.get(a.id) : undefined;
  let shown = "—";
  if (used) {
    shown = tn("op.segments", used.total_segments);
    if (used.limit_monthly_segments != null) shown += ` · ${t("op.limit-units", { n: used.limit_monthly_segments })}`;
    if (used.balance_units != null) shown += ` · ${t("op.balance-n", { n: used.balance_units })}`;
  }
  return h(
    "tr",
    { class: "account-row", dataset: { accountId: a.id, slug: a.slug, suspended: String(a.suspended) } },
    h("td", { class: "account-name", text: a.name }),
    h("td", null, h("code", { text: a.slug })),
    statusCell(a),
    h("td", { class: "account-usage", text: shown }),
    h(
      "td",
      { class: "cell-actions" },
      h("button", { class: "btn btn-ghost", type: "button", text: t("op.manage"), "aria-label": t("op.manage-name", { name: a.name }), onClick: () => openEditor(a.id) }),
    ),
  );
}

/** Reload the accounts (and this month's usage for the table); every section hears of it. */
export async function loadAccounts() {
  const [list, usage] = await Promise.all([api("GET", "/api/operator/accounts"), fetchUsage(currentMonth())]);
  const byAccount = usage ? new Map(usage.map((u) => [u.account_id, u])) : null;
  setChildren($("account-list"), list.map((a) => accountRow(a, byAccount)));
  labelCells($("account-list"));
  $("accounts-count").textContent = tn("op.accounts-n", list.length);
  setAccounts(list);
  if (editing) fillEditor();
}

function fillEditor() {
  const a = accounts.byId.get(editing);
  if (!a) {
    closeEditor();
    return;
  }
  $("account-editor-title").textContent = `${a.name} (${a.slug})`;
  $("rename-name").value = a.name;
  $("suspend-form").hidden = a.suspended;
  $("reactivate-box").hidden = !a.suspended;
  $("reactivate-reason").textContent = a.suspended ? t("op.suspended-reason", { reason: a.suspended_reason }) : "";
  $("account-editor").dataset.accountId = a.id;
  fillAccountData(a);
}

function openEditor(id) {
  editing = id;
  for (const node of ["rename-error", "suspend-error", "reactivate-error", "agent-error"]) showError($(node), null);
  $("agent-form").reset();
  $("suspend-reason").value = "";
  resetAccountData();
  fillEditor();
  $("account-editor").hidden = false;
  $("rename-name").focus();
}

function closeEditor() {
  editing = null;
  $("account-editor").hidden = true;
}

async function createAccount(event) {
  event.preventDefault();
  const body = { name: $("account-name-input").value.trim(), slug: $("account-slug").value.trim() };
  const email = $("account-admin-email").value.trim();
  if (email || $("account-admin-password").value) {
    body.admin = {
      email,
      name: $("account-admin-name").value.trim() || email,
      password: $("account-admin-password").value,
      role: "admin",
    };
  }
  const done = await submitting($("account-submit"), $("account-error"), async () => {
    const made = await api("POST", "/api/operator/accounts", body);
    $("account-form").reset();
    toast(made.admin ? t("op.account-created-admin", { slug: made.slug, email: made.admin.email }) : t("op.account-created", { slug: made.slug }), "ok");
  });
  if (done) await loadAccounts();
}

async function rename(event) {
  event.preventDefault();
  const done = await submitting($("rename-submit"), $("rename-error"), () =>
    api("PATCH", `/api/operator/accounts/${editing}`, { name: $("rename-name").value.trim() }),
  );
  if (done) await loadAccounts();
}

async function suspend(event) {
  event.preventDefault();
  const done = await submitting($("suspend-submit"), $("suspend-error"), () =>
    api("POST", `/api/operator/accounts/${editing}/suspend`, { reason: $("suspend-reason").value.trim() }),
  );
  if (done) await loadAccounts();
}

async function reactivate() {
  const done = await submitting($("reactivate-submit"), $("reactivate-error"), () =>
    api("POST", `/api/operator/accounts/${editing}/reactivate`),
  );
  if (done) await loadAccounts();
}

async function addAgent(event) {
  event.preventDefault();
  const body = {
    email: $("agent-email").value.trim(),
    name: $("agent-name-input").value.trim(),
    password: $("agent-password").value,
    role: $("agent-role").value,
  };
  await submitting($("agent-submit"), $("agent-error"), async () => {
    const agent = await api("POST", `/api/operator/accounts/${editing}/agents`, body);
    $("agent-form").reset();
    toast(t(agent.role === "admin" ? "op.admin-added" : "op.agent-added", { email: agent.email }), "ok");
  });
}

export function initAccounts() {
  $("account-form").addEventListener("submit", createAccount);
  $("rename-form").addEventListener("submit", rename);
  $("suspend-form").addEventListener("submit", suspend);
  $("reactivate-submit").addEventListener("click", reactivate);
  $("agent-form").addEventListener("submit", addAgent);
  $("account-editor-close").addEventListener("click", closeEditor);
}
