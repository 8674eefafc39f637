/*
 * The services page's audit log (account admins): the changes to this account's set-up, by its
 * admins or by the operator, newest first, filtered by actor, action (`keyword.*`) and days; the
 * CSV link downloads the same filters.
 */
import { $ } from "/static/common.js";
import { auditQuery, auditView, dayStart, setCsvLink } from "/static/audit-view.js";

let view = null;
let accountName = "";

function filters() {
  return {
    actor: $("audit-actor").value.trim(),
    action: $("audit-action").value.trim(),
    since: dayStart($("audit-since").value),
    until: dayStart($("audit-until").value, true),
  };
}

/** Set up the tab once; `name` is the account's name, shown in the Account column. */
export function initAudit(name, onError) {
  accountName = name;
  view = auditView(
    { list: "audit-list", older: "audit-older", empty: "audit-empty" },
    (before) => `/api/audit?${auditQuery(filters(), before)}`,
    () => accountName,
  );
  let timer = null;
  $("audit-filters").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => loadAudit().catch(onError), 300);
  });
  $("audit-filters").addEventListener("submit", (e) => e.preventDefault());
  $("audit-refresh").addEventListener("click", () => loadAudit().catch(onError));
}

export function loadAudit() {
  if (!view) return Promise.resolve();
  setCsvLink("audit-csv", "/api/audit.csv", filters());
  return view.reload();
}
