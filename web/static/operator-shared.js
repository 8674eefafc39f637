/*
 * What the operator page's sections share: the accounts they all name, and how an API refusal is
 * shown next to the form that caused it.
 */
import { ApiError } from "/static/common.js";

/** The accounts, by id; every section reads them, the accounts section reloads them. */
export const accounts = { list: [], byId: new Map() };
const listeners = [];

export function setAccounts(list) {
  accounts.list = list;
  accounts.byId = new Map(list.map((a) => [a.id, a]));
  for (const listener of listeners) listener(list);
}

/** Run `listener(list)` whenever the accounts are reloaded. */
export function onAccounts(listener) {
  listeners.push(listener);
}

/** The API's reason (and code) in the form's error box; `null` hides it. */
export function showError(node, err) {
  if (!err) {
    node.hidden = true;
    node.textContent = "";
    return;
  }
  const code = err instanceof ApiError && err.body && err.body.code ? ` (${err.body.code})` : "";
  node.textContent = `${err.message || String(err)}${code}`;
  node.hidden = false;
}

/** Run a form's request with its button disabled; the error, if any, is shown in `errorNode`. */
export async function submitting(button, errorNode, action) {
  showError(errorNode, null);
  button.disabled = true;
  try {
    await action();
    return true;
  } catch (err) {
    showError(errorNode, err);
    return false;
  } finally {
    button.disabled = false;
  }
}

/** An optional whole number from an input: null when empty. */
export function optionalInt(input) {
  const raw = input.value.trim();
  return raw === "" ? null : Number(raw);
}

/** Name each cell after its column, so a narrow screen can show the rows as labelled cards. */
export function labelCells(tbody) {
  const heads = [...tbody.closest("table").querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of tbody.rows) {
    [...row.cells].forEach((cell, i) => {
      if (heads[i]) cell.dataset.label = heads[i];
    });
  }
}
