/*
 * The platform operator's page: accounts, numbers, usage, unmatched texts and the audit log (each in its own
 * module). Only the operator's admins get its data; anyone else is told so by the API's 403,
 * and the page says it instead of showing empty tables.
 */
import { $, api, toast } from "/static/common.js";
import { initAccountData } from "/static/operator-account-data.js";
import { initAccounts, loadAccounts } from "/static/operator-accounts.js";
import { initAudit } from "/static/operator-audit.js";
import { initNumbers, loadNumbers } from "/static/operator-numbers.js";
import { initUnmatched, loadUnmatched } from "/static/operator-unmatched.js";
import { initUsage, loadUsage } from "/static/operator-usage.js";

function deny(err) {
  $("op-denied-reason").textContent = err && err.message ? `(${err.message})` : "";
  $("op-denied").hidden = false;
  document.body.dataset.state = "denied";
}

async function main() {
  try {
    await api("GET", "/api/me");
  } catch (err) {
    if (err.status !== 401) toast(err.message);
    return;
  }
  initAccounts();
  // A deleted account's individual numbers are released: both tables change.
  initAccountData(() => Promise.all([loadAccounts(), loadNumbers()]).catch((err) => toast(err.message)));
  initNumbers();
  initUsage(loadAccounts);
  initUnmatched((err) => toast(err.message));
  initAudit((err) => toast(err.message));
  try {
    // The accounts first: the numbers name their owners, and a 403 here means the caller is not
    // the operator's admin.
    await loadAccounts();
    await Promise.all([loadNumbers(), loadUsage(), loadUnmatched()]);
  } catch (err) {
    if (err.status === 403) {
      deny(err);
      return;
    }
    toast(err.message);
  }
  for (const section of document.querySelectorAll(".op-section, #op-jump")) section.hidden = false;
  document.body.dataset.state = "ready";
}

main();
