/*
 * The operator page's audit log: every account's set-up changes, newest first, filtered by
 * account, actor, action (`keyword.*` for a whole kind) and days; "Older" pages back; the CSV link
 * downloads the same filters.
 */
import { $, h, setChildren } from "/static/common.js";
import { accounts, onAccounts } from "/static/operator-shared.js";
import { auditQuery, auditView, dayStart, setCsvLink } from "/static/audit-view.js";
import { t, tn } from "/static/i18n.js";

function filters() {
  return {
    account_id: $("audit-account").value,
    actor: $("audit-actor").value.trim(),
    action: $("audit-action").value.trim(),
    since: dayStart($("audit-since").value),
    until: dayStart($("audit-until").value, true),
  };
}

function accountName(id) {
  if (!id) return "—";
  const a = accounts.byId.get(id);
  return a ? `${a.name} (${a.slug})` : id;
}

function accountChoices() {
  const picked = $("audit-account").value;
  setChildren(
    $("audit-account"),
    h("option", { value: "", text: t("op.all-accounts") }),
    accounts.list.map((a) => h("option", { value: a.id, selected: a.id === picked, text: `${a.name} (${a.slug})` })),
  );
}

export function initAudit(onError) {
  const view = auditView(
    { list: "audit-list", older: "audit-older", empty: "audit-empty" },
    (before) => `/api/operator/audit?${auditQuery(filters(), before)}`,
    accountName,
  );
  const reload = () => {
    setCsvLink("audit-csv", "/api/operator/audit.csv", filters());
    return view.reload().catch(onError);
  };
  let timer = null;
  $("audit-filters").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(reload, 300);
  });
  $("audit-filters").addEventListener("submit", (e) => {
    e.preventDefault();
    reload();
  });
  $("audit-refresh").addEventListener("click", reload);
  // A change made on this page (accounts reload after each) is at the top at once.
  onAccounts(() => {
    accountChoices();
    reload();
  });
  return reload;
}
