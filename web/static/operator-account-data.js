/*
 * The account editor's export and deletion: the account's data as JSON or as a zip of CSV files
 * (plain download links), and deleting the account, confirmed by typing its slug. The hub refuses
 * (409, its reason shown) until the data has been exported or when the slug does not match.
 */
import { $, api, toast } from "/static/common.js";
import { accounts, showError, submitting } from "/static/operator-shared.js";
import { t, tn } from "/static/i18n.js";

/** Point the links at the account in the editor; the operator's own account offers neither. */
export function fillAccountData(a) {
  $("export-json").href = `/api/operator/accounts/${a.id}/export?format=json`;
  $("export-csv").href = `/api/operator/accounts/${a.id}/export?format=csv`;
  $("account-data").hidden = a.operator;
  $("delete-slug").textContent = a.slug;
}

/** A newly opened editor starts with the deletion form folded. */
export function resetAccountData() {
  $("delete-form").hidden = true;
  $("delete-confirm").value = "";
  showError($("delete-error"), null);
}

async function deleteAccount(event, onDeleted) {
  event.preventDefault();
  const id = $("account-editor").dataset.accountId;
  const a = accounts.byId.get(id);
  const confirm = encodeURIComponent($("delete-confirm").value.trim());
  const done = await submitting($("delete-submit"), $("delete-error"), () =>
    api("DELETE", `/api/operator/accounts/${id}?confirm=${confirm}`),
  );
  if (done) {
    toast(t("op.account-deleted", { slug: a ? a.slug : id }), "ok");
    await onDeleted();
  }
}

export function initAccountData(onDeleted) {
  $("delete-open").addEventListener("click", () => {
    $("delete-form").hidden = false;
    $("delete-confirm").focus();
  });
  $("delete-form").addEventListener("submit", (e) => deleteAccount(e, onDeleted));
}
