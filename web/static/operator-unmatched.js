/*
 * The operator page's unmatched texts: messages that reached no account, newest first,
 * optionally only those to one number. Shown as text, never as markup.
 */
import { $, api, fullTime, h, messageTime, setChildren } from "/static/common.js";
import { labelCells } from "/static/operator-shared.js";
import { unmatchedReason } from "/static/unmatched-reasons.js";

function unmatchedRow(u) {
  return h(
    "tr",
    { class: "unmatched-row", dataset: { id: u.id } },
    h("td", { text: messageTime(u.received_at), title: fullTime(u.received_at) }),
    h("td", { class: "unmatched-number", text: u.number }),
    h("td", { class: "unmatched-sender", text: u.sender }),
    h("td", { class: "unmatched-text", text: u.text }),
    h("td", { class: "unmatched-reason", text: unmatchedReason(u.reason), title: u.reason }),
  );
}

export async function loadUnmatched() {
  const number = $("op-unmatched-number").value.trim();
  const query = number ? `?number=${encodeURIComponent(number)}` : "";
  const rows = await api("GET", `/api/operator/unmatched${query}`);
  setChildren($("op-unmatched-list"), rows.map(unmatchedRow));
  labelCells($("op-unmatched-list"));
  $("op-unmatched-empty").hidden = rows.length > 0;
}

export function initUnmatched(onError) {
  const reload = () => loadUnmatched().catch(onError);
  $("op-unmatched-refresh").addEventListener("click", reload);
  let timer = null;
  $("op-unmatched-number").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(reload, 300);
  });
}
